from datetime import timedelta
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import Case, CaseLogEntry
from programs.models import Membership, Program
from trainees.models import Enrollment
from trainingportal.accounts.models import Credential
from trainingportal.core.phi import find_phi
from verification.models import VerificationRequest

PASSWORD = "demo-pass-2026"
ROLE_LOGINS = ["director@demo.test", "mentor@demo.test", "trainee@demo.test", "reviewer@demo.test"]
ALL_LOGINS = ROLE_LOGINS + ["mentor2@demo.test", "trainee2@demo.test", "trainee3@demo.test", "trainee4@demo.test"]
FREE_TEXT = ["findings", "impression", "key_measurements", "mentor_feedback", "returned_reason"]


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True
    return settings


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "emails": EmailAddress.objects.count(),
        "credentials": Credential.objects.count(),
        "authenticators": Authenticator.objects.count(),
        "programs": Program.objects.count(),
        "memberships": Membership.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "enrollment_mentors": Enrollment.mentors.through.objects.count(),
        "cases": Case.objects.count(),
        "case_categories": Case.categories.through.objects.count(),
        "entries": CaseLogEntry.objects.count(),
        "signed": CaseLogEntry.objects.filter(status=CaseLogEntry.Status.SIGNED).count(),
    }


@pytest.mark.django_db
def test_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        seed()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_force_runs_with_debug_off(settings):
    settings.DEBUG = False
    seed(force=True)
    assert Program.objects.filter(name__startswith="Northbridge Heart Institute").exists()


@pytest.mark.django_db
def test_running_twice_leaves_the_same_data(debug_on):
    seed()
    first = counts()
    seed()
    assert counts() == first
    assert first["users"] == 8
    assert first["entries"] >= 250


@pytest.mark.django_db
def test_running_again_on_a_later_day_adds_nothing(debug_on, monkeypatch):
    seed()
    first = counts()
    later = timezone.localdate() + timedelta(days=9)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: later)
    seed()
    assert counts() == first


@pytest.mark.django_db
def test_every_demo_login_authenticates(debug_on, client):
    seed()
    for email in ALL_LOGINS:
        user = authenticate(email=email, password=PASSWORD)
        assert user is not None, email
        assert EmailAddress.objects.filter(user=user, email=email, verified=True, primary=True).exists()
    assert client.login(email="trainee@demo.test", password=PASSWORD)


@pytest.mark.django_db
def test_director_and_reviewer_have_totp(debug_on):
    seed()
    seed()
    with_totp = Authenticator.objects.filter(type=Authenticator.Type.TOTP).values_list("user__email", flat=True)
    assert sorted(with_totp) == ["director@demo.test", "reviewer@demo.test"]


@pytest.mark.django_db
def test_output_lists_one_login_per_role_and_the_password(debug_on):
    out = seed()
    for email in ROLE_LOGINS:
        assert email in out
    assert PASSWORD in out


@pytest.mark.django_db
def test_program_people_and_enrollments(debug_on):
    seed()
    program = Program.objects.get()
    assert program.director.email == "director@demo.test"
    assert program.mode == Program.Mode.HYBRID
    assert (program.onsite_training_years, program.onsite_trainees_trained) == (12, 85)
    assert program.privacy_attestation and program.video_setup_attestation
    assert (program.max_virtual_share, program.interactive_group_cap) == (50, 4)
    assert program.director.credentials.get().level == Credential.Level.III
    reviewer = get_user_model().objects.get(email="reviewer@demo.test")
    assert reviewer.is_reviewer and reviewer.institution != program.institution
    assert not Membership.objects.filter(user=reviewer).exists()
    assert Enrollment.objects.filter(program=program, ruleset="scmr-2018-level-2", target_level="II").count() == 4
    level_one = Enrollment.objects.get(trainee__email="trainee4@demo.test")
    assert level_one.carried_forward_cases == 50
    for enrollment in Enrollment.objects.all():
        assert enrollment.mentors.exists()
    assert not VerificationRequest.objects.exists()


@pytest.mark.django_db
def test_trainee2_meets_every_requirement_on_evidence_that_supports_it(debug_on):
    from assessments.models import SignOff
    from assessments.selectors import competency_board
    from progress.selectors.reports import report_for
    from training.models import Attendance
    from trainingportal.engine.facts import NOT_LINKED

    seed()
    enrollment = Enrollment.objects.select_related("program").get(trainee__email="trainee2@demo.test")
    report = report_for(enrollment)
    assert report.all_met, report.missing
    assert report.overlay and "over_virtual_cap" not in report.flag_codes
    # Every virtual live case comes from a case review of the program that the trainee attended, with input.
    virtual_live = CaseLogEntry.objects.filter(
        enrollment=enrollment, status=CaseLogEntry.Status.SIGNED, delivery=CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY
    )
    assert virtual_live.exists()
    for entry in virtual_live.select_related("session"):
        assert entry.session.program_id == enrollment.program_id
        assert Attendance.objects.filter(session=entry.session, enrollment=enrollment, active_input=True).exists()
    # Performed means operating the scanner, and at least 25 of them in person.
    hands_on = report.requirement("hands_on")
    assert hands_on.detail["in_person"] >= 25 and hands_on.achieved >= 50
    # Every competency of the framework is signed off at the sign-off level, with evidence from the log; stress
    # testing and device patients in person, on in-person entries.
    board = competency_board(enrollment)
    assert {item["status"] for item in board} == {"signed"}
    for sign_off in SignOff.objects.filter(enrollment=enrollment).prefetch_related("evidence_entries"):
        evidence = list(sign_off.evidence_entries.all())
        assert evidence and all(e.enrollment_id == enrollment.pk and e.status == "signed" for e in evidence)
        if sign_off.competency.in_person_required:
            assert sign_off.delivery == "in_person" and {e.delivery for e in evidence} == {"in_person"}
    # Every signature that counts is a mentor's with a credential of at least Level II.
    for entry in CaseLogEntry.objects.filter(enrollment=enrollment, status=CaseLogEntry.Status.SIGNED):
        assert entry.signed_by.credentials.filter(level__in=["II", "III"]).exists()
    # The others are honestly not there yet, and the main login shows why some cases do not count.
    for other in Enrollment.objects.exclude(pk=enrollment.pk).select_related("program"):
        assert not report_for(other).all_met
    main = report_for(Enrollment.objects.select_related("program").get(trainee__email="trainee@demo.test"))
    reasons = {n["reason"] for n in main.requirement("interpreted").detail["not_counted"]}
    assert NOT_LINKED in reasons


@pytest.mark.django_db
def test_demo_cases_record_what_the_study_was(debug_on):
    from curriculum import cmr

    seed()
    cases = list(Case.objects.all())
    assert all(cmr.diagnosis(c.diagnosis) for c in cases)
    assert all(c.sequences and set(c.sequences) <= cmr.SEQUENCE_CODES for c in cases)
    assert {c.field_strength for c in cases} == {"1.5T", "3T"}
    assert {c.vendor for c in cases} >= {"siemens", "philips", "ge"}
    stress = [c for c in cases if c.stress_agent == "adenosine" and c.source == Case.Source.LIVE_SCAN]
    assert stress and all(c.stress_supervisor and c.stress_supervisor.email == "director@demo.test" for c in stress)


@pytest.mark.django_db
def test_entries_are_consistent(debug_on):
    seed()
    today = timezone.localdate()
    for enrollment in Enrollment.objects.prefetch_related("mentors", "entries"):
        mentors = set(enrollment.mentors.all())
        entries = list(enrollment.entries.all())
        virtual = sum(e.delivery != CaseLogEntry.Delivery.IN_PERSON for e in entries)
        assert virtual * 100 <= enrollment.program.max_virtual_share * len(entries)
        statuses = {e.status for e in entries}
        assert CaseLogEntry.Status.DRAFT in statuses and CaseLogEntry.Status.SIGNED in statuses
        for entry in entries:
            assert enrollment.start_date <= entry.performed_on <= today
            assert entry.supervising_mentor in mentors
            if entry.status == CaseLogEntry.Status.SIGNED:
                assert entry.signed_by in mentors and entry.signed_at >= entry.submitted_at
                assert entry.mentor_feedback and entry.mentor_agrees is not None
            if entry.status == CaseLogEntry.Status.RETURNED:
                assert entry.returned_reason
    assert CaseLogEntry.objects.filter(status=CaseLogEntry.Status.RETURNED).exists()
    assert CaseLogEntry.objects.filter(status=CaseLogEntry.Status.SUBMITTED).exists()


@pytest.mark.django_db
def test_case_mix_is_realistic(debug_on):
    seed()
    cases = list(Case.objects.prefetch_related("categories"))
    sources = {c.source for c in cases}
    assert sources == set(Case.Source.values)
    archive = sum(c.source == Case.Source.CENTER_ARCHIVE for c in cases)
    assert archive == max(sum(c.source == s for c in cases) for s in Case.Source.values)
    for case in cases:
        assert 1 <= len(case.categories.all()) <= 3
        assert case.technique_tags and case.indication
        case.full_clean()  # the pseudonymous-reference validator


@pytest.mark.django_db
def test_no_free_text_looks_like_phi(debug_on):
    seed()
    texts = [(c.reference, "indication", c.indication) for c in Case.objects.all()]
    for entry in CaseLogEntry.objects.select_related("case"):
        texts += [(entry.case.reference, name, getattr(entry, name)) for name in FREE_TEXT]
    flagged = [(ref, name, find_phi(text)) for ref, name, text in texts if find_phi(text)]
    assert flagged == []
