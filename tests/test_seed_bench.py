from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import Case, CaseLogEntry
from demo.management.commands.seed_bench import BENCH_PASSWORD
from programs.models import Membership, Program
from trainees.models import Enrollment
from training.models import Attendance, TrainingSession
from trainingportal.accounts.models import Credential
from trainingportal.core.phi import find_phi

from .factories import EntryFactory, MembershipFactory

FREE_TEXT = ["findings", "impression", "key_measurements", "mentor_feedback", "returned_reason"]
SMALL = {"programs": 2, "trainees_per_program": 3, "cases_per_trainee": 10}


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_bench", stdout=out, **{**SMALL, **options})
    return out.getvalue()


def bench_counts() -> dict[str, int]:
    bench = {"email__endswith": "@bench.test"}
    return {
        "users": get_user_model().objects.filter(**bench).count(),
        "programs": Program.objects.filter(director__email__endswith="@bench.test").count(),
        "enrollments": Enrollment.objects.filter(trainee__email__endswith="@bench.test").count(),
        "cases": Case.objects.filter(program__director__email__endswith="@bench.test").count(),
        "entries": CaseLogEntry.objects.filter(enrollment__trainee__email__endswith="@bench.test").count(),
    }


@pytest.fixture
def outside_entry(enrollment, mentor):
    """Someone else's data, which --reset must leave alone."""
    return EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)


@pytest.mark.django_db
def test_small_run_gives_exact_counts():
    out = seed()
    programs = Program.objects.all()
    assert programs.count() == 2
    mentors = Membership.objects.filter(role=Membership.Role.MENTOR)
    assert 6 <= mentors.count() <= 10
    for program in programs:
        assert 3 <= mentors.filter(program=program).count() <= 5
        assert program.memberships.filter(role=Membership.Role.DIRECTOR, user=program.director).exists()
    assert Membership.objects.filter(role=Membership.Role.TRAINEE).count() == 6
    users = 2 + 6 + mentors.count()
    assert get_user_model().objects.count() == users
    assert EmailAddress.objects.filter(verified=True, primary=True).count() == users
    assert Credential.objects.count() == 2 + mentors.count()
    assert Enrollment.objects.count() == 6
    assert Case.objects.count() == CaseLogEntry.objects.count() == 60
    for enrollment in Enrollment.objects.all():
        assert enrollment.entries.count() == 10
        assert 1 <= enrollment.mentors.count() <= 2
    assert "150,000" not in out and "60 log entries" in out


@pytest.mark.django_db
def test_bench_users_are_namespaced_and_can_sign_in():
    seed()
    emails = set(get_user_model().objects.values_list("email", flat=True))
    assert {"bench-p001-director@bench.test", "bench-p002-t003@bench.test", "bench-p001-m1@bench.test"} <= emails
    assert all(e.startswith("bench-p") and e.endswith("@bench.test") for e in emails)
    assert authenticate(email="bench-p002-t003@bench.test", password=BENCH_PASSWORD) is not None


@pytest.mark.django_db
def test_directors_have_totp():
    seed()
    directors = [p.director for p in Program.objects.select_related("director")]
    assert all(is_mfa_enabled(d) for d in directors)
    assert Authenticator.objects.filter(type=Authenticator.Type.TOTP).count() == 2
    assert all(c.level == Credential.Level.III for d in directors for c in d.credentials.all())


@pytest.mark.django_db
def test_refuses_to_seed_over_existing_bench_data():
    seed()
    with pytest.raises(CommandError, match="--reset"):
        seed()
    assert bench_counts()["entries"] == 60


@pytest.mark.django_db
def test_reset_replaces_bench_rows_only(outside_entry, outsider):
    others = {
        "users": get_user_model().objects.count(),
        "programs": Program.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "memberships": Membership.objects.count(),
        "entries": CaseLogEntry.objects.count(),
        "cases": Case.objects.count(),
        "authenticators": Authenticator.objects.count(),
    }
    seed()
    seed(reset=True, programs=1, trainees_per_program=2, cases_per_trainee=4)
    counts = bench_counts()
    assert 6 <= counts.pop("users") <= 8  # director, 3-5 mentors, 2 trainees
    assert counts == {"programs": 1, "enrollments": 2, "cases": 8, "entries": 8}

    call_command("seed_bench", programs=0, reset=True, stdout=StringIO())
    assert set(bench_counts().values()) == {0}
    assert {
        "users": get_user_model().objects.count(),
        "programs": Program.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "memberships": Membership.objects.count(),
        "entries": CaseLogEntry.objects.count(),
        "cases": Case.objects.count(),
        "authenticators": Authenticator.objects.count(),
    } == others
    outside_entry.refresh_from_db()
    assert outside_entry.status == CaseLogEntry.Status.SIGNED


@pytest.mark.django_db
def test_entries_are_valid_and_supervised_by_program_mentors():
    seed()
    today = timezone.localdate()
    program_mentors = set(Membership.objects.filter(role=Membership.Role.MENTOR).values_list("program_id", "user_id"))
    entries = CaseLogEntry.objects.select_related("enrollment", "case", "session").prefetch_related(
        "enrollment__mentors"
    )
    for entry in entries:
        enrollment = entry.enrollment
        assert any(getattr(entry, role) for role in CaseLogEntry.ROLE_FIELDS)
        assert (enrollment.program_id, entry.supervising_mentor_id) in program_mentors
        assert entry.supervising_mentor_id != enrollment.trainee_id
        assert entry.supervising_mentor in enrollment.mentors.all()
        assert entry.case.program_id == enrollment.program_id
        assert enrollment.start_date <= entry.performed_on <= today
        if entry.status == CaseLogEntry.Status.SIGNED:
            assert entry.signed_at and entry.signed_by_id == entry.supervising_mentor_id
            assert entry.submitted_at <= entry.signed_at <= timezone.now()
            assert entry.mentor_feedback and entry.mentor_agrees is not None
        if entry.status == CaseLogEntry.Status.DRAFT:
            assert entry.submitted_at is None and entry.signed_at is None
        else:
            assert entry.submitted_at
        if entry.session_id:
            assert entry.session.type == TrainingSession.Type.LIVE_ACQUISITION
            assert entry.session.program_id == enrollment.program_id
            assert entry.delivery == CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY
            assert entry.performed_on == entry.session.starts_at.date()
            assert Attendance.objects.filter(session=entry.session, enrollment=enrollment).exists()
            # A remote trainee watches only through a shared console, and never from the room.
            assert entry.observed_remotely == entry.session.console_shared
            assert not entry.observed_in_room
    statuses = list(CaseLogEntry.objects.values_list("status", flat=True))
    assert statuses.count(CaseLogEntry.Status.SIGNED) > len(statuses) / 2
    assert CaseLogEntry.Status.SUBMITTED in statuses


@pytest.mark.django_db
def test_cases_have_valid_references_and_one_to_three_categories():
    seed()
    for case in Case.objects.prefetch_related("categories"):
        case.full_clean()  # pseudonymous reference, program-scoped uniqueness
        assert 1 <= len(case.categories.all()) <= 3
        assert case.indication and case.technique_tags
    assert Case.objects.values("reference", "program").distinct().count() == 60


@pytest.mark.django_db
def test_sessions_include_live_acquisition_with_and_without_console_sharing():
    seed()
    live = TrainingSession.objects.filter(type=TrainingSession.Type.LIVE_ACQUISITION)
    assert live.filter(console_shared=True).exists() and live.filter(console_shared=False).exists()
    assert TrainingSession.objects.filter(type=TrainingSession.Type.DIDACTIC_LIVE).exists()
    for session in live.filter(console_shared=True):
        assert session.console_shared_by_id == session.mentor_id and session.console_shared_at
    for attendance in Attendance.objects.select_related("session", "enrollment"):
        assert attendance.enrollment.program_id == attendance.session.program_id
        assert attendance.enrollment.start_date <= attendance.session.starts_at.date()
    for session in live.prefetch_related("attendances"):
        assert len(session.attendances.all()) <= session.capacity


@pytest.mark.django_db
def test_no_free_text_looks_like_phi():
    seed()
    texts = []
    for case in Case.objects.all():
        texts += [(case.reference, "reference", case.reference), (case.reference, "indication", case.indication)]
    for entry in CaseLogEntry.objects.select_related("case"):
        texts += [(entry.case.reference, name, getattr(entry, name)) for name in FREE_TEXT]
    texts += [(s.pk, "title", s.title) for s in TrainingSession.objects.all()]
    texts += [(a.pk, "note", a.active_input_note) for a in Attendance.objects.all()]
    for program in Program.objects.all():
        texts += [(program.pk, f, getattr(program, f)) for f in ("track_record_evidence", "video_setup_attestation")]
    flagged = [(ref, name, find_phi(text)) for ref, name, text in texts if find_phi(text)]
    assert flagged == []


@pytest.mark.django_db
def test_reset_keeps_a_real_user_added_to_a_bench_program(program):
    # A real mentor added to a bench program keeps their account when the bench data goes.
    seed()
    bench_program = Program.objects.get(director__email="bench-p001-director@bench.test")
    guest = MembershipFactory(program=bench_program, role=Membership.Role.MENTOR).user
    call_command("seed_bench", programs=0, reset=True, stdout=StringIO())
    assert get_user_model().objects.filter(pk=guest.pk).exists()
    assert Program.objects.filter(pk=program.pk).exists()
