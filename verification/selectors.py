"""Reads for SCMR verification, scoped by the user asking: programs under review, verification dossiers, the two
reviewer queues and the public check. The conflict-of-interest rule is written once, here.

Reviewers reach training data only through this app: a program's checklist and plan once it is put before SCMR,
a trainee's dossier once it is submitted — never of a program they belong to, nor of their own institution.
"""

import random
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower, Replace
from django.http import Http404

from assessments.selectors import program_determination_count
from cases.models import CaseLogEntry
from cases.selectors import program_complete_study_count
from programs.models import Membership, Program
from programs.selectors import (
    directed_program_ids,
    director_qualification,
    member_program_ids,
    roles_in_program,
)
from progress.selectors.determinations import determination_state
from progress.selectors.reports import report_for
from training.selectors import program_training_totals
from trainingportal.core.access import Access
from trainingportal.core.models import AuditEvent
from trainingportal.engine import RulesetError, get_ruleset

from . import compliance
from .models import FeedbackResponse, ProgramReview, ProgramReviewEvent, ReviewNote, VerificationRequest

Role = Membership.Role
Status = VerificationRequest.Status

# --- conflict of interest -------------------------------------------------------------------------------------------

# Institution names are compared without case and without any whitespace, so "St. Mary's  Heart Center" and
# "st. mary's heart center" are one institution. The same characters are removed in Python and in SQL.
_SPACES = (" ", "\t", "\n", "\r", "\u00a0")


def normalise_institution(name: str | None) -> str:
    name = (name or "").lower()
    for char in _SPACES:
        name = name.replace(char, "")
    return name


def _normalised_institution_sql(field: str):
    expression = Lower(field)
    for char in _SPACES:
        expression = Replace(expression, Value(char), Value(""))
    return expression


def conflicted_program_ids(user) -> QuerySet:
    """The programs a reviewer must never act on or see: those they belong to in any role, and those of their own
    institution (SPEC section 2). As a subquery of program ids."""
    mine = normalise_institution(user.institution)
    same_institution = Q(pk__in=member_program_ids(user))
    if mine:
        same_institution |= Q(institution_key=mine)
    return (
        Program.objects.annotate(institution_key=_normalised_institution_sql("institution"))
        .filter(same_institution)
        .values("pk")
    )


def _same_institution(user, program: Program) -> bool:
    mine = normalise_institution(user.institution)
    return bool(mine) and mine == normalise_institution(program.institution)


def is_conflicted(user, program: Program) -> bool:
    return _same_institution(user, program) or bool(roles_in_program(user, program.pk))


def reviewers_without_conflict(program: Program) -> list:
    """Active SCMR reviewers who may review `program` (is_conflicted for all of them in one query)."""
    reviewers = (
        get_user_model()
        .objects.filter(is_reviewer=True, is_active=True)
        .exclude(memberships__program=program)
        .order_by("email")
    )
    return [user for user in reviewers if not _same_institution(user, program)]


def _is_reviewer_for(user, program: Program) -> bool:
    return bool(user.is_authenticated and user.is_reviewer) and not is_conflicted(user, program)


# --- programs under SCMR review ---------------------------------------------------------------------------------------

# profile / submit: the director. checklist / plan: the director or a reviewer. review: a reviewer.
PROGRAM_REVIEW_ACTIONS: dict[str, set[str]] = {
    "view": {Role.DIRECTOR, Role.MENTOR, Role.TRAINEE, "reviewer"},
    "profile": {Role.DIRECTOR},
    "submit": {Role.DIRECTOR},
    "checklist": {Role.DIRECTOR, "reviewer"},
    "plan": {Role.DIRECTOR, "reviewer"},
    "review": {"reviewer"},
}


def get_program_for_review(user, pk: int, *, action: str) -> Access[Program]:
    """The access point of program verification. Members get their program roles; an SCMR reviewer without a
    conflict of interest gets "reviewer" once the program has been submitted. Outsiders (a conflicted reviewer who is not a member included) get 404,
    members without the role 403."""
    program = Program.objects.select_related("director").filter(pk=pk).first() if user.is_authenticated else None
    roles = set(roles_in_program(user, pk)) if program else set()
    # A draft is the director's own business until it is submitted to SCMR.
    if program is not None and program.verification_status != Program.VerificationStatus.DRAFT:
        if _is_reviewer_for(user, program):
            roles.add("reviewer")
    if not roles:
        raise Http404("No such program.")
    if not roles & PROGRAM_REVIEW_ACTIONS[action]:
        raise PermissionDenied("You do not have the role needed for this program's SCMR verification.")
    return Access(program, frozenset(roles))


def programs_for_reviewer(user) -> QuerySet[Program]:
    """Programs an SCMR reviewer may see: put before SCMR at least once, without a conflict of interest."""
    if not (user.is_authenticated and user.is_reviewer):
        return Program.objects.none()
    return (
        Program.objects.select_related("director")
        .exclude(verification_status=Program.VerificationStatus.DRAFT)
        .exclude(pk__in=conflicted_program_ids(user))
    )


def program_review_queue(user) -> QuerySet[ProgramReview]:
    """Open rounds for SCMR reviewers, oldest first, without conflicted programs."""
    if not user.is_authenticated or not user.is_reviewer:
        raise PermissionDenied("The program verification queue is for SCMR reviewers.")
    return (
        ProgramReview.objects.filter(status=Program.VerificationStatus.SUBMITTED)
        .exclude(program_id__in=conflicted_program_ids(user))
        .select_related("program", "reviewer", "submitted_by")
        .order_by("submitted_at", "id")
    )


def current_review(program: Program) -> ProgramReview | None:
    return program.reviews.select_related("reviewer", "submitted_by").first()


def program_history(program: Program) -> QuerySet[ProgramReviewEvent]:
    """Every step of every round, oldest first, with who did it."""
    return (
        ProgramReviewEvent.objects.filter(review__program=program).select_related("actor").order_by("created_at", "id")
    )


def program_compliance_facts(program: Program) -> compliance.Facts:
    """Everything the checklist needs, in a fixed number of queries (7, whatever the program's size):
    credential, lectures, sessions, attendance with input, complete-study cases, feedback, final determinations."""
    credential = director_qualification(program)
    training = program_training_totals(program)
    try:
        ruleset = get_ruleset(program.ruleset)
        ruleset_title, ruleset_is_scmr = ruleset.title, ruleset.scmr
    except RulesetError:
        ruleset_title, ruleset_is_scmr = "", False
    return compliance.Facts(
        ruleset_id=program.ruleset,
        ruleset_title=ruleset_title,
        ruleset_is_scmr=ruleset_is_scmr,
        director_name=program.director.display_name,
        level3_credential=(
            f"{credential.body} {credential.get_level_display()} ({credential.identifier}), issued "
            f"{credential.issued_on:%-d %b %Y}"
            + (f"; justification: {credential.justification}" if credential.level == credential.Level.EQ else "")
            if credential
            else ""
        ),
        onsite_training_years=program.onsite_training_years,
        onsite_trainees_trained=program.onsite_trainees_trained,
        track_record_evidence=program.track_record_evidence,
        didactic_source=program.didactic_source,
        didactic_source_label=program.get_didactic_source_display() if program.didactic_source else "",
        lecture_count=training.lecture_count,
        lecture_hours=training.lecture_hours,
        safety_module_count=training.safety_module_count,
        console_sharing_method=program.console_sharing_method,
        console_shared_sessions=training.console_shared_sessions,
        input_sessions=training.input_sessions,
        active_input_attendances=training.active_input_attendances,
        complete_study_cases=program_complete_study_count(program),
        video_platform=program.video_platform,
        display_meets_local_standards=program.display_meets_local_standards,
        video_setup_attestation=program.video_setup_attestation,
        privacy_attestation=program.privacy_attestation,
        has_plan=bool(program.remote_training_plan),
        plan_sha256=program.remote_training_plan_sha256,
        verification_status=program.verification_status,
        feedback_responses=FeedbackResponse.objects.filter(program=program).count(),
        interactive_group_cap=program.interactive_group_cap,
        max_virtual_share=program.max_virtual_share,
        final_determinations=program_determination_count(program),
    )


def program_checklist(program: Program) -> list[compliance.Line]:
    return compliance.checklist(program_compliance_facts(program))


# --- verification dossiers -------------------------------------------------------------------------------------------


def _requests() -> QuerySet[VerificationRequest]:
    # The snapshot (the dossier's JSON, large) is read only by the renderer and the JSON download.
    return VerificationRequest.objects.select_related(
        "enrollment__trainee", "enrollment__program", "requested_by", "reviewer"
    ).defer("snapshot")


# action -> (relations allowed, statuses allowed or None for any)
DOSSIER_ACTIONS: dict[str, tuple[set[str], set[str] | None]] = {
    "view": ({"trainee", "director", "reviewer"}, None),
    "download": ({"trainee", "director", "reviewer"}, set(VerificationRequest.HAS_DOSSIER)),
    "submit": ({"director"}, {Status.READY}),
    "retry": ({"director"}, {Status.FAILED}),
    "take": ({"reviewer"}, {Status.SUBMITTED}),
    "review": ({"reviewer"}, {Status.SUBMITTED, Status.UNDER_REVIEW}),
    "notes": ({"reviewer"}, None),
    "revoke": ({"reviewer"}, {Status.VERIFIED}),
}


def get_verification_request_for_user(user, pk: int, *, action: str = "view") -> Access[VerificationRequest]:
    """The one access point for a dossier. The trainee and the program's director see it; an SCMR reviewer only
    once it is submitted, and never with a conflict of interest. Outsiders 404, members without the role 403."""
    vr = _requests().filter(pk=pk).first() if user.is_authenticated else None
    if vr is None:
        raise Http404("No such verification request.")
    program = vr.enrollment.program
    program_roles = roles_in_program(user, program.pk)
    roles = set()
    if vr.enrollment.trainee_id == user.pk:
        roles.add("trainee")
    if Role.DIRECTOR in program_roles:
        roles.add("director")
    if vr.status in VerificationRequest.REVIEWABLE and _is_reviewer_for(user, program):
        roles.add("reviewer")
    if not roles and not program_roles:
        raise Http404("No such verification request.")
    allowed_roles, allowed_statuses = DOSSIER_ACTIONS[action]
    if not roles & allowed_roles:
        raise PermissionDenied("You do not have the role needed for this dossier.")
    if allowed_statuses is not None and vr.status not in allowed_statuses:
        raise PermissionDenied(f"This dossier is {vr.get_status_display().lower()}; that is not possible now.")
    return Access(vr, frozenset(roles))


def dossier_review_queue(user) -> QuerySet[VerificationRequest]:
    """Submitted dossiers for SCMR reviewers, oldest first, without conflicted programs."""
    if not (user.is_authenticated and user.is_reviewer):
        return VerificationRequest.objects.none()
    return (
        _requests()
        .filter(status__in=VerificationRequest.REVIEWABLE)
        .exclude(enrollment__program_id__in=conflicted_program_ids(user))
        .order_by("submitted_at", "id")
    )


def review_notes(access: Access[VerificationRequest]) -> list[ReviewNote]:
    """The SCMR reviewers' notes on a dossier, oldest first; nothing for anyone else (the director, mentors and the
    trainee never see them, whatever else they may see of the dossier)."""
    if not access.has("reviewer"):
        return []
    return list(ReviewNote.objects.filter(request=access.obj).select_related("author").order_by("created_at", "id"))


@dataclass(frozen=True)
class HistoryStep:
    label: str
    actor: object  # a User, or None for the platform itself (generation)
    at: datetime
    detail: str = ""


_HISTORY_LABELS = {
    "verification_request.create": "Dossier requested",
    "verification_request.ready": "Dossier generated",
    "verification_request.retry": "Generation started again",
    "verification_request.submit": "Submitted to SCMR",
    "verification_request.take": "Taken under review",
    "verification_request.note": "Note added",
    "verification_request.revoke": "Verification revoked",
}
# Steps the row itself records, for dossiers whose audit events are missing (older rows, data loaded by hand).
_FIELD_STEPS = {
    "verification_request.ready": ("ready_at", None),
    "verification_request.submit": ("submitted_at", None),
    "verification_request.decide": ("decided_at", "reviewer"),
    "verification_request.revoke": ("revoked_at", "revoked_by"),
}


def _decision_label(status: str | None) -> str:
    return {Status.VERIFIED: "Verified", Status.RETURNED: "Returned to the program"}.get(status, "Decided")


def dossier_history(access: Access[VerificationRequest]) -> list[HistoryStep]:
    """A dossier's history for its SCMR reviewers, oldest first: generated, submitted, taken, notes added, returned
    or verified with the reasons, revoked; who and when. From the audit log (one query), completed from the row's
    own dates where an event is missing."""
    if not access.has("reviewer"):
        return []
    vr = access.obj
    events = AuditEvent.objects.filter(
        object_type=VerificationRequest._meta.label_lower,
        object_id=str(vr.pk),
        action__in=[*_HISTORY_LABELS, "verification_request.decide"],
    ).select_related("actor")
    steps, seen = [], set()
    for event in events.order_by("created_at", "id"):
        seen.add(event.action)
        after = event.after if isinstance(event.after, dict) else {}
        if event.action == "verification_request.decide":
            steps.append(
                HistoryStep(
                    _decision_label(after.get("status")),
                    event.actor,
                    event.created_at,
                    after.get("reasons", vr.decision_reasons),
                )
            )
        elif event.action == "verification_request.revoke":
            steps.append(
                HistoryStep(
                    _HISTORY_LABELS[event.action], event.actor, event.created_at, after.get("reason", vr.revoked_reason)
                )
            )
        else:
            steps.append(HistoryStep(_HISTORY_LABELS[event.action], event.actor, event.created_at))
    for action, (field, actor_field) in _FIELD_STEPS.items():
        at = getattr(vr, field)
        if action in seen or at is None:
            continue
        actor = getattr(vr, actor_field) if actor_field else None
        if action == "verification_request.decide":
            label, detail = (
                _decision_label(vr.status if vr.status != Status.REVOKED else Status.VERIFIED),
                vr.decision_reasons,
            )
        elif action == "verification_request.revoke":
            label, detail = _HISTORY_LABELS[action], vr.revoked_reason
        else:
            label, detail = _HISTORY_LABELS[action], ""
        steps.append(HistoryStep(label, actor, at, detail))
    return sorted(steps, key=lambda step: step.at)


def verification_requests_for_user(user) -> QuerySet[VerificationRequest]:
    """Dossiers of the user's own enrollments and of the programs they direct, plus (reviewers) the queue."""
    if not user.is_authenticated:
        return VerificationRequest.objects.none()
    scope = Q(enrollment__trainee=user) | Q(enrollment__program_id__in=directed_program_ids(user))
    if user.is_reviewer:
        scope |= Q(pk__in=dossier_review_queue(user).values("pk"))
    return _requests().filter(scope)


def requests_for_enrollment(enrollment) -> QuerySet[VerificationRequest]:
    """The caller has checked access to the enrollment (trainees.selectors.get_enrollment_for_user)."""
    return _requests().filter(enrollment=enrollment)


def get_verification_request_by_code(code: str) -> VerificationRequest:
    vr = _requests().filter(code=code.strip().upper()).first()
    if vr is None:
        raise Http404("No dossier has this verification code.")
    return vr


# --- the gate before a dossier is submitted or verified -----------------------------------------------------------


def dossier_gate(vr: VerificationRequest) -> dict:
    """What a dossier is submitted (and verified) on, and every reason it may not be yet: the requirements as of
    now, the director's determination (signed, competent, not stale, not older than the dossier), the program's
    SCMR status. The caller has checked access to the dossier."""
    enrollment = vr.enrollment
    report = report_for(enrollment)
    state = determination_state(enrollment)
    determination, stale = state["determination"], state["stale"]
    blockers = []
    if not report.all_met:
        blockers.append(
            f"Not every requirement is met ({report.met_count} of {len(report.requirements)}): "
            + "; ".join(report.missing)
        )
    if determination is None:
        blockers.append("The program director has not signed a final determination.")
    else:
        if determination.decision != determination.Decision.COMPETENT:
            blockers.append("The director's final determination is “not yet competent”.")
        if stale:
            blockers.append(
                "The case log, the sign-offs or the enrollment changed after the determination was signed: the "
                "director signs it again."
            )
        if vr.created_at < determination.signed_at:
            blockers.append(
                "This dossier was generated before the current determination: request a new one, so that the "
                "packet carries the determination."
            )
    if enrollment.program.verification_status == Program.VerificationStatus.DECLINED:
        blockers.append("SCMR declined the program's verification.")
    checklist = program_checklist(enrollment.program)
    return {
        "report": report,
        "determination": determination,
        "stale": stale,
        "blockers": blockers,
        "checklist_met": sum(1 for line in checklist if line.status == compliance.MET),
        "checklist_open": [line for line in checklist if line.status != compliance.MET],
        "checklist_total": len(checklist),
    }


def sampled_entries(vr: VerificationRequest, n: int = 10) -> list:
    """A reviewer's drill-down: n signed entries of the dossier's trainee drawn at random — the same n for the same
    dossier (seeded by its code), so two reviewers, or one coming back, see the same sample."""
    ids = list(
        CaseLogEntry.objects.filter(enrollment=vr.enrollment, status=CaseLogEntry.Status.SIGNED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chosen = random.Random(vr.code).sample(ids, min(n, len(ids)))
    return list(
        CaseLogEntry.objects.filter(pk__in=chosen).select_related("case", "signed_by").order_by("performed_on", "pk")
    )


def in_person_signed_entries(enrollment) -> list:
    """The trainee's signed in-person cases, newest first: what an in-person final assessment can point to."""
    return list(
        CaseLogEntry.objects.filter(
            enrollment=enrollment, status=CaseLogEntry.Status.SIGNED, delivery=CaseLogEntry.Delivery.IN_PERSON
        )
        .select_related("case")
        .order_by("-performed_on", "-id")[:200]
    )


def with_snapshot(vr: VerificationRequest) -> VerificationRequest:
    """The dossier with its JSON snapshot loaded (deferred everywhere else); the caller has checked access."""
    return VerificationRequest.objects.only("pk", "code", "snapshot").get(pk=vr.pk)
