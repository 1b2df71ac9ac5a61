"""The gate (issue 10): a dossier goes to SCMR, and is verified, only when every requirement is met, the director's
final determination is signed, competent, current and older than the dossier, and SCMR has not declined the program.
Each condition is tested alone, through the page and the API. Returning with reasons is always possible."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from assessments.models import FinalDetermination, SignOff
from cases import services as case_services
from cases.models import CaseLogEntry
from programs.models import Program
from progress.selectors.determinations import determination_state
from progress.selectors.reports import report_for
from verification.models import VerificationRequest
from verification.services.determinations import ATTESTATION, signature_of

from ..conftest import api_as
from ..factories import PASSWORD, VerificationRequestFactory
from .helpers import current_code, make_complete, sign_determination

pytestmark = pytest.mark.django_db

Status = VerificationRequest.Status


@pytest.fixture
def complete(enrollment, mentor):
    return make_complete(enrollment, mentor)


def ready_dossier(enrollment, director, *, at=None) -> VerificationRequest:
    vr = VerificationRequestFactory(enrollment=enrollment, requested_by=director, status=Status.READY, sha256="a" * 64)
    if at is not None:
        VerificationRequest.objects.filter(pk=vr.pk).update(created_at=at)
    return VerificationRequest.objects.get(pk=vr.pk)


def submit_page(client, director, vr):
    client.force_login(director)
    return client.post(reverse("dossiers:submit", args=[vr.pk]))


# --- the determination ------------------------------------------------------------------------------------------


def test_a_complete_trainee_is_determined_competent_and_the_signature_covers_the_report(complete, director):
    determination = sign_determination(director, complete)

    assert determination.requirements_met and determination.decision == "competent"
    assert determination.signature_hash == signature_of(determination)
    assert len(determination.report_sha256) == 64
    assert determination_state(complete) == {"determination": determination, "stale": False}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "wrong-password"}, "password"),
        ({"otp_code": "000000"}, "otp_code"),
        ({"otp_code": ""}, "otp_code"),
    ],
)
def test_signing_needs_the_password_and_the_second_factor(complete, director, overrides, field):
    with pytest.raises(ValidationError) as caught:
        sign_determination(director, complete, **overrides)
    assert field in caught.value.message_dict
    assert not FinalDetermination.objects.exists()


def test_competent_is_refused_while_a_requirement_is_not_met(enrollment, director):
    with pytest.raises(ValidationError, match="Competent needs every requirement met"):
        sign_determination(director, enrollment)
    not_yet = sign_determination(director, enrollment, decision="not_yet", statement="Not yet: more cases to log.")
    assert not not_yet.requirements_met


def test_only_the_programs_director_signs(complete, mentor):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        sign_determination(mentor, complete)


def test_an_amendment_after_signing_makes_the_determination_stale_until_signed_again(complete, director, trainee):
    sign_determination(director, complete)
    entry = CaseLogEntry.objects.filter(enrollment=complete, status="signed").first()

    case_services.entry_amend(actor=trainee, entry=entry, reason="LVEF remeasured.", lvef=(entry.lvef or 50) + 1)

    assert determination_state(complete)["stale"]
    again = sign_determination(director, complete, decision="not_yet", statement="Not yet: the amended case waits.")
    assert determination_state(complete) == {"determination": again, "stale": False}
    assert FinalDetermination.objects.filter(enrollment=complete).count() == 2  # the first one is kept


def test_the_page_signs_with_reauthentication_and_refuses_a_wrong_code(client, complete, director):
    client.force_login(director)
    url = reverse("dossiers:determination", args=[complete.pk])
    data = {"decision": "competent", "statement": "Competent to perform and interpret CMR independently.",
            "password": PASSWORD, "otp_code": "000000", "attest": "on"}  # fmt: skip

    assert client.get(url).status_code == 200
    refused = client.post(url, data)
    assert refused.status_code == 400 and "otp_code" in refused.context["form"].errors
    assert client.post(url, {**data, "otp_code": current_code()}).status_code == 302
    assert FinalDetermination.objects.filter(enrollment=complete).exists()


def test_signing_needs_the_attestation_and_keeps_its_words(client, complete, director):
    client.force_login(director)
    url = reverse("dossiers:determination", args=[complete.pk])
    data = {"decision": "competent", "statement": "Competent to perform and interpret CMR independently.",
            "password": PASSWORD, "otp_code": current_code()}  # fmt: skip
    page = client.get(url).content.decode()
    assert "this final determination is mine" in page

    refused = client.post(url, data)
    assert refused.status_code == 400 and "attest" in refused.context["form"].errors
    with pytest.raises(ValidationError) as no_attest:
        sign_determination(director, complete, attest=False)
    assert "attest" in no_attest.value.message_dict
    assert not FinalDetermination.objects.filter(enrollment=complete).exists()

    determination = sign_determination(director, complete)
    assert determination.attestation == ATTESTATION
    assert determination.signature_hash == signature_of(determination)
    determination.attestation = "Something else."
    assert signature_of(determination) != determination.signature_hash  # the words are under the signature


def test_competent_needs_every_competency_signed_off(complete, director):
    lge = SignOff.objects.get(enrollment=complete, competency__code="lge-viability")
    SignOff.objects.filter(pk=lge.pk).update(entrustment_level=3)
    SignOff.objects.filter(enrollment=complete, competency__code="congenital").delete()
    assert report_for(complete).all_met  # the ruleset's requirements do not list these competencies

    with pytest.raises(ValidationError) as refused:
        sign_determination(director, complete)
    message = refused.value.message_dict["decision"][0]
    assert "every competency signed off" in message
    assert "Late gadolinium enhancement" in message and "Congenital heart disease" in message
    # "Not yet competent" can always be recorded.
    assert sign_determination(director, complete, decision="not_yet").decision == "not_yet"


# --- the gate, one condition at a time ------------------------------------------------------------------------------


def test_everything_in_place_submits_and_verifies(client, complete, director, reviewer):
    sign_determination(director, complete)
    vr = ready_dossier(complete, director)

    client.force_login(director)
    page = client.get(reverse("dossiers:submit", args=[vr.pk]))
    assert page.status_code == 200 and "Submit to SCMR" in page.content.decode()
    assert submit_page(client, director, vr).status_code == 302
    vr.refresh_from_db()
    assert vr.status == Status.SUBMITTED
    response = api_as(reviewer).post(
        f"/api/v1/verification-requests/{vr.pk}/decide/", {"verified": True, "reasons": ""}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "verified"


def _blocked(client, director, reviewer, vr, expected: str):
    """The page and the API refuse to submit; and once submitted (forced), the reviewer cannot verify."""
    page = submit_page(client, director, vr)
    assert page.status_code == 302
    vr.refresh_from_db()
    assert vr.status == Status.READY
    response = api_as(director).post(f"/api/v1/verification-requests/{vr.pk}/submit/")
    assert response.status_code == 400 and expected in response.content.decode()
    VerificationRequest.objects.filter(pk=vr.pk).update(status=Status.SUBMITTED)
    refused = api_as(reviewer).post(
        f"/api/v1/verification-requests/{vr.pk}/decide/", {"verified": True, "reasons": ""}, format="json"
    )
    assert refused.status_code == 400 and expected in refused.content.decode()
    client.force_login(reviewer)
    form_refused = client.post(
        reverse("dossiers:decide", args=[vr.pk]), {"decision": "verified", "decision_reasons": ""}
    )
    assert form_refused.status_code == 400 and expected in form_refused.content.decode()
    vr.refresh_from_db()
    assert vr.status == Status.SUBMITTED
    # Returning with reasons is always possible.
    returned = api_as(reviewer).post(
        f"/api/v1/verification-requests/{vr.pk}/decide/", {"verified": False, "reasons": "See the gate."}, format="json"
    )
    assert returned.status_code == 200 and returned.json()["status"] == "returned"


def test_not_every_requirement_met(client, enrollment, director, reviewer):
    FinalDetermination.objects.create(
        enrollment=enrollment,
        director=director,
        decision="competent",
        statement="x" * 30,
        signed_at=timezone.now() - datetime.timedelta(hours=1),
        signature_hash="0" * 64,
    )  # fmt: skip — forced past the service, to test the gate alone
    vr = ready_dossier(enrollment, director)
    _blocked(client, director, reviewer, vr, "Not every requirement is met")


def test_no_determination(client, complete, director, reviewer):
    _blocked(client, director, reviewer, ready_dossier(complete, director), "has not signed a final determination")


def test_a_not_yet_determination(client, complete, director, reviewer):
    sign_determination(director, complete, decision="not_yet", statement="Not yet: the final assessment is due.")
    vr = ready_dossier(complete, director)
    _blocked(client, director, reviewer, vr, "not yet competent")


def test_a_stale_determination(client, complete, director, reviewer, trainee):
    sign_determination(director, complete)
    vr = ready_dossier(complete, director)
    entry = CaseLogEntry.objects.filter(enrollment=complete, status="signed").first()
    case_services.entry_amend(actor=trainee, entry=entry, reason="LVEF remeasured.", lvef=(entry.lvef or 50) + 1)
    _blocked(client, director, reviewer, vr, "changed after the determination was signed")


def test_a_dossier_older_than_the_determination(client, complete, director, reviewer):
    vr = ready_dossier(complete, director, at=timezone.now() - datetime.timedelta(days=1))
    sign_determination(director, complete)
    _blocked(client, director, reviewer, vr, "generated before the current determination")


def test_a_declined_program(client, complete, director, reviewer):
    sign_determination(director, complete)
    vr = ready_dossier(complete, director)
    Program.objects.filter(pk=complete.program_id).update(verification_status=Program.VerificationStatus.DECLINED)
    _blocked(client, director, reviewer, vr, "declined the program")


def test_a_verification_can_be_revoked_with_a_reason_and_the_public_page_says_so(client, complete, director, reviewer):
    sign_determination(director, complete)
    vr = ready_dossier(complete, director)
    assert submit_page(client, director, vr).status_code == 302
    api_as(reviewer).post(f"/api/v1/verification-requests/{vr.pk}/decide/", {"verified": True}, format="json")
    client.logout()
    assert "Verified by SCMR" in client.get(reverse("verify", args=[vr.code])).content.decode()

    client.force_login(reviewer)
    refused = client.post(reverse("dossiers:revoke", args=[vr.pk]), {"reason": ""})
    assert refused.status_code == 400
    response = client.post(reverse("dossiers:revoke", args=[vr.pk]), {"reason": "Cases found logged twice."})
    assert response.status_code == 302
    vr.refresh_from_db()
    assert vr.status == Status.REVOKED and vr.revoked_by == reviewer
    client.logout()
    page = client.get(reverse("verify", args=[vr.code])).content.decode()
    assert "Verification revoked" in page and "Cases found logged twice." in page
    # The trainee's director cannot revoke (or un-revoke) anything.
    client.force_login(director)
    assert client.post(reverse("dossiers:revoke", args=[vr.pk]), {"reason": "No."}).status_code == 403


def test_the_reviewer_sees_a_stable_sample_of_ten_entries_with_both_reads(client, complete, director, reviewer):
    sign_determination(director, complete)
    vr = ready_dossier(complete, director)
    assert submit_page(client, director, vr).status_code == 302
    client.force_login(reviewer)

    first = client.get(reverse("dossiers:detail", args=[vr.pk]))
    again = client.get(reverse("dossiers:detail", args=[vr.pk]))

    sample = first.context["sample"]
    assert len(sample) == 10 and [e.pk for e in sample] == [e.pk for e in again.context["sample"]]
    assert {e.enrollment_id for e in sample} == {complete.pk} and {e.status for e in sample} == {"signed"}
    page = first.content.decode()
    assert "A sample of the case log" in page and "checklist" in page
    # The director sees the gate, not the reviewer's sample.
    client.force_login(director)
    assert client.get(reverse("dossiers:detail", args=[vr.pk])).context["sample"] is None


def test_the_json_and_the_csv_travel_with_the_pdf_and_the_same_data_gives_the_same_bytes(
    client, complete, director, django_capture_on_commit_callbacks
):
    import csv
    import io
    import json

    from verification.dossier import build_snapshot, snapshot_json

    sign_determination(director, complete)
    client.force_login(director)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dossiers:create", args=[complete.pk]))
    vr = VerificationRequest.objects.get(enrollment=complete)
    assert vr.status == Status.READY, vr.failure_reason

    body = b"".join([client.get(reverse("dossiers:download_json", args=[vr.pk])).content])
    data = json.loads(body)
    assert data["code"] == vr.code and data["determination"]["decision"] == "competent"
    assert len(data["case_log"]) == 50 and data["checklist"] and data["sign_offs"]
    # Re-building the snapshot from the same data gives byte-identical JSON.
    again = build_snapshot(VerificationRequest.objects.get(pk=vr.pk))
    assert snapshot_json(again) == body

    rows = list(csv.reader(io.StringIO(client.get(reverse("dossiers:download_csv", args=[vr.pk])).content.decode())))
    assert rows[0][:3] == ["date", "reference", "source"] and len(rows) == 51
    assert {row[1] for row in rows[1:]} == {e["reference"] for e in data["case_log"]}
