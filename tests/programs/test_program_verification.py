"""Program profile, S1–S15 checklist from the database, and the SCMR program verification workflow."""

import datetime
import hashlib
import io
from functools import cache

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from programs import services as program_services
from programs.models import Program
from trainingportal.accounts.models import Credential
from trainingportal.core.models import AuditEvent
from verification import selectors as verification_selectors
from verification.models import ProgramReview
from verification.services import programs as verification

from ..conftest import TOTP_SECRET
from ..factories import (
    CaseFactory,
    DeterminationFactory,
    LectureFactory,
    ProgramFactory,
    ProgramReviewFactory,
    SessionFactory,
    UserFactory,
)
from ..queries import assert_same_query_count, captured_queries

pytestmark = pytest.mark.django_db

Status = Program.VerificationStatus


@cache
def pdf_bytes(text: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=f"<h1>Remote training plan</h1><p>{text}</p>").write_pdf()


CLEAN_PLAN = "Weekly live acquisition with the console shared; case review in groups of four."


def plan_upload(text: str = CLEAN_PLAN):
    return SimpleUploadedFile("plan.pdf", pdf_bytes(text), content_type="application/pdf")


PROFILE = {
    "onsite_training_years": 12,
    "onsite_trainees_trained": 40,
    "track_record_evidence": "Level II fellowship on site since 2012.",
    "didactic_source": "external_series",
    "video_platform": "Hospital-approved video platform",
    "console_sharing_method": "Console screen shared through a second capture card",
    "display_meets_local_standards": True,
    "video_setup_attestation": "1920x1080 display calibrated to DICOM GSDF.",
    "privacy_attestation": True,
    "max_virtual_share": 50,
    "interactive_group_cap": 4,
    "ruleset": "scmr-2018-level-2",
}


@pytest.fixture
def ready_program(program, director):
    """The cast's program with every pre-start condition met (the director already holds a Level III credential)."""
    return program_services.program_profile_update(actor=director, program=program, profile=PROFILE, plan=plan_upload())


def statuses(program) -> dict:
    return {line.code: line.status for line in verification_selectors.program_checklist(program)}


# --- checklist from the database


def test_checklist_lines_flip_with_database_data(ready_program, director, enrollment, mentor):
    program = ready_program
    before = statuses(program)
    assert before["S2"] == "met" and before["S4"] == "not_evidenced" and before["S5"] == "not_evidenced"

    LectureFactory(program=program, title="Safety", topic_slug="safety", hours=2, is_mr_safety_module=True)
    SessionFactory(
        program=program,
        type="live_acquisition",
        title="Scan",
        mentor=mentor,
        starts_at=datetime.datetime(2026, 1, 5, 9, tzinfo=datetime.UTC),
        console_shared=True,
    )
    CaseFactory(program=program, reference="EX-1", indication="Cardiomyopathy")
    after = statuses(program)
    assert after["S4"] == after["S5"] == after["S7"] == after["S8"] == "met"
    Credential.objects.filter(user=director).delete()
    assert statuses(program)["S2"] == "not_met"


def test_facts_take_a_fixed_number_of_queries(ready_program, mentor):
    _, first = captured_queries(lambda: verification_selectors.program_compliance_facts(ready_program))
    for n in range(3):
        CaseFactory(program=ready_program, reference=f"EX-{n}", indication="x")
    _, second = captured_queries(lambda: verification_selectors.program_compliance_facts(ready_program))
    # credential, lectures, sessions, attendance with input, complete-study cases, feedback, final determinations
    assert_same_query_count(first, second, expected=7)


def test_final_determinations_signed_by_the_director_meet_s15(ready_program, enrollment):
    assert statuses(ready_program)["S15"] == "not_evidenced"

    DeterminationFactory(enrollment=enrollment)

    assert verification_selectors.program_compliance_facts(ready_program).final_determinations == 1
    assert statuses(ready_program)["S15"] == "met"


# --- the profile


def test_profile_saves_credential_and_plan_with_its_sha256(program, director):
    Credential.objects.filter(user=director).delete()
    program_services.program_profile_update(
        actor=director,
        program=program,
        profile=PROFILE,
        credential={"level": "III", "body": "SCMR", "identifier": "SCMR-L3-77", "issued_on": datetime.date(2020, 1, 2)},
        plan=plan_upload(),
    )
    program.refresh_from_db()
    assert program.remote_training_plan_sha256 == hashlib.sha256(pdf_bytes(CLEAN_PLAN)).hexdigest()
    assert program.remote_training_plan.read().startswith(b"%PDF")
    assert Credential.objects.get(user=director).identifier == "SCMR-L3-77"
    assert AuditEvent.objects.filter(action="program.profile_update", object_id=str(program.pk)).exists()


def test_plan_must_be_a_pdf(program, director):
    with pytest.raises(ValidationError, match="as a PDF"):
        program_services.program_profile_update(
            actor=director, program=program, profile=PROFILE,
            plan=SimpleUploadedFile("plan.pdf", b"<html>not a pdf</html>"),
        )  # fmt: skip


def test_plan_that_only_looks_like_a_pdf_is_refused(program, director):
    with pytest.raises(ValidationError, match="cannot be read as a PDF"):
        program_services.program_profile_update(
            actor=director, program=program, profile=PROFILE, plan=SimpleUploadedFile("plan.pdf", b"%PDF-1.7 junk")
        )


def test_oversize_plan_is_refused(program, director):
    big = SimpleUploadedFile("plan.pdf", b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024))
    with pytest.raises(ValidationError, match="limit is 10 MB"):
        program_services.program_profile_update(actor=director, program=program, profile=PROFILE, plan=big)


def test_plan_with_patient_identifiers_is_refused_and_nothing_is_saved(program, director):
    with pytest.raises(ValidationError) as exc:
        program_services.program_profile_update(
            actor=director, program=program, profile=PROFILE, plan=plan_upload("Example case: MRN 12345678, LGE.")
        )
    assert "patient identifiers" in str(exc.value) and "MRN 12345678" in str(exc.value)
    program.refresh_from_db()
    assert program.remote_training_plan_sha256 == "" and not program.remote_training_plan
    assert program.video_platform == ""  # the rest of the profile was not saved either


def test_free_text_goes_through_the_phi_guard(program, director):
    with pytest.raises(ValidationError) as exc:
        program_services.program_profile_update(
            actor=director, program=program, profile={**PROFILE, "track_record_evidence": "Patient: Smith DOB 1.2.1960"}
        )
    assert "track_record_evidence" in exc.value.error_dict


def test_profile_page_shows_checklist_and_saves(client, program, director):
    client.force_login(director)
    url = reverse("verification:profile", args=[program.pk])
    page = client.get(url).content.decode()
    assert "SCMR checklist (S1–S15)" in page and "No remote training plan uploaded." in page
    data = {k: ("on" if v is True else v) for k, v in PROFILE.items()}
    response = client.post(url, {**data, "plan": plan_upload()})
    assert response.status_code == 302
    program.refresh_from_db()
    assert len(program.remote_training_plan_sha256) == 64


def test_profile_page_shows_the_phi_refusal(client, program, director):
    client.force_login(director)
    data = {k: ("on" if v is True else v) for k, v in PROFILE.items()}
    response = client.post(
        reverse("verification:profile", args=[program.pk]), {**data, "plan": plan_upload("MRN 12345678")}
    )
    assert response.status_code == 400
    assert "looks like it contains patient identifiers" in response.content.decode()


# --- submission


def test_submission_is_refused_while_a_line_is_unmet(program, director):
    with pytest.raises(ValidationError, match="S9"):
        verification.program_submit(actor=director, program=program)
    program.refresh_from_db()
    assert program.verification_status == Status.DRAFT and not ProgramReview.objects.exists()


def test_submission_refused_for_each_missing_condition(ready_program, director):
    Program.objects.filter(pk=ready_program.pk).update(privacy_attestation=False)
    with pytest.raises(ValidationError, match="S10"):
        verification.program_submit(actor=director, program=ready_program)


def test_submission_snapshots_the_plan_and_mails_eligible_reviewers(ready_program, director, reviewer):
    conflicted = UserFactory(is_reviewer=True, institution=" example heart CENTER ")
    with pytest.raises(Exception):  # noqa: B017 - only the director submits
        verification.program_submit(actor=reviewer, program=ready_program)
    with _captured_on_commit():
        review = verification.program_submit(actor=director, program=ready_program)
    ready_program.refresh_from_db()
    assert ready_program.verification_status == Status.SUBMITTED
    assert review.plan_snapshot["plan"]["sha256"] == ready_program.remote_training_plan_sha256
    assert [line["code"] for line in review.plan_snapshot["checklist"]][-1] == "S15"
    assert [m.to for m in mail.outbox] == [[reviewer.email]]
    assert conflicted.email not in mail.outbox[0].to


def _captured_on_commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


# --- conflict of interest


def test_same_institution_reviewer_cannot_take_and_does_not_see_it_in_the_queue(ready_program, director, reviewer):
    verification.program_submit(actor=director, program=ready_program)
    conflicted = UserFactory(is_reviewer=True, institution="EXAMPLE Heart Center")
    TOTP.activate(conflicted, TOTP_SECRET)
    assert ready_program.pk not in [r.program_id for r in verification_selectors.program_review_queue(conflicted)]
    assert ready_program.pk in [r.program_id for r in verification_selectors.program_review_queue(reviewer)]
    with pytest.raises(PermissionDenied, match="own institution"):
        verification.review_take(actor=conflicted, program=ready_program)
    client = APIClient()
    client.force_login(conflicted)
    # A conflicted reviewer is an outsider to the program: 404, as for anyone without a role in it.
    assert client.post(reverse("program-take", args=[ready_program.pk])).status_code == 404
    assert client.get(reverse("verification:review", args=[ready_program.pk])).status_code == 404
    page = client.get(reverse("verification:queue")).content.decode()
    assert ready_program.name not in page


def test_queue_lists_open_rounds_in_a_fixed_number_of_queries(client, reviewer, django_assert_max_num_queries):
    for n in range(5):
        other = ProgramFactory(institution=f"Center {n}")
        ProgramReviewFactory(program=other)
    client.force_login(reviewer)
    # session, user, MFA check, the queue (reviews + programs + reviewer + submitter in one join)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("verification:queue"))
    assert response.content.decode().count("Open</a>") == 5


# --- the whole workflow


def test_full_workflow_with_history_and_emails(ready_program, director, reviewer, client):
    program = ready_program
    with _captured_on_commit():
        verification.program_submit(actor=director, program=program)
    with pytest.raises(ValidationError, match="Take the review first"):
        verification.review_decide(actor=reviewer, program=program, decision="verified")
    with _captured_on_commit():
        verification.review_take(actor=reviewer, program=program)
    with pytest.raises(ValidationError, match="Say what should change"):
        verification.review_decide(actor=reviewer, program=program, decision="changes_requested")
    with _captured_on_commit():
        verification.review_decide(
            actor=reviewer,
            program=program,
            decision="changes_requested",
            comment="Please describe the display.",
            line_comments={"S9": "Which resolution?", "S3": ""},
        )
    program.refresh_from_db()
    assert program.verification_status == Status.CHANGES_REQUESTED
    # The director edits and resubmits; the new round goes back to the same reviewer.
    program_services.program_profile_update(
        actor=director, program=program, profile={**PROFILE, "video_setup_attestation": "2560x1440, DICOM GSDF."}
    )
    with _captured_on_commit():
        second = verification.program_submit(actor=director, program=program)
    assert second.reviewer == reviewer
    with pytest.raises(ValidationError, match="reason"):
        verification.review_decide(actor=reviewer, program=program, decision="declined")
    with _captured_on_commit():
        verification.review_decide(actor=reviewer, program=program, decision="verified", comment="Complete.")
    program.refresh_from_db()
    assert program.verification_status == Status.VERIFIED
    history = [(e.action, e.actor) for e in verification_selectors.program_history(program)]
    assert history == [
        ("submitted", director),
        ("taken", reviewer),
        ("changes_requested", reviewer),
        ("submitted", director),
        ("verified", reviewer),
    ]
    subjects = [(m.to, m.subject) for m in mail.outbox]
    assert subjects == [
        ([reviewer.email], f"[trainingportal] {program.name} submitted for SCMR program verification"),
        ([director.email], f"[trainingportal] SCMR review of {program.name} has started"),
        ([director.email], f"[trainingportal] {program.name}: Changes requested"),
        ([reviewer.email], f"[trainingportal] {program.name} submitted for SCMR program verification"),
        ([director.email], f"[trainingportal] {program.name}: Verified by SCMR"),
    ]
    assert "S9: Which resolution?" in mail.outbox[2].body
    assert statuses(program)["S11"] == "met"
    # Both sides see the history with who and why.
    client.force_login(director)
    page = client.get(reverse("verification:profile", args=[program.pk])).content.decode()
    assert "Which resolution?" in page and "Rita Reviewer" in page and "locked" in page
    client.force_login(reviewer)
    page = client.get(reverse("verification:review", args=[program.pk])).content.decode()
    assert "Please describe the display." in page and "Dana Director" in page
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"program.submit", "program_review.take", "program_review.changes_requested"} <= actions


def test_decline_needs_a_reason_and_allows_a_new_round(ready_program, director, reviewer):
    verification.program_submit(actor=director, program=ready_program)
    verification.review_take(actor=reviewer, program=ready_program)
    verification.review_decide(actor=reviewer, program=ready_program, decision="declined", comment="No track record.")
    ready_program.refresh_from_db()
    assert ready_program.verification_status == Status.DECLINED
    verification.program_submit(actor=director, program=ready_program)
    assert ProgramReview.objects.filter(program=ready_program).count() == 2


def test_profile_is_locked_while_under_review(ready_program, director):
    verification.program_submit(actor=director, program=ready_program)
    with pytest.raises(ValidationError, match="locked"):
        program_services.program_profile_update(actor=director, program=ready_program, profile=PROFILE)


def test_another_reviewer_cannot_decide(ready_program, director, reviewer):
    verification.program_submit(actor=director, program=ready_program)
    verification.review_take(actor=reviewer, program=ready_program)
    other = UserFactory(is_reviewer=True, institution="Another Center")
    with pytest.raises(PermissionDenied, match="Another SCMR reviewer"):
        verification.review_decide(actor=other, program=ready_program, decision="verified")


# --- API


def test_api_workflow(ready_program, director, reviewer):
    api = APIClient()
    api.force_login(director)
    checklist = api.get(reverse("program-checklist", args=[ready_program.pk])).json()
    assert checklist["can_submit"] is True and len(checklist["lines"]) == 15
    assert api.post(reverse("program-submit", args=[ready_program.pk])).status_code == 201
    api.force_login(reviewer)
    assert api.post(reverse("program-take", args=[ready_program.pk])).status_code == 200
    response = api.post(
        reverse("program-request-changes", args=[ready_program.pk]),
        {"line_comments": {"S3": "Add the evidence document."}},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "changes_requested"
    api.force_login(director)
    assert api.post(reverse("program-submit", args=[ready_program.pk])).status_code == 201
    api.force_login(reviewer)
    assert api.post(reverse("program-decline", args=[ready_program.pk]), {}, format="json").status_code == 400
    response = api.post(reverse("program-verify", args=[ready_program.pk]), {}, format="json")
    assert response.json()["verification_status"] == "verified"
    assert [e["action"] for e in response.json()["events"]] == ["submitted", "verified"]


def test_api_submit_refused_while_a_line_is_unmet(program, director):
    api = APIClient()
    api.force_login(director)
    checklist = api.get(reverse("program-checklist", args=[program.pk])).json()
    assert checklist["can_submit"] is False
    response = api.post(reverse("program-submit", args=[program.pk]))
    assert response.status_code == 400 and "S11" in response.json()["non_field_errors"][0]


def test_schema_lists_the_verification_actions(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    for suffix in ("checklist/", "submit/", "take/", "request-changes/", "verify/", "decline/"):
        assert f"/api/v1/programs/{{id}}/{suffix}" in schema["paths"]


def test_plan_download_for_director_and_reviewer(ready_program, director, reviewer, mentor, client):
    url = reverse("verification:plan", args=[ready_program.pk])
    client.force_login(reviewer)
    assert client.get(url).status_code == 404  # a draft is the director's own until it is submitted
    verification.program_submit(actor=director, program=ready_program)
    for user, code in ((director, 200), (reviewer, 200), (mentor, 403)):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == code
        if code == 200:
            assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == (
                ready_program.remote_training_plan_sha256
            )


def test_pdf_helper_is_readable():
    from pypdf import PdfReader

    assert "MRN 12345678" in PdfReader(io.BytesIO(pdf_bytes("MRN 12345678"))).pages[0].extract_text()
