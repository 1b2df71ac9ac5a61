"""A reviewer never acts on — takes, comments on, verifies, declines, decides or downloads as a reviewer — a program
they belong to in any role, nor one of their own institution however its name is spaced or cased; and never sees it
in a queue. One rule (verification.selectors.is_conflicted / conflicted_program_ids) behind every page, API action
and download; this test walks all of them for every kind of conflict."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework.test import APIClient

from programs.models import Membership, Program
from verification.models import ProgramReview, VerificationRequest
from verification.selectors import dossier_review_queue, is_conflicted, normalise_institution, program_review_queue

from ..conftest import TOTP_SECRET
from ..factories import EnrollmentFactory, MembershipFactory, UserFactory, VerificationRequestFactory

pytestmark = pytest.mark.django_db

INSTITUTION = "Example Heart Center"  # the cast's program (tests/conftest.py)
SPELLINGS = ["EXAMPLE HEART CENTER", "  example heart   center ", "Example\tHeart\u00a0Center", "exampleheartcenter"]


@pytest.fixture
def under_review(program, director, enrollment):
    """The program submitted to SCMR and taken by nobody yet, with a plan; a trainee's dossier submitted."""
    plan = default_storage.save("plans/coi-plan.pdf", ContentFile(b"%PDF-1.7 plan"))
    Program.objects.filter(pk=program.pk).update(
        verification_status="submitted", remote_training_plan=plan, remote_training_plan_sha256="3" * 64
    )
    ProgramReview.objects.create(program=program, submitted_by=director, status="submitted")
    dossier = default_storage.save("dossiers/coi.pdf", ContentFile(b"%PDF-1.7 dossier"))
    vr = VerificationRequestFactory(enrollment=enrollment, status="submitted", sha256="4" * 64, dossier=dossier)
    program.refresh_from_db()
    return program, vr


def _reviewer(**fields):
    user = UserFactory(is_reviewer=True, institution=fields.pop("institution", "SCMR Verification Committee"))
    TOTP.activate(user, TOTP_SECRET)
    return user


def _conflicted(kind: str, program):
    if kind.startswith("institution:"):
        return _reviewer(institution=kind.split(":", 1)[1])
    user = _reviewer()
    if kind == "trainee":
        EnrollmentFactory(trainee=user, program=program)  # a trainee of the program (another enrollment)
    else:
        MembershipFactory(user=user, program=program, role=kind)
    return user


KINDS = ["director", "mentor", "trainee", *[f"institution:{s}" for s in SPELLINGS]]


@pytest.mark.parametrize("kind", KINDS)
def test_conflicted_reviewer_cannot_act_or_see_anything_as_a_reviewer(client, under_review, kind):
    program, vr = under_review
    user = _conflicted(kind, program)
    assert is_conflicted(user, program)
    assert program.pk not in [r.program_id for r in program_review_queue(user)]
    assert vr.pk not in [v.pk for v in dossier_review_queue(user)]

    api = APIClient()
    api.force_login(user)
    client.force_login(user)
    refused = (403, 404)
    # Program verification: review page, plan, checklist, take, comment / request changes, verify, decline.
    assert client.get(reverse("verification:review", args=[program.pk])).status_code in refused
    assert client.post(reverse("verification:take", args=[program.pk])).status_code in refused
    decide = reverse("verification:decide", args=[program.pk])
    for decision in ("changes_requested", "verified", "declined"):
        assert client.post(decide, {"decision": decision, "comment": "Looks fine."}).status_code in refused
    for action in ("take", "request-changes", "verify", "decline"):
        url = reverse(f"program-{action}", args=[program.pk])
        assert api.post(url, {"comment": "Looks fine."}, format="json").status_code in refused, action
    # The dossier: the page's decision, the API's decision; the queue pages do not list it.
    assert client.post(reverse("dossiers:decide", args=[vr.pk]), {"decision": "verified"}).status_code in refused
    url = reverse("verification-request-decide", args=[vr.pk])
    assert api.post(url, {"verified": True}, format="json").status_code in refused
    assert vr.code not in client.get(reverse("dossiers:queue")).content.decode()
    assert program.name not in client.get(reverse("verification:queue")).content.decode()

    if kind != "director":
        # Reading as a reviewer: the plan, the checklist, the dossier page and its PDF (HTML and API).
        assert client.get(reverse("verification:plan", args=[program.pk])).status_code in refused
        assert api.get(reverse("program-checklist", args=[program.pk])).status_code in refused
        assert client.get(reverse("dossiers:detail", args=[vr.pk])).status_code in refused
        assert client.get(reverse("dossiers:download", args=[vr.pk])).status_code in refused
        assert api.get(reverse("verification-request-dossier", args=[vr.pk])).status_code in refused
        assert vr.pk not in [r["id"] for r in api.get(reverse("verification-request-list")).json()["results"]]
    # (A reviewer who directs the program reads its plan and dossiers as its director, never as its reviewer: the
    # actions above are refused to them like to everyone conflicted.)

    # Nothing moved.
    program.refresh_from_db()
    vr.refresh_from_db()
    assert program.verification_status == "submitted"
    assert ProgramReview.objects.get(program=program).reviewer_id is None
    assert vr.status == VerificationRequest.Status.SUBMITTED and vr.reviewer_id is None


def test_a_reviewer_without_a_conflict_does_all_of_it(client, under_review):
    """The control: the same steps succeed for a reviewer of another institution who is not a member."""
    program, vr = under_review
    user = _reviewer()
    assert not is_conflicted(user, program)
    assert program.pk in [r.program_id for r in program_review_queue(user)]
    assert vr.pk in [v.pk for v in dossier_review_queue(user)]
    client.force_login(user)
    assert client.get(reverse("verification:plan", args=[program.pk])).status_code == 200
    assert client.get(reverse("dossiers:download", args=[vr.pk])).status_code == 200
    assert client.post(reverse("verification:take", args=[program.pk])).status_code == 302
    assert ProgramReview.objects.get(program=program).reviewer_id == user.pk


def test_institution_names_are_compared_without_case_or_spacing():
    assert {normalise_institution(s) for s in [INSTITUTION, *SPELLINGS]} == {"exampleheartcenter"}
    assert normalise_institution("Example Heart Centre") != normalise_institution(INSTITUTION)
    assert normalise_institution("") == normalise_institution(None) == ""


def test_a_reviewer_without_an_institution_is_conflicted_only_by_membership(under_review):
    program, _ = under_review
    user = _reviewer(institution="")
    assert not is_conflicted(user, program)
    MembershipFactory(user=user, program=program, role=Membership.Role.MENTOR)
    assert is_conflicted(user, program)


@pytest.mark.parametrize("kind", ["mentor", "institution:  EXAMPLE heart center"])
def test_the_dossier_service_itself_refuses_a_conflicted_reviewer(under_review, kind):
    """Called as a script or a future view would, past every page: the rule holds in the service too."""
    from django.core.exceptions import PermissionDenied

    from verification.services import dossiers

    program, vr = under_review
    with pytest.raises(PermissionDenied):
        dossiers.verification_request_decide(actor=_conflicted(kind, program), vr=vr, verified=True, reasons="")
    vr.refresh_from_db()
    assert vr.status == VerificationRequest.Status.SUBMITTED


def test_only_the_director_requests_a_dossier_in_the_service(enrollment, mentor):
    from django.core.exceptions import PermissionDenied

    from verification.services import dossiers

    with pytest.raises(PermissionDenied):
        dossiers.verification_request_create(actor=mentor, enrollment=enrollment)
    assert not VerificationRequest.objects.filter(enrollment=enrollment).exists()
