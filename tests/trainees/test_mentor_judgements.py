"""What the mentor decides about one trainee and what makes a signature count: a lower virtual share, prior
experience covering an in-person competency, the signer's credential, the director's qualification and the overlay
a program opts into. Through the pages, as the mentor and the director use them."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from assessments.models import PriorExperience, SignOff
from programs import services as program_services
from progress.selectors.reports import report_for
from trainees.models import Enrollment
from trainingportal.accounts.models import Credential
from trainingportal.core.models import AuditEvent
from trainingportal.engine.facts import LOW_MENTOR

from ..factories import CredentialFactory, EnrollmentFactory, EntryFactory, SignOffFactory, UserFactory

pytestmark = pytest.mark.django_db


def web(client, user):
    client.force_login(user)
    return client


# --- the trainee's virtual share ---------------------------------------------------------------------------------


def test_the_mentor_lowers_the_trainees_share_and_the_report_follows(client, enrollment, mentor):
    url = reverse("trainees:virtual_share", args=[enrollment.pk])
    response = web(client, mentor).post(url, {"share": "20", "reason": "Needs more console time in person."})

    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert (enrollment.max_virtual_share, enrollment.max_virtual_share_reason) == (
        20,
        "Needs more console time in person.",
    )
    report = report_for(enrollment)
    assert report.virtual_cap == 20
    assert report.requirement("interpreted").detail["virtual_cap"] == 20
    assert report.requirement("hands_on").detail["virtual_cap"] == 20  # min(ruleset 50, program 50, trainee 20)
    event = AuditEvent.objects.get(action="enrollment.virtual_share")
    assert event.actor == mentor and event.after == {"share": 20, "reason": "Needs more console time in person."}
    assert (
        "lowered for this trainee by the mentor"
        in client.get(reverse("trainees:progress", args=[enrollment.pk])).content.decode()
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"share": "51", "reason": "More virtual is fine."}, "share"),  # above the program's 50 %
        ({"share": "-1", "reason": "x"}, "share"),
        ({"share": "20", "reason": ""}, "reason"),  # a lower share needs a reason
        ({"share": "20", "reason": "Discussed with John Smith, MRN 12345678"}, "reason"),  # no PHI
        ({"share": "abc", "reason": "x"}, "share"),
    ],
)
def test_a_share_above_the_programs_or_without_a_reason_is_refused_and_nothing_is_saved(
    client, enrollment, director, data, field
):
    response = web(client, director).post(reverse("trainees:virtual_share", args=[enrollment.pk]), data)

    assert response.status_code == 400
    assert field in response.context["share_form"].errors
    enrollment.refresh_from_db()
    assert enrollment.max_virtual_share is None
    assert not AuditEvent.objects.filter(action="enrollment.virtual_share").exists()


def test_the_service_refuses_a_share_above_the_program_even_without_the_form(enrollment, mentor):
    from trainees.services import set_trainee_virtual_share

    with pytest.raises(ValidationError):
        set_trainee_virtual_share(actor=mentor, enrollment=enrollment, share=60, reason="Doing well.")
    assert Enrollment.objects.get(pk=enrollment.pk).max_virtual_share is None


def test_clearing_the_share_returns_the_trainee_to_the_programs(client, enrollment, mentor):
    enrollment.max_virtual_share, enrollment.max_virtual_share_reason = 10, "Early days."
    enrollment.save()

    response = web(client, mentor).post(reverse("trainees:virtual_share", args=[enrollment.pk]), {"share": ""})

    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert (enrollment.max_virtual_share, enrollment.max_virtual_share_reason) == (None, "")
    assert report_for(enrollment).virtual_cap == 50


def test_a_trainee_cannot_set_their_own_share(client, enrollment, trainee):
    response = web(client, trainee).post(
        reverse("trainees:virtual_share", args=[enrollment.pk]), {"share": "10", "reason": "I want to."}
    )
    assert response.status_code == 403
    assert Enrollment.objects.get(pk=enrollment.pk).max_virtual_share is None


def test_a_mentor_of_another_trainee_cannot_set_the_share(client, other_enrollment, mentor):
    response = web(client, mentor).post(
        reverse("trainees:virtual_share", args=[other_enrollment.pk]), {"share": "10", "reason": "Not mine."}
    )
    assert response.status_code == 403


# --- prior experience ---------------------------------------------------------------------------------------------


def test_prior_experience_covers_an_in_person_competency(client, enrollment, mentor):
    before = report_for(enrollment).requirement("in_person_competencies")
    assert (before.required, before.achieved, before.met) == (2, 0, False)

    response = web(client, mentor).post(
        reverse("trainees:prior_experience", args=[enrollment.pk]),
        {"competency": "stress-testing", "reason": "Supervised 40 adenosine stress studies at her previous post."},
    )

    assert response.status_code == 302
    after = report_for(enrollment).requirement("in_person_competencies")
    assert (after.achieved, after.met, after.detail["prior_experience"]) == (1, False, ["stress-testing"])
    assert "Scanning patients with cardiac implantable electronic devices" in after.missing
    page = client.get(reverse("trainees:progress", args=[enrollment.pk])).content.decode()
    assert "covered by prior experience" in page and "Supervised 40 adenosine" in page


def test_an_in_person_sign_off_and_prior_experience_together_meet_it_but_a_virtual_one_never(enrollment, mentor):
    from assessments.services import record_prior_experience

    record_prior_experience(
        actor=mentor, enrollment=enrollment, competency_code="stress-testing", reason="Two years of stress CMR."
    )
    SignOffFactory(enrollment=enrollment, competency_code="cied-scanning", signer=mentor, delivery="virtual")
    assert not report_for(enrollment).requirement("in_person_competencies").met

    SignOff.objects.filter(enrollment=enrollment).update(delivery="in_person")
    assert report_for(enrollment).requirement("in_person_competencies").met


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"competency": "mr-safety-screening", "reason": "Screened many patients."}, "competency"),  # not in-person
        ({"competency": "stress-testing", "reason": "short"}, "reason"),
        ({"competency": "stress-testing", "reason": "Patient Jane Doe, DOB 01/02/1960, stress"}, "reason"),
    ],
)
def test_prior_experience_is_refused_when_it_does_not_apply_or_says_too_little(client, enrollment, mentor, data, field):
    response = web(client, mentor).post(reverse("trainees:prior_experience", args=[enrollment.pk]), data)

    assert response.status_code == 400
    assert field in response.context["prior_form"].errors
    assert not PriorExperience.objects.exists()


def test_prior_experience_is_recorded_once(enrollment, mentor, director):
    from assessments.services import record_prior_experience

    record_prior_experience(
        actor=mentor, enrollment=enrollment, competency_code="stress-testing", reason="Two years of stress CMR."
    )
    with pytest.raises(ValidationError, match="already recorded"):
        record_prior_experience(
            actor=director, enrollment=enrollment, competency_code="stress-testing", reason="And again, later."
        )
    assert PriorExperience.objects.count() == 1


# --- the signer's credential ---------------------------------------------------------------------------------------


def test_entries_signed_by_a_mentor_without_a_credential_are_not_counted_until_they_record_one(client, program, mentor):
    newcomer = UserFactory()
    enrollment = EnrollmentFactory(program=program, mentors=[newcomer])
    for _ in range(3):
        EntryFactory(enrollment=enrollment, supervising_mentor=newcomer, signed=True, signer_credential=False)

    interpreted = report_for(enrollment).requirement("interpreted")
    assert interpreted.achieved == 0
    assert {"count": 3, "reason": LOW_MENTOR} in interpreted.detail["not_counted"]

    response = web(client, newcomer).post(
        reverse("accounts:credentials"),
        {"level": "II", "body": "SCMR", "identifier": "SCMR-L2-1", "issued_on": "2021-06-01"},
    )
    assert response.status_code == 302
    assert report_for(enrollment).requirement("interpreted").achieved == 3


def test_a_level_i_signer_does_not_count_for_level_ii(program):
    signer = CredentialFactory(level="I").user
    enrollment = EnrollmentFactory(program=program, mentors=[signer])
    EntryFactory(enrollment=enrollment, supervising_mentor=signer, signed=True)

    result = report_for(enrollment).requirement("interpreted")
    assert result.achieved == 0 and result.detail["not_counted"] == [{"count": 1, "reason": LOW_MENTOR}]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"level": "EQ", "body": "Hospital", "identifier": "EQ-1", "issued_on": "2020-01-01"}, "justification"),
        ({"level": "II", "body": "SCMR", "identifier": "", "issued_on": "2020-01-01"}, "identifier"),
        ({"level": "V", "body": "SCMR", "identifier": "X-1", "issued_on": "2020-01-01"}, "level"),
        ({"level": "II", "body": "SCMR", "identifier": "MRN 12345678", "issued_on": "2020-01-01"}, "identifier"),
    ],
)
def test_a_credential_with_missing_or_identifying_fields_is_refused(client, mentor, data, field):
    before = Credential.objects.count()
    response = web(client, mentor).post(reverse("accounts:credentials"), data)

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert Credential.objects.count() == before


# --- the director's qualification ----------------------------------------------------------------------------------

PROFILE = {"max_virtual_share": 50, "interactive_group_cap": 4, "ruleset": "scmr-2018-level-2"}


def test_an_equivalent_expert_director_is_recorded_with_the_justification_and_shown_as_such(program, director):
    from verification.selectors import program_checklist

    Credential.objects.filter(user=director).delete()
    program_services.program_profile_update(
        actor=director,
        program=program,
        profile=PROFILE,
        credential={
            "level": "EQ",
            "body": "National society",
            "identifier": "NS-2019-4",
            "issued_on": datetime.date(2019, 4, 1),
            "justification": "Fifteen years reporting CMR; led the national CMR course since 2015.",
        },
    )
    s2 = next(line for line in program_checklist(program) if line.code == "S2")
    assert s2.status == "met"
    assert "Equivalent CMR expert" in s2.evidence and "led the national CMR course" in s2.evidence


@pytest.mark.parametrize(
    ("credential", "field"),
    [
        ({"level": "EQ", "justification": ""}, "credential_justification"),
        ({"level": "II", "justification": ""}, "credential_level"),  # a Level II cannot lead a program
    ],
)
def test_a_director_qualification_that_does_not_qualify_is_refused(program, director, credential, field):
    Credential.objects.filter(user=director).delete()
    with pytest.raises(ValidationError) as caught:
        program_services.program_profile_update(
            actor=director,
            program=program,
            profile=PROFILE,
            credential={"body": "SCMR", "identifier": "X-9", "issued_on": datetime.date(2020, 1, 1), **credential},
        )
    assert field in caught.value.message_dict
    assert not Credential.objects.filter(user=director).exists()


# --- the overlay a program opts into -------------------------------------------------------------------------------


def test_level_iii_runs_without_the_overlay_unless_the_program_opts_in(program, mentor):
    enrollment = EnrollmentFactory(program=program, mentors=[mentor], target_level="III", ruleset="scmr-2018-level-3")
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, delivery="virtual_live_two_way")
    CredentialFactory(user=mentor, level="III")

    plain = report_for(enrollment)
    assert not plain.overlay and "do not apply" in plain.overlay_note
    assert plain.requirement("interpreted").achieved == 1  # an unlinked virtual live entry counts without the overlay

    program.virtual_overlay_all_levels = True
    program.save()
    opted = report_for(Enrollment.objects.select_related("program").get(pk=enrollment.pk))
    assert opted.overlay and "opted in" in opted.overlay_note
    assert opted.requirement("interpreted").achieved == 0
    assert opted.requirement("in_person_competencies") is not None


def test_new_programs_review_blind_by_default(director):
    from programs.models import Program

    program = Program.objects.create(name="New", institution="Somewhere", director=director)
    assert program.blind_review


def test_the_services_refuse_a_trainee_or_another_trainees_mentor(enrollment, other_enrollment, trainee, mentor):
    from django.core.exceptions import PermissionDenied

    from assessments.services import record_prior_experience
    from trainees.services import set_trainee_virtual_share

    with pytest.raises(PermissionDenied):
        set_trainee_virtual_share(actor=trainee, enrollment=enrollment, share=10, reason="I would like less.")
    with pytest.raises(PermissionDenied):
        record_prior_experience(
            actor=mentor, enrollment=other_enrollment, competency_code="stress-testing", reason="Not my trainee."
        )
    assert Enrollment.objects.get(pk=enrollment.pk).max_virtual_share is None
    assert not PriorExperience.objects.exists()
