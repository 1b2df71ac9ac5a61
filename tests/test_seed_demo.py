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
def test_trainee2_is_close_to_completion(debug_on):
    seed()
    entries = CaseLogEntry.objects.filter(enrollment__trainee__email="trainee2@demo.test")
    assert entries.filter(interpreted=True).count() >= 150
    assert entries.filter(status=CaseLogEntry.Status.SIGNED).count() >= 150


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
