"""Every URL × every role → the status it must get (pretix's src/tests/api/test_permissions.py, for HTML and API).

Rules (SPEC section 2): outsiders get 404 (no existence leak), program members without the role 403, anonymous users
are sent to the login page (HTML) or get 401/403 (API). SCMR reviewers are outsiders to a program's training data
(program page, progress, case log: 404); they see a verification request only once it is submitted, and a program's
checklist once it is put before SCMR — never for a program they belong to or of their own institution. POSTs carry empty or minimal data: where the caller is allowed
but the data is incomplete, any of OK's codes will do; 403 and 404 are always exact.

`test_every_url_is_in_the_matrix` walks the URL resolver, so a new endpoint fails the suite until it joins the table.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from assessments.models import Competency, SignOff
from programs.models import Program
from verification.models import VerificationRequest

from .factories import (
    AttendanceFactory,
    EntryFactory,
    FeedTokenFactory,
    InvitationFactory,
    LectureFactory,
    ProgramReviewFactory,
    SessionFactory,
    UserFactory,
    VerificationRequestFactory,
)

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "trainee", "other_trainee", "mentor", "director", "outsider", "reviewer"]

LOGIN = "redirect to /accounts/login/"
OK = frozenset({200, 201, 202, 204, 302, 400})  # allowed; the minimal data may be rejected as incomplete
API_ANON = frozenset({401, 403})  # 401 with a WWW-Authenticate scheme first in line, 403 with session auth first
PUBLIC = (200,) * 7

MISSING_PK = 987_654_321


@dataclass
class World:
    users: dict[str, Any]
    program: Any
    enrollment: Any
    other_enrollment: Any
    draft: Any
    submitted: Any
    signed: Any
    vr_ready: Any
    vr_submitted: Any
    vr_failed: Any
    invitation: Any
    extra: dict = field(default_factory=dict)


def _stored_dossier(name: str) -> str:
    return default_storage.save(f"dossiers/{name}.pdf", ContentFile(b"%PDF-1.7 test"))


@pytest.fixture
def world(director, program, mentor, trainee, enrollment, other_trainee, other_enrollment, outsider, reviewer):
    now = timezone.now()
    entries = {
        status: EntryFactory(
            enrollment=enrollment, supervising_mentor=mentor, **({status: True} if status != "draft" else {})
        )
        for status in ("draft", "submitted", "signed")
    }
    vr_ready = VerificationRequestFactory(
        enrollment=enrollment, status="ready", sha256="0" * 64, dossier=_stored_dossier("ready"), ready_at=now
    )
    vr_submitted = VerificationRequestFactory(
        enrollment=enrollment,
        status="submitted",
        sha256="1" * 64,
        dossier=_stored_dossier("submitted"),
        ready_at=now,
        submitted_at=now,
    )
    vr_failed = VerificationRequestFactory(enrollment=enrollment, status="failed", failure_reason="Test failure.")
    invitation = InvitationFactory(
        program=program,
        email="newcomer@example.test",
        role="mentor",
        invited_by=director,
        expires_at=now + datetime.timedelta(days=7),
    )
    users = {
        "anonymous": None,
        "trainee": trainee,
        "other_trainee": other_trainee,
        "mentor": mentor,
        "director": director,
        "outsider": outsider,
        "reviewer": reviewer,
    }
    return World(
        users=users,
        program=program,
        enrollment=enrollment,
        other_enrollment=other_enrollment,
        draft=entries["draft"],
        submitted=entries["submitted"],
        signed=entries["signed"],
        vr_ready=vr_ready,
        vr_submitted=vr_submitted,
        vr_failed=vr_failed,
        invitation=invitation,
    )


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    args: Callable[[World], list]
    expected: tuple
    data: Callable[[World], dict] | None = None
    label: str = ""

    @property
    def is_api(self) -> bool:
        return ":" not in self.name and self.name not in HTML_WITHOUT_NAMESPACE

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.name}" + (f"[{self.label}]" if self.label else "")


HTML_WITHOUT_NAMESPACE = {"home", "healthz", "verify", "api-schema", "api-docs"}


def R(name, method, args, anon, trainee, other, mentor, director, outsider, reviewer, *, data=None, label=""):
    return Row(name, method, args, (anon, trainee, other, mentor, director, outsider, reviewer), data, label)


none = lambda w: []  # noqa: E731
program = lambda w: [w.program.pk]  # noqa: E731
enrollment = lambda w: [w.enrollment.pk]  # noqa: E731
draft = lambda w: [w.draft.pk]  # noqa: E731
submitted = lambda w: [w.submitted.pk]  # noqa: E731
signed = lambda w: [w.signed.pk]  # noqa: E731
vr_ready = lambda w: [w.vr_ready.pk]  # noqa: E731
vr_submitted = lambda w: [w.vr_submitted.pk]  # noqa: E731
vr_failed = lambda w: [w.vr_failed.pk]  # noqa: E731
missing = lambda w: [MISSING_PK]  # noqa: E731


# --- sessions, lectures, the calendar feed: objects made for the row that needs them. A row's args are built once
# per role, inside that role's savepoint, which is rolled back: each role's request finds a fresh object.
def _session(w):
    return SessionFactory(
        program=w.program,
        title="Matrix case review",
        mentor=w.users["mentor"],
        starts_at=timezone.now() + datetime.timedelta(days=1),
    )


def _attendance(w):
    return AttendanceFactory(session=_session(w), enrollment=w.enrollment)


def _lecture(w):
    return LectureFactory(program=w.program, title="Matrix lecture", topic_slug="safety", hours=1)


def _feed_token(w):
    return FeedTokenFactory(user=w.users["trainee"])


def _session_data(w):
    return {
        "program": w.program.pk,
        "type": "case_review",
        "delivery": "in_person",
        "title": "Matrix API session",
        "mentor": w.users["mentor"].pk,
        "starts_at": (timezone.now() + datetime.timedelta(days=2)).isoformat(),
        "duration_minutes": 30,
    }


session = lambda w: [_session(w).pk]  # noqa: E731
competency = lambda w: [w.enrollment.pk, "lge-viability"]  # noqa: E731


def _sign_off(w):
    sign_off = SignOff.objects.create(
        enrollment=w.enrollment,
        competency=Competency.objects.get(code="report-writing"),
        signer=w.users["director"],
        signed_on=timezone.localdate(),
        delivery="virtual",
        entrustment_level=3,
    )
    sign_off.evidence_entries.add(w.signed)
    return sign_off


sign_off = lambda w: [_sign_off(w).pk]  # noqa: E731


def _sign_off_form(w):
    return {
        "signed_on": timezone.localdate().isoformat(),
        "delivery": "virtual",
        "entrustment_level": "4",
        "evidence_entries": [str(w.signed.pk)],
    }


def _sign_off_api(w):
    return {
        "enrollment": w.enrollment.pk,
        "competency": "vascular",
        "signed_on": timezone.localdate().isoformat(),
        "delivery": "virtual",
        "entrustment_level": 4,
        "evidence_entries": [w.signed.pk],
    }


# --- program verification: program states for the rows below (made inside each role's savepoint)


def _program_with_plan(w) -> list:
    name = default_storage.save("plans/matrix-plan.pdf", ContentFile(b"%PDF-1.7 test"))
    Program.objects.filter(pk=w.program.pk).update(remote_training_plan=name, remote_training_plan_sha256="2" * 64)
    return [w.program.pk]


def _program_submitted(w, *, taken: bool = False) -> list:
    reviewer = w.users["reviewer"] if taken else None
    ProgramReviewFactory(program=w.program, submitted_by=w.program.director, status="submitted", reviewer=reviewer)
    Program.objects.filter(pk=w.program.pk).update(verification_status="submitted")
    return [w.program.pk]


program_submitted = lambda w: _program_submitted(w)  # noqa: E731
program_taken = lambda w: _program_submitted(w, taken=True)  # noqa: E731


# fmt: off
MATRIX = [
    # name                          method  args          anon      trainee other  mentor director outsider reviewer
    # --- public pages
    R("home",                       "get",  none,         200,      200,    200,   200,   200,     200,     200),
    R("healthz",                    "get",  none,         *PUBLIC),
    R("verify",                     "get",  lambda w: [w.vr_submitted.code], *PUBLIC),
    R("api-schema",                 "get",  none,         *PUBLIC),
    R("api-docs",                   "get",  none,         *PUBLIC),
    # --- accounts (allauth's own pages under accounts/ are not ours to test)
    R("accounts:api_token",         "get",  none,         LOGIN,    200,    200,   200,   200,     200,     200),
    R("accounts:api_token",         "post", none,         LOGIN,    302,    302,   302,   302,     302,     302),
    R("accounts:credentials",       "get",  none,         LOGIN,    200,    200,   200,   200,     200,     200),
    R("accounts:credentials",       "post", none,         LOGIN,    400,    400,   400,   400,     400,     400),
    # --- programs
    R("programs:list",              "get",  none,         LOGIN,    200,    200,   200,   200,     200,     200),
    # Only directors (or users the staff granted programs.add_program) start programs; never reviewers.
    R("programs:create",            "get",  none,         LOGIN,    403,    403,   403,   200,     200,     403),
    R("programs:create",            "post", none,         LOGIN,    403,    403,   403,   OK,      OK,      403),
    R("programs:detail",            "get",  program,      LOGIN,    200,    200,   200,   200,     404,     404),
    R("programs:detail",            "get",  missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    # The progress dashboard: the director and mentors (their own trainees). Trainees are members without the role
    # (403); reviewers are outsiders to training data (404).
    R("programs:dashboard",         "get",  program,      LOGIN,    403,    403,   200,   200,     404,     404),
    R("programs:dashboard",         "get",  program,      LOGIN,    403,    403,   200,   200,     404,     404,
      data=lambda w: {"format": "csv"}, label="csv"),
    R("programs:dashboard",         "get",  missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    R("programs:invitation_create", "post", program,      LOGIN,    403,    403,   403,   OK,      404,     404),
    R("programs:assign_mentor",     "post", lambda w: [w.program.pk, w.other_enrollment.pk],
                                                          LOGIN,    403,    403,   403,   OK,      404,     404),
    # The invitation link is the credential: anyone holding it may open it. Signed in as someone else → 400.
    R("programs:invitation_accept", "get",  lambda w: [w.invitation.token], *PUBLIC),
    R("programs:invitation_accept", "post", lambda w: [w.invitation.token],
                                                          200,      400,    400,   400,   400,     400,     400),
    R("programs:invitation_accept", "get",  lambda w: ["no-such-token"],
                                                          404,      404,    404,   404,   404,     404,     404, label="bad token"),
    # --- enrollments
    R("trainees:progress",          "get",  enrollment,   LOGIN,    200,    403,   200,   200,     404,     404),
    R("trainees:progress",          "get",  missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    # the mentor's judgements: the trainee's virtual share, prior experience (mentor and director; 400 = refused data)
    R("trainees:virtual_share",     "post", enrollment,   LOGIN,    403,    403,   302,   302,     404,     404),
    R("trainees:virtual_share",     "get",  enrollment,   LOGIN,    405,    405,   405,   405,     405,     405),
    R("trainees:virtual_share",     "post", missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    R("trainees:prior_experience",  "post", enrollment,   LOGIN,    403,    403,   400,   400,     404,     404),
    R("trainees:prior_experience",  "post", missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    # competency sign-offs: the trainee reads, their mentor and the director sign off (400 = refused data)
    R("trainees:competencies",      "get",  enrollment,   LOGIN,    200,    403,   200,   200,     404,     404),
    R("trainees:competencies",      "get",  missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    R("trainees:sign_off",          "get",  competency,   LOGIN,    200,    403,   200,   200,     404,     404),
    R("trainees:sign_off",          "post", competency,   LOGIN,    403,    403,   400,   400,     404,     404),
    R("trainees:sign_off",          "post", competency,   LOGIN,    403,    403,   302,   302,     404,     404,
      data=_sign_off_form, label="valid"),
    R("trainees:sign_off",          "get",  lambda w: [w.enrollment.pk, "telepathy"],
                                                          LOGIN,    404,    403,   404,   404,     404,     404, label="unknown competency"),
    R("trainees:sign_off",          "get",  lambda w: [MISSING_PK, "lge-viability"],
                                                          LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    # --- case log (entries of `trainee`, supervised by `mentor`)
    R("cases:list",                 "get",  none,         LOGIN,    200,    200,   200,   200,     200,     200),
    R("cases:create",               "get",  none,         LOGIN,    200,    200,   403,   403,     403,     403),
    R("cases:create",               "post", none,         LOGIN,    OK,     OK,    403,   403,     403,     403),
    R("cases:inbox",                "get",  none,         LOGIN,    200,    200,   200,   200,     200,     200),
    R("cases:detail",               "get",  draft,        LOGIN,    200,    403,   200,   200,     404,     404, label="draft"),
    R("cases:detail",               "get",  signed,       LOGIN,    200,    403,   200,   200,     404,     404, label="signed"),
    R("cases:detail",               "get",  missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    R("cases:edit",                 "get",  draft,        LOGIN,    200,    403,   403,   403,     404,     404, label="draft"),
    R("cases:edit",                 "post", draft,        LOGIN,    OK,     403,   403,   403,     404,     404, label="draft"),
    R("cases:edit",                 "get",  submitted,    LOGIN,    403,    403,   403,   403,     404,     404, label="submitted"),
    R("cases:edit",                 "get",  signed,       LOGIN,    403,    403,   403,   403,     404,     404, label="signed"),
    R("cases:edit",                 "post", signed,       LOGIN,    403,    403,   403,   403,     404,     404, label="signed"),
    R("cases:submit",               "post", draft,        LOGIN,    302,    403,   403,   403,     404,     404, label="draft"),
    R("cases:submit",               "post", signed,       LOGIN,    403,    403,   403,   403,     404,     404, label="signed"),
    R("cases:review",               "get",  submitted,    LOGIN,    403,    403,   200,   403,     404,     404, label="submitted"),
    R("cases:review",               "post", submitted,    LOGIN,    403,    403,   OK,    403,     404,     404, label="submitted"),
    R("cases:review",               "get",  draft,        LOGIN,    403,    403,   403,   403,     404,     404, label="draft"),
    R("cases:review",               "get",  signed,       LOGIN,    403,    403,   403,   403,     404,     404, label="signed"),
    # Amendments of signed entries: the trainee or their mentor; the director and the reviewer have no role on entries.
    R("cases:amend",                "get",  signed,       LOGIN,    200,    403,   200,   403,     404,     404, label="signed"),
    R("cases:amend",                "post", signed,       LOGIN,    OK,     403,   OK,    403,     404,     404, label="signed"),
    R("cases:amend",                "get",  draft,        LOGIN,    403,    403,   403,   403,     404,     404, label="draft"),
    # Batch signing takes only entries from the user's own inbox; the empty selection is refused (400) for everyone.
    R("cases:sign_batch",           "post", none,         LOGIN,    400,    400,   400,   400,     400,     400),
    R("cases:group_review_create",  "get",  none,         LOGIN,    403,    403,   200,   403,     403,     403),
    R("cases:group_review_create",  "post", none,         LOGIN,    403,    403,   OK,    403,     403,     403),
    # --- case-log import/export
    # A trainee's own log only (other_trainee has one too); users who are not trainees have no log to move → 403.
    R("cases_io:export_csv",        "get",  none,         LOGIN,    200,    200,   403,   403,     403,     403),
    R("cases_io:export_json",       "get",  none,         LOGIN,    200,    200,   403,   403,     403,     403),
    R("cases_io:import",            "get",  none,         LOGIN,    200,    200,   403,   403,     403,     403),
    R("cases_io:import",            "post", none,         LOGIN,    OK,     OK,    403,   403,     403,     403),
    R("cases_io:import_template",   "get",  none,         LOGIN,    200,    200,   403,   403,     403,     403),
    # --- verification dossiers (a mentor is a member of the program without a role on dossiers → 403)
    R("dossiers:create",         "post", enrollment,   LOGIN,    403,    403,   403,   302,     404,     404),
    R("dossiers:for_enrollment",    "get",  enrollment,   LOGIN,    200,    403,   403,   200,     404,     404),
    R("dossiers:determination",     "get",  enrollment,   LOGIN,    403,    403,   403,   200,     404,     404),
    R("dossiers:determination",     "post", enrollment,   LOGIN,    403,    403,   403,   400,     404,     404),
    R("dossiers:queue",          "get",  none,         LOGIN,    403,    403,   403,   403,     403,     200),
    R("dossiers:detail",         "get",  vr_ready,     LOGIN,    200,    403,   403,   200,     404,     404, label="ready"),
    R("dossiers:detail",         "get",  vr_submitted, LOGIN,    200,    403,   403,   200,     404,     200, label="submitted"),
    R("dossiers:detail",         "get",  missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    R("dossiers:status",         "get",  vr_ready,     LOGIN,    200,    403,   403,   200,     404,     404, label="ready"),
    R("dossiers:status",         "get",  vr_submitted, LOGIN,    200,    403,   403,   200,     404,     200, label="submitted"),
    R("dossiers:download",       "get",  vr_ready,     LOGIN,    200,    403,   403,   200,     404,     404, label="ready"),
    R("dossiers:download",       "get",  vr_submitted, LOGIN,    200,    403,   403,   200,     404,     200, label="submitted"),
    R("dossiers:download",       "get",  vr_failed,    LOGIN,    403,    403,   403,   403,     404,     404, label="failed"),
    R("dossiers:download_json",  "get",  vr_submitted, LOGIN,    200,    403,   403,   200,     404,     200, label="submitted"),
    R("dossiers:download_json",  "get",  vr_failed,    LOGIN,    403,    403,   403,   403,     404,     404, label="failed"),
    R("dossiers:download_csv",   "get",  vr_submitted, LOGIN,    200,    403,   403,   200,     404,     200, label="submitted"),
    R("dossiers:download_csv",   "get",  vr_failed,    LOGIN,    403,    403,   403,   403,     404,     404, label="failed"),
    R("dossiers:submit",         "post", vr_ready,     LOGIN,    403,    403,   403,   302,     404,     404, label="ready"),
    R("dossiers:submit",         "get",  vr_ready,     LOGIN,    403,    403,   403,   200,     404,     404, label="ready"),
    R("dossiers:submit",         "post", vr_submitted, LOGIN,    403,    403,   403,   403,     404,     403, label="submitted"),
    R("dossiers:retry",          "post", vr_failed,    LOGIN,    403,    403,   403,   302,     404,     404, label="failed"),
    R("dossiers:retry",          "post", vr_ready,     LOGIN,    403,    403,   403,   403,     404,     404, label="ready"),
    R("dossiers:decide",         "post", vr_submitted, LOGIN,    403,    403,   403,   403,     404,     OK,  label="submitted"),
    R("dossiers:decide",         "post", vr_ready,     LOGIN,    403,    403,   403,   403,     404,     404, label="ready"),
    # Taking a submitted dossier, and the reviewers' notes: SCMR reviewers only; the trainee and the director see the
    # dossier but never the notes (403), a mentor has no role on dossiers (403). Before submission a reviewer is an
    # outsider (404). Notes: tests/verification/test_reviewer_portal.py.
    R("dossiers:take",           "post", vr_submitted, LOGIN,    403,    403,   403,   403,     404,     302, label="submitted"),
    R("dossiers:take",           "post", vr_ready,     LOGIN,    403,    403,   403,   403,     404,     404, label="ready"),
    R("dossiers:note_add",       "post", vr_submitted, LOGIN,    403,    403,   403,   403,     404,     302, label="submitted",
      data=lambda w: {"text": "Case log sample agrees with the mentor's reads."}),
    R("dossiers:note_add",       "post", vr_submitted, LOGIN,    403,    403,   403,   403,     404,     400, label="empty"),
    R("dossiers:note_add",       "post", vr_ready,     LOGIN,    403,    403,   403,   403,     404,     404, label="ready"),
    # Revoking is a reviewer's, on a verified dossier only (tests/verification/test_gate.py revokes one).
    R("dossiers:revoke",         "post", vr_submitted, LOGIN,    403,    403,   403,   403,     404,     403, label="submitted"),
    # --- API
    R("api-root",                   "get",  none,         API_ANON, 200,    200,   200,   200,     200,     200),
    R("program-list",               "get",  none,         API_ANON, 200,    200,   200,   200,     200,     200),
    R("program-list",               "post", none,         API_ANON, 400,    400,   400,   400,     400,     400),
    R("program-detail",             "get",  program,      API_ANON, 200,    200,   200,   200,     404,     404),
    R("program-detail",             "get",  missing,      API_ANON, 404,    404,   404,   404,     404,     404, label="missing"),
    R("program-detail",             "get",  program_submitted, API_ANON, 200, 200,   200,   200,     404,     200, label="submitted"),
    R("enrollment-list",            "get",  none,         API_ANON, 200,    200,   200,   200,     200,     200),
    R("enrollment-detail",          "get",  enrollment,   API_ANON, 200,    403,   200,   200,     404,     404),
    R("enrollment-progress",        "get",  enrollment,   API_ANON, 200,    403,   200,   200,     404,     404),
    R("enrollment-progress",        "get",  missing,      API_ANON, 404,    404,   404,   404,     404,     404, label="missing"),
    R("case-log-list",              "get",  none,         API_ANON, 200,    200,   200,   200,     200,     200),
    R("case-log-list",              "post", none,         API_ANON, 400,    400,   403,   403,     403,     403),
    R("case-log-detail",            "get",  draft,        API_ANON, 200,    403,   200,   200,     404,     404, label="draft"),
    R("case-log-detail",            "get",  signed,       API_ANON, 200,    403,   200,   200,     404,     404, label="signed"),
    R("case-log-detail",            "get",  missing,      API_ANON, 404,    404,   404,   404,     404,     404, label="missing"),
    R("case-log-detail",            "put",  draft,        API_ANON, 400,    403,   403,   403,     404,     404, label="draft"),
    R("case-log-detail",            "patch", draft,       API_ANON, 200,    403,   403,   403,     404,     404, label="draft"),
    R("case-log-detail",            "put",  signed,       API_ANON, 403,    403,   403,   403,     404,     404, label="signed"),
    R("case-log-detail",            "patch", signed,      API_ANON, 403,    403,   403,   403,     404,     404, label="signed"),
    R("case-log-detail",            "patch", submitted,   API_ANON, 403,    403,   403,   403,     404,     404, label="submitted"),
    R("case-log-submit",            "post", draft,        API_ANON, 200,    403,   403,   403,     404,     404, label="draft"),
    R("case-log-submit",            "post", signed,       API_ANON, 403,    403,   403,   403,     404,     404, label="signed"),
    R("case-log-sign",              "post", submitted,    API_ANON, 403,    403,   400,   403,     404,     404, label="submitted"),
    R("case-log-sign",              "post", draft,        API_ANON, 403,    403,   403,   403,     404,     404, label="draft"),
    R("case-log-sign",              "post", signed,       API_ANON, 403,    403,   403,   403,     404,     404, label="signed"),
    R("case-log-return-entry",      "post", submitted,    API_ANON, 403,    403,   400,   403,     404,     404, label="submitted"),
    R("case-log-return-entry",      "post", signed,       API_ANON, 403,    403,   403,   403,     404,     404, label="signed"),
    R("case-log-amend",             "post", signed,       API_ANON, 400,    403,   400,   403,     404,     404, label="signed"),
    R("case-log-amend",             "post", draft,        API_ANON, 403,    403,   403,   403,     404,     404, label="draft"),
    R("case-log-mentor-read",       "post", submitted,    API_ANON, 403,    403,   400,   403,     404,     404, label="submitted"),
    R("case-log-mentor-read",       "post", signed,       API_ANON, 403,    403,   403,   403,     404,     404, label="signed"),
    # Batch signing takes ids from the user's own inbox only; the empty request is refused as incomplete.
    R("case-log-sign-batch",        "post", none,         API_ANON, 400,    400,   400,   400,     400,     400),
    R("verification-request-list",  "get",  none,         API_ANON, 200,    200,   200,   200,     200,     200),
    R("verification-request-list",  "post", none,         API_ANON, 403,    403,   403,   202,     404,     404,
      data=lambda w: {"enrollment": w.enrollment.pk}),
    R("verification-request-detail", "get", vr_ready,     API_ANON, 200,    403,   403,   200,     404,     404, label="ready"),
    R("verification-request-detail", "get", vr_submitted, API_ANON, 200,    403,   403,   200,     404,     200, label="submitted"),
    R("verification-request-detail", "get", missing,      API_ANON, 404,    404,   404,   404,     404,     404, label="missing"),
    R("verification-request-dossier", "get", vr_ready,    API_ANON, 200,    403,   403,   200,     404,     404, label="ready"),
    R("verification-request-dossier", "get", vr_submitted, API_ANON, 200,   403,   403,   200,     404,     200, label="submitted"),
    R("verification-request-dossier", "get", vr_failed,   API_ANON, 403,    403,   403,   403,     404,     404, label="failed"),
    # The director may submit; the gate refuses (400) because the cast's trainee is not complete
    # (tests/verification/test_gate.py submits a complete one).
    R("verification-request-submit", "post", vr_ready,    API_ANON, 403,    403,   403,   400,     404,     404, label="ready"),
    R("verification-request-submit", "post", vr_submitted, API_ANON, 403,   403,   403,   403,     404,     403, label="submitted"),
    R("verification-request-take", "post", vr_submitted,  API_ANON, 403,   403,   403,   403,     404,     200, label="submitted"),
    R("verification-request-take", "post", vr_ready,      API_ANON, 403,   403,   403,   403,     404,     404, label="ready"),
    R("verification-request-notes", "get", vr_submitted,  API_ANON, 403,   403,   403,   403,     404,     200, label="submitted"),
    R("verification-request-notes", "get", vr_ready,      API_ANON, 403,   403,   403,   403,     404,     404, label="ready"),
    R("verification-request-notes", "get", missing,       API_ANON, 404,   404,   404,   404,     404,     404, label="missing"),
    R("verification-request-notes", "post", vr_submitted, API_ANON, 403,   403,   403,   403,     404,     201, label="submitted",
      data=lambda w: {"text": "Sampled entries agree with the mentor's reads."}),
    R("verification-request-notes", "post", vr_submitted, API_ANON, 403,   403,   403,   403,     404,     400, label="empty"),
    R("verification-request-decide", "post", vr_submitted, API_ANON, 403,   403,   403,   403,     404,     400, label="submitted"),
    R("verification-request-decide", "post", vr_ready,    API_ANON, 403,    403,   403,   403,     404,     404, label="ready"),
    # --- sessions: program members only (reviewers are outsiders to training sessions); leading a session
    # is for its mentor and the director, signing up for trainees.
    R("sessions:list",              "get",  program,      LOGIN,    200,    200,   200,   200,     404,     404),
    R("sessions:create",            "get",  program,      LOGIN,    403,    403,   200,   200,     404,     404),
    R("sessions:create",            "post", program,      LOGIN,    403,    403,   OK,    OK,      404,     404),
    R("sessions:detail",            "get",  session,      LOGIN,    200,    200,   200,   200,     404,     404),
    R("sessions:detail",            "get",  missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    R("sessions:attend",            "post", session,      LOGIN,    302,    302,   403,   403,     404,     404),
    R("sessions:add_attendee",      "post", session,      LOGIN,    403,    403,   400,   400,     404,     404),
    R("sessions:console",           "post", session,      LOGIN,    403,    403,   302,   302,     404,     404),
    R("sessions:attendance_record", "post", lambda w: [_attendance(w).pk],
                                                          LOGIN,    403,    403,   302,   302,     404,     404),
    R("sessions:lectures",          "get",  program,      LOGIN,    200,    200,   200,   200,     404,     404),
    R("sessions:lectures",          "post", program,      LOGIN,    403,    403,   403,   OK,      404,     404),
    R("sessions:lecture_done",      "post", lambda w: [_lecture(w).pk],
                                                          LOGIN,    302,    302,   403,   403,     404,     404),
    R("sessions:calendar",          "get",  none,         LOGIN,    200,    200,   200,   200,     200,     200),
    R("sessions:calendar",          "post", none,         LOGIN,    302,    302,   302,   302,     302,     302),
    # The feed address is the credential (calendar apps cannot sign in); unknown or revoked tokens are 404.
    R("sessions:feed",              "get",  lambda w: [_feed_token(w).token], *PUBLIC),
    R("sessions:feed",              "get",  lambda w: ["no-such-token"],
                                                          404,      404,    404,   404,   404,     404,     404, label="bad token"),
    R("session-list",               "get",  none,         API_ANON, 200,    200,   200,   200,     200,     200),
    R("session-list",               "post", none,         API_ANON, 400,    400,   400,   400,     400,     400),
    R("session-list",               "post", none,         API_ANON, 403,    403,   201,   201,     404,     404,
      data=_session_data, label="valid"),
    R("session-detail",             "get",  session,      API_ANON, 200,    200,   200,   200,     404,     404),
    R("session-detail",             "get",  missing,      API_ANON, 404,    404,   404,   404,     404,     404, label="missing"),
    R("session-attend",             "post", session,      API_ANON, 200,    200,   403,   403,     404,     404),
    # --- competency sign-offs (lists are scoped: outsiders and reviewers get an empty list)
    R("sign-off-list",              "get",  none,         API_ANON, 200,    200,   200,   200,     200,     200),
    R("sign-off-list",              "post", none,         API_ANON, 400,    400,   400,   400,     400,     400),
    R("sign-off-list",              "post", none,         API_ANON, 403,    403,   201,   201,     404,     404,
      data=_sign_off_api, label="valid"),
    R("sign-off-framework",         "get",  none,         API_ANON, 200,    200,   200,   200,     200,     200),
    R("sign-off-detail",            "get",  sign_off,     API_ANON, 200,    403,   200,   200,     404,     404),
    R("sign-off-detail",            "get",  missing,      API_ANON, 404,    404,   404,   404,     404,     404, label="missing"),
    R("sign-off-amend",             "post", sign_off,     API_ANON, 403,    403,   400,   400,     404,     404),
    # --- program verification
    # The profile and submission are the director's; the review pages are for SCMR reviewers without a conflict of
    # interest (same-institution reviewers: tests/programs/test_program_verification.py). Refused steps (a draft has
    # nothing to take) come back as a message and a redirect (HTML) or 400 (API). A draft is the director's own
    # business: reviewers see a program only once it is submitted (404 before).
    R("verification:queue",         "get",  none,         LOGIN,    403,    403,   403,   403,     403,     200),
    R("verification:profile",       "get",  program,      LOGIN,    403,    403,   403,   200,     404,     404),
    R("verification:profile",       "get",  missing,      LOGIN,    404,    404,   404,   404,     404,     404, label="missing"),
    R("verification:profile",       "post", program,      LOGIN,    403,    403,   403,   OK,      404,     404),
    R("verification:submit",        "post", program,      LOGIN,    403,    403,   403,   302,     404,     404),
    R("verification:plan",          "get",  _program_with_plan, LOGIN, 403, 403,   403,   200,     404,     404, label="plan"),
    R("verification:plan",          "get",  program,      LOGIN,    403,    403,   403,   404,     404,     404, label="no plan"),
    R("verification:review",        "get",  program,      LOGIN,    403,    403,   403,   403,     404,     404),
    R("verification:review",        "get",  program_taken, LOGIN,   403,    403,   403,   403,     404,     200, label="taken"),
    R("verification:take",          "post", program,      LOGIN,    403,    403,   403,   403,     404,     404, label="draft"),
    R("verification:take",          "post", program_submitted, LOGIN, 403,  403,   403,   403,     404,     302, label="submitted"),
    R("verification:decide",        "post", program,      LOGIN,    403,    403,   403,   403,     404,     404, label="draft"),
    R("verification:decide",        "post", program_taken, LOGIN,   403,    403,   403,   403,     404,     302, label="taken",
      data=lambda w: {"decision": "changes_requested", "comment": "Describe the display."}),
    R("program-checklist",          "get",  program,      API_ANON, 403,    403,   403,   200,     404,     404),
    R("program-checklist",          "get",  program_submitted, API_ANON, 403, 403, 403,   200,     404,     200, label="submitted"),
    R("program-checklist",          "get",  missing,      API_ANON, 404,    404,   404,   404,     404,     404, label="missing"),
    R("program-submit",             "post", program,      API_ANON, 403,    403,   403,   400,     404,     404),
    R("program-take",               "post", program,      API_ANON, 403,    403,   403,   403,     404,     404, label="draft"),
    R("program-take",               "post", program_submitted, API_ANON, 403, 403, 403,   403,     404,     200, label="submitted"),
    R("program-request-changes",    "post", program,      API_ANON, 403,    403,   403,   403,     404,     404, label="draft"),
    R("program-request-changes",    "post", program_taken, API_ANON, 403,   403,   403,   403,     404,     200, label="taken",
      data=lambda w: {"comment": "Describe the display."}),
    # The cast's program has unmet checklist lines: verifying it is refused (400), not forbidden.
    R("program-verify",             "post", program_taken, API_ANON, 403,   403,   403,   403,     404,     400, label="taken"),
    R("program-decline",            "post", program_taken, API_ANON, 403,   403,   403,   403,     404,     200, label="taken",
      data=lambda w: {"comment": "No on-site track record."}),
]
# fmt: on


@pytest.fixture(scope="module")
def shared_client():
    # Building a client loads the middleware, and WhiteNoise scans the static files then: ~0.1 s. Build it once.
    return APIClient()


def _request(client: APIClient, row: Row, world: World, role: str):
    client.cookies.clear()
    user = world.users[role]
    if user is not None:
        client.force_login(user)
    url = reverse(row.name, args=row.args(world))
    data = row.data(world) if row.data else {}
    if row.is_api:
        response = getattr(client, row.method)(url, data, format="json")
    else:
        response = getattr(client, row.method)(url, data)
    if response.streaming:
        # Read file responses to the end: that closes the dossier file. (Never call response.close() here: it
        # sends request_finished, which closes the database connection inside the test transaction.)
        b"".join(response.streaming_content)
    return response


def _mismatch(expected, response) -> str | None:
    status = response.status_code
    if expected == LOGIN:
        if status == 302 and response["Location"].startswith("/accounts/login/"):
            return None
        return f"{status} {response.get('Location', '')}".strip()
    if isinstance(expected, frozenset):
        return None if status in expected else str(status)
    return None if status == expected else str(status)


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in MATRIX])
def test_permission(row: Row, world: World, shared_client: APIClient):
    # One world per row; each role's request runs in a savepoint that is rolled back, so an allowed POST (a submit,
    # a sign-off) cannot change what the next role sees. One world per (row, role) would be ~7x slower.
    wrong = {}
    for role, expected in zip(ROLES, row.expected, strict=True):
        with transaction.atomic():
            problem = _mismatch(expected, _request(shared_client, row, world, role))
            transaction.set_rollback(True)
        if problem:
            wrong[role] = f"got {problem}, expected {_describe(expected)}"
    assert not wrong, f"{row.id}: {wrong}"


def _describe(expected) -> str:
    if isinstance(expected, frozenset):
        return "one of " + "/".join(str(code) for code in sorted(expected))
    return str(expected)


def test_reviewer_never_sees_a_dossier_of_their_own_institution(world: World):
    """Conflict of interest (SPEC section 2): a reviewer from the program's institution is an outsider to its dossiers."""
    conflicted = UserFactory(institution=world.program.institution.upper(), is_reviewer=True)
    from allauth.mfa.totp.internal.auth import TOTP

    from .conftest import TOTP_SECRET

    TOTP.activate(conflicted, TOTP_SECRET)
    client = APIClient()
    client.force_login(conflicted)
    pk = world.vr_submitted.pk
    assert client.get(reverse("dossiers:detail", args=[pk])).status_code == 404
    assert client.get(reverse("dossiers:download", args=[pk])).status_code == 404
    assert client.post(reverse("dossiers:decide", args=[pk]), {"decision": "verified"}).status_code == 404
    assert client.get(reverse("verification-request-detail", args=[pk])).status_code == 404
    assert client.get(reverse("verification-request-dossier", args=[pk])).status_code == 404
    assert client.post(reverse("verification-request-decide", args=[pk]), {"verified": True}).status_code == 404
    listed = client.get(reverse("verification-request-list")).json()["results"]
    assert pk not in [item["id"] for item in listed]
    assert world.vr_submitted.code not in client.get(reverse("dossiers:queue")).content.decode()
    world.vr_submitted.refresh_from_db()
    assert world.vr_submitted.status == VerificationRequest.Status.SUBMITTED


# --- every endpoint must be in the matrix

EXCLUDED_PREFIXES = ("admin/", "accounts/", "static/", "media/", "__debug__/")


def _walk(patterns, prefix: str = "", namespace: str = ""):
    """Yield (route, qualified name, DRF method→action map or None) for every URL pattern under the root."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            ns = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from _walk(pattern.url_patterns, route, ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield route, name, getattr(pattern.callback, "actions", None)


def test_every_url_is_in_the_matrix():
    covered = {row.name for row in MATRIX}
    covered_methods = {(row.name, row.method) for row in MATRIX}
    missing_urls, missing_methods = [], []
    for route, name, actions in _walk(get_resolver().url_patterns):
        if route.startswith(EXCLUDED_PREFIXES):
            continue
        if name is None or name not in covered:
            missing_urls.append(f"{route} ({name})")
            continue
        # Viewset routes: every HTTP method the router maps (list + create, retrieve + update, each @action).
        # DRF adds HEAD (= GET) to the map once a view has been called.
        methods = set(actions or {}) - {"head", "options"}
        missing_methods += [f"{m.upper()} {name}" for m in sorted(methods) if (name, m) not in covered_methods]
    assert not missing_urls, f"URL patterns missing from MATRIX: {missing_urls}"
    assert not missing_methods, f"API methods missing from MATRIX: {sorted(set(missing_methods))}"


def test_matrix_rows_are_unique():
    ids = [row.id for row in MATRIX]
    assert len(set(ids)) == len(ids), "two rows share a name, method and label: add a label"
