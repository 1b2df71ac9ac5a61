"""gather_facts_for (and gather_tallied_facts_for, the counted version for tables): what the engine sees of the
database (signed entries only, topics, console flags, leave, sign-offs, reviews waiting), in a fixed number of
queries whatever the number of enrollments or entries.

`BulkProgram` builds large programs with bulk inserts (50 trainees x 300 cases in a second or two); the dashboard
query-count tests use it too.
"""

import dataclasses
import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from assessments.models import Competency, PriorExperience, SignOff
from cases.models import Case, CaseLogEntry
from curriculum.models import Category
from programs.models import Membership
from progress.selectors.facts import gather_facts, gather_facts_for, gather_tallied_facts_for
from trainees.models import Enrollment, LeavePeriod
from training.models import Attendance, TrainingSession
from trainingportal.accounts.models import User
from trainingportal.engine import EntryFact, SessionFact, SignOffFact, get_ruleset
from trainingportal.engine.evaluate import tally_entries
from trainingportal.engine.facts import LOW_MENTOR

from ..factories import (
    AttendanceFactory,
    CredentialFactory,
    EnrollmentFactory,
    EntryFactory,
    SessionFactory,
    SignOffFactory,
    UserFactory,
)
from ..queries import assert_same_query_count, captured_queries

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status


class BulkProgram:
    """Trainees, cases, sessions, leave and sign-offs for one program, written with bulk_create.

    Entry i of a trainee: interpreted (every third also hands-on), every fourth virtual (every eighth from the shared
    live-acquisition session the trainee attended; the other virtual ones linked to no session, so the overlay does
    not count them), one or two curriculum topics; every tenth awaits review (submitted 10 days ago) and
    every twentieth is a draft; the rest are signed. Every trainee attends one live scan and one lecture, has one
    leave period and one sign-off.
    """

    def __init__(self, program, mentor, *, prefix: str = "bulk"):
        self.program, self.mentor, self.prefix = program, mentor, prefix
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.enrollments: list[Enrollment] = []
        self.logged: dict[int, int] = {}  # enrollment pk -> entries written so far
        self.cases: list[Case] = []
        self._rows: dict[int, tuple] = {}
        self.category_ids = list(Category.objects.order_by("position").values_list("pk", flat=True))
        starts = timezone.make_aware(datetime.datetime.combine(self.today, datetime.time(9)))
        self.live = SessionFactory(
            program=program,
            type=TrainingSession.Type.LIVE_ACQUISITION,
            title="Live scan",
            mentor=mentor,
            starts_at=starts - datetime.timedelta(days=14),
            duration_minutes=90,
            console_shared=True,
        )
        self.lecture = SessionFactory(
            program=program,
            type=TrainingSession.Type.DIDACTIC_LIVE,
            title="Lecture",
            mentor=mentor,
            starts_at=starts - datetime.timedelta(days=7),
        )
        self.competency, _ = Competency.objects.get_or_create(
            framework="scmr-level-2",
            version=1,
            code=f"{prefix}-stress",
            defaults={"title": "Stress perfusion", "in_person_required": True},
        )

    def add_trainees(self, n: int, *, mentored: bool = True, status: str = Enrollment.Status.ACTIVE) -> list:
        first = len(self.enrollments)
        users = User.objects.bulk_create(
            User(
                email=f"{self.prefix}{first + i:03d}@example.test",
                full_name=f"{self.prefix.title()} Trainee {first + i:03d}",
                password="!",
            )
            for i in range(n)
        )
        Membership.objects.bulk_create(
            Membership(user=u, program=self.program, role=Membership.Role.TRAINEE) for u in users
        )
        enrollments = Enrollment.objects.bulk_create(
            Enrollment(
                trainee=u,
                program=self.program,
                start_date=self.today - datetime.timedelta(days=60 + i),
                status=status,
                carried_forward_cases=10 if i % 5 == 0 else 0,
            )
            for i, u in enumerate(users)
        )
        if mentored:
            Enrollment.mentors.through.objects.bulk_create(
                Enrollment.mentors.through(enrollment_id=e.pk, user_id=self.mentor.pk) for e in enrollments
            )
        Attendance.objects.bulk_create(
            Attendance(session=s, enrollment=e) for e in enrollments for s in (self.live, self.lecture)
        )
        LeavePeriod.objects.bulk_create(
            LeavePeriod(
                enrollment=e,
                start_date=self.today - datetime.timedelta(days=30),
                end_date=self.today - datetime.timedelta(days=26),
            )
            for e in enrollments
        )
        SignOff.objects.bulk_create(
            SignOff(
                enrollment=e,
                competency=self.competency,
                signer=self.mentor,
                signed_on=self.today - datetime.timedelta(days=3),
                delivery=SignOff.Delivery.VIRTUAL if i % 2 else SignOff.Delivery.IN_PERSON,
            )
            for i, e in enumerate(enrollments)
        )
        self.enrollments += enrollments
        return enrollments

    def add_cases(self, enrollments, n: int) -> None:
        """n more log entries for each enrollment. Entry i of every trainee is on case i of the program (a shared
        teaching collection), so 300 cases serve 15,000 entries.

        The entries are written with multi-row INSERTs of values the model prepared: bulk_create spends ~0.2 ms per
        object in Django's per-value preparation, which for 15,000 entries is most of a test's time. Entry i has
        the same values for every trainee, so each row is prepared once and only the enrollment differs."""
        fields = [f for f in CaseLogEntry._meta.concrete_fields if not f.primary_key]
        enrollment_column = next(k for k, f in enumerate(fields) if f.name == "enrollment")
        rows = []
        for e in enrollments:
            done = self.logged.get(e.pk, 0)
            self._cases_up_to(done + n)
            for i in range(done, done + n):
                row = list(self._row(fields, i))
                row[enrollment_column] = e.pk
                rows.append(row)
            self.logged[e.pk] = done + n
        qn = connection.ops.quote_name
        insert = f"INSERT INTO {qn(CaseLogEntry._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) VALUES "
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        batch = max(1, min(connection.ops.bulk_batch_size(fields, rows), 1000))  # SQLite: at most 999 parameters
        with connection.cursor() as cursor:
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                cursor.execute(insert + ", ".join([one] * len(chunk)), [v for row in chunk for v in row])

    def _row(self, fields, i: int) -> tuple:
        if i not in self._rows:
            entry = self._entry(self.enrollments[0], i)
            self._rows[i] = tuple(f.get_db_prep_save(f.pre_save(entry, True), connection) for f in fields)
        return self._rows[i]

    def _cases_up_to(self, n: int) -> None:
        first = len(self.cases)
        if n <= first:
            return
        cases = Case.objects.bulk_create(
            Case(
                program=self.program,
                reference=f"{self.prefix.upper()}-{i:04d}",
                source=Case.Source.LIVE_SCAN if i % 8 == 0 else Case.Source.CENTER_ARCHIVE,
            )
            for i in range(first, n)
        )
        Case.categories.through.objects.bulk_create(
            Case.categories.through(case_id=case.pk, category_id=topic)
            for i, case in enumerate(cases, start=first)
            for topic in self.topics_of(i)
        )
        self.cases += cases

    def topics_of(self, i: int) -> list[int]:
        return [self.category_ids[i % 15]] + ([self.category_ids[(i + 7) % 15]] if i % 2 else [])

    def _entry(self, enrollment, i: int) -> CaseLogEntry:
        status = Status.DRAFT if i % 20 == 19 else Status.SUBMITTED if i % 10 == 9 else Status.SIGNED
        virtual = i % 4 == 0
        return CaseLogEntry(
            enrollment=enrollment,
            case=self.cases[i],
            performed_on=self.today - datetime.timedelta(days=i % 110),
            interpreted=True,
            assisted_console=i % 3 == 0,
            delivery=CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY if virtual else CaseLogEntry.Delivery.IN_PERSON,
            session=self.live if i % 8 == 0 else None,
            supervising_mentor=self.mentor,
            status=status,
            submitted_at=None if status == Status.DRAFT else self.now - datetime.timedelta(days=10),
            signed_at=self.now if status == Status.SIGNED else None,
            signed_by=self.mentor if status == Status.SIGNED else None,
            impression="Normal study." if status == Status.SIGNED else "",
        )

    @staticmethod
    def signed_of(n: int) -> int:
        return sum(1 for i in range(n) if not (i % 20 == 19 or i % 10 == 9))

    @staticmethod
    def counted_of(n: int) -> int:
        """Signed entries that a virtual-overlay rule counts: not the virtual ones linked to no session."""
        return sum(1 for i in range(n) if not (i % 20 == 19 or i % 10 == 9) and not (i % 4 == 0 and i % 8 != 0))


def resign(enrollments, signers) -> None:
    """Every other signed entry of the k-th enrollment is re-signed by signers[k % len(signers)] (signers of other
    levels, or without a credential, in bulk data that the program's mentor signed)."""
    for k, e in enumerate(enrollments):
        ids = list(
            CaseLogEntry.objects.filter(enrollment=e, status=Status.SIGNED).order_by("pk").values_list("pk", flat=True)
        )
        CaseLogEntry.objects.filter(pk__in=ids[::2]).update(signed_by=signers[k % len(signers)])


def signers_of_every_level() -> list[User]:
    """Mentors holding Level I, II, III, Advanced Practitioner, an equivalent, and none."""
    users = []
    for level in ("I", "II", "III", "AP", "EQ", None):
        user = UserFactory(full_name=f"Signer {level or 'without credential'}")
        if level:
            CredentialFactory(user=user, level=level, justification="Equivalent CMR expert." if level == "EQ" else "")
        users.append(user)
    return users


def reload(enrollments) -> list[Enrollment]:
    """As the views pass them in: with program (and trainee) joined, in a stable order."""
    pks = [e.pk for e in enrollments]
    return list(Enrollment.objects.select_related("program", "trainee").filter(pk__in=pks).order_by("pk"))


# --- what the facts contain ---------------------------------------------------------------------------------------


def test_only_signed_entries_become_facts(enrollment, mentor):
    signed = [EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True) for _ in range(2)]
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor)  # draft
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, status=Status.RETURNED, returned_reason="More.")

    facts = gather_facts(enrollment)

    assert sorted(e.id for e in facts.entries) == sorted(e.pk for e in signed)
    assert facts.pending_reviews == 1
    assert facts.drafts == 2  # drafts and returned entries: the trainee has to act on both


def test_an_entry_becomes_a_fact_with_its_roles_delivery_source_and_topics(enrollment, mentor):
    entry = EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        signed=True,
        interpreted=True,
        observed_in_room=True,
        post_processed=True,
        delivery=CaseLogEntry.Delivery.ASYNCHRONOUS,
        performed_on=datetime.date(2026, 5, 4),
        case__categories=["valvular", "masses"],
        case__source=Case.Source.REGISTRY,
        case__complete_study=False,
    )

    (fact,) = gather_facts(enrollment).entries

    assert fact == EntryFact(
        id=entry.pk,
        date=datetime.date(2026, 5, 4),
        roles=frozenset({"interpreted", "observed_in_room", "post_processed"}),
        delivery="asynchronous",
        source="registry",
        complete_study=False,
        categories=frozenset({"valvular", "masses"}),
        session_type=None,
        console_shared=False,
        signer_level="II",  # the mentor fixture's credential
    )
    assert isinstance(fact.date, datetime.date)


def test_an_entry_carries_its_signers_best_credential_level(enrollment, mentor, program):
    CredentialFactory(user=mentor, level="III", identifier="SCMR-L3-MENTOR")  # besides their Level II
    uncredentialed = UserFactory(full_name="Nina Nocredential")
    advanced = UserFactory(full_name="Ada Advanced")
    CredentialFactory(user=advanced, level="AP", identifier="AP-1")
    CredentialFactory(user=advanced, level="I", identifier="L1-1")
    by_mentor = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)
    by_nobody = EntryFactory(
        enrollment=enrollment, supervising_mentor=uncredentialed, signed=True, signer_credential=False
    )
    by_advanced = EntryFactory(enrollment=enrollment, supervising_mentor=advanced, signed=True)

    levels = {fact.id: fact.signer_level for fact in gather_facts(enrollment).entries}

    assert levels == {by_mentor.pk: "III", by_nobody.pk: None, by_advanced.pk: "AP"}


def test_a_case_without_topics_has_none(enrollment, mentor):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)
    entry.case.categories.clear()

    assert gather_facts(enrollment).entries[0].categories == frozenset()


def test_entries_are_in_date_order(enrollment, mentor):
    days = [5, 1, 9, 3]
    for d in days:
        EntryFactory(
            enrollment=enrollment,
            supervising_mentor=mentor,
            signed=True,
            performed_on=timezone.localdate() - datetime.timedelta(days=d),
        )
    dates = [e.date for e in gather_facts(enrollment).entries]
    assert dates == sorted(dates)


def _session(program, mentor, *, type_=TrainingSession.Type.LIVE_ACQUISITION, console_shared=False, minutes=90):
    return SessionFactory(
        program=program,
        type=type_,
        title="Session",
        mentor=mentor,
        starts_at=timezone.now() - datetime.timedelta(days=2),
        duration_minutes=minutes,
        console_shared=console_shared,
    )


@pytest.mark.parametrize("console_shared", [True, False])
def test_entries_carry_their_sessions_console_flag(enrollment, mentor, program, console_shared):
    live = _session(program, mentor, console_shared=console_shared)
    AttendanceFactory(session=live, enrollment=enrollment, active_input=True)
    EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        signed=True,
        assisted_console=True,
        delivery=CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY,
        session=live,
    )

    (fact,) = gather_facts(enrollment).entries

    assert fact.session_type == "live_acquisition"
    assert fact.console_shared is console_shared
    assert fact.virtual_acquisition_without_console is (not console_shared)


@pytest.mark.parametrize(
    ("attend", "active_input", "attended", "with_input"),
    [(False, False, False, False), (True, False, True, False), (True, True, True, True)],
)
def test_entries_carry_the_trainees_attendance_of_their_session(
    enrollment, mentor, program, attend, active_input, attended, with_input
):
    live = _session(program, mentor, console_shared=True)
    if attend:
        AttendanceFactory(session=live, enrollment=enrollment, active_input=active_input)
    EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        signed=True,
        assisted_console=True,
        delivery=CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY,
        session=live,
    )

    (fact,) = gather_facts(enrollment).entries

    assert (fact.attended, fact.active_input) == (attended, with_input)
    assert fact.virtual_acquisition_without_console is not with_input


def test_a_session_of_another_program_is_not_attendance(enrollment, mentor, program):
    """Even with an attendance row there (data from before the service checked it), another program's session
    does not make a virtual entry count."""
    elsewhere = SessionFactory(type="live_acquisition", console_shared=True)
    AttendanceFactory(session=elsewhere, enrollment=enrollment, active_input=True)
    EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        signed=True,
        assisted_console=True,
        delivery=CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY,
        session=elsewhere,
    )

    (fact,) = gather_facts(enrollment).entries

    assert not fact.attended and fact.unlinked_virtual_live


def test_attended_sessions_become_facts_with_the_number_of_attendees(enrollment, other_enrollment, mentor, program):
    review = _session(program, mentor, type_=TrainingSession.Type.CASE_REVIEW, console_shared=True, minutes=75)
    AttendanceFactory(session=review, enrollment=enrollment, active_input=True)
    AttendanceFactory(session=review, enrollment=other_enrollment)
    lecture = _session(program, mentor, type_=TrainingSession.Type.DIDACTIC_RECORDED, minutes=45)
    AttendanceFactory(session=lecture, enrollment=other_enrollment)  # not this trainee's

    facts = gather_facts(enrollment)

    assert facts.sessions == (
        SessionFact(
            id=review.pk,
            type="case_review",
            delivery="virtual_two_way",
            date=timezone.localtime(review.starts_at).date(),
            minutes=75,
            mentor_id=mentor.pk,
            attendees=2,
            console_shared=True,
            active_input=True,
        ),
    )


def test_the_in_person_framework_and_prior_experience_become_facts(enrollment, other_enrollment, mentor):
    stress = Competency.objects.get(code="stress-testing")
    PriorExperience.objects.create(
        enrollment=enrollment, competency=stress, recorded_by=mentor, reason="40 stress studies at St Elsewhere."
    )
    cied = Competency.objects.get(code="cied-scanning")
    PriorExperience.objects.create(
        enrollment=other_enrollment, competency=cied, recorded_by=mentor, reason="20 CIED scans at St Elsewhere."
    )

    facts = gather_facts_for(reload([enrollment, other_enrollment]))

    # The framework's competencies that need in-person experience (seeded by migration), not the sign-offs.
    framework = tuple(
        Competency.objects.filter(framework="scmr-level-2", version=1, in_person_required=True)
        .order_by("position", "code")
        .values_list("code", "title")
    )
    assert {code for code, _ in framework} >= {"stress-testing", "cied-scanning"}
    assert "mr-safety-screening" not in {code for code, _ in framework}
    assert facts[enrollment.pk].in_person_competencies == facts[other_enrollment.pk].in_person_competencies == framework
    assert facts[enrollment.pk].prior_experience == {"stress-testing"}
    assert facts[other_enrollment.pk].prior_experience == {"cied-scanning"}


def test_leave_periods_become_facts(enrollment, other_enrollment):
    LeavePeriod.objects.create(
        enrollment=enrollment, start_date=datetime.date(2026, 8, 1), end_date=datetime.date(2026, 8, 14)
    )
    LeavePeriod.objects.create(
        enrollment=other_enrollment, start_date=datetime.date(2026, 9, 1), end_date=datetime.date(2026, 9, 2)
    )

    assert gather_facts(enrollment).leave == ((datetime.date(2026, 8, 1), datetime.date(2026, 8, 14)),)


def test_sign_offs_become_facts_with_the_in_person_requirement(enrollment, mentor):
    # Of the competencies seeded by the data migration, stress testing needs in-person experience, MR safety
    # screening does not.
    for code, delivery in (("stress-testing", "virtual"), ("mr-safety-screening", "in_person")):
        SignOffFactory(
            enrollment=enrollment,
            competency_code=code,
            signer=mentor,
            signed_on=datetime.date(2026, 10, 1),
            delivery=delivery,
        )

    assert set(gather_facts(enrollment).sign_offs) == {
        SignOffFact("stress-testing", "virtual", datetime.date(2026, 10, 1), True),
        SignOffFact("mr-safety-screening", "in_person", datetime.date(2026, 10, 1), False),
    }


@pytest.mark.parametrize(("days", "waiting"), [(8, 1), (7.5, 1), (6, 0), (0, 0)])
def test_an_entry_submitted_more_than_7_days_ago_is_waiting(enrollment, mentor, days, waiting):
    EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        submitted=True,
        submitted_at=timezone.now() - datetime.timedelta(days=days),
    )

    facts = gather_facts(enrollment)

    assert facts.pending_reviews == 1
    assert facts.reviews_waiting_over_7_days == waiting


def test_signed_or_returned_entries_are_never_waiting(enrollment, mentor):
    old = timezone.now() - datetime.timedelta(days=30)
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, submitted_at=old)
    EntryFactory(
        enrollment=enrollment, supervising_mentor=mentor, status=Status.RETURNED, submitted_at=old, returned_reason="x"
    )

    facts = gather_facts(enrollment)
    assert (facts.pending_reviews, facts.reviews_waiting_over_7_days, facts.drafts) == (0, 0, 1)


def test_enrollment_and_program_settings_become_facts(program, trainee):
    program.max_virtual_share = 30
    program.interactive_group_cap = 3
    program.save()
    enrollment = EnrollmentFactory(
        trainee=trainee,
        program=program,
        start_date=datetime.date(2026, 1, 5),
        end_date=datetime.date(2026, 12, 31),
        fte_fraction=Decimal("0.50"),
        carried_forward_cases=50,
        carried_forward_months=Decimal("1.0"),
        status=Enrollment.Status.COMPLETED,
        max_virtual_share=20,
    )

    facts = gather_facts(Enrollment.objects.select_related("program").get(pk=enrollment.pk))

    assert facts.enrollment_id == enrollment.pk
    assert (facts.start_date, facts.end_date, facts.status) == (
        datetime.date(2026, 1, 5),
        datetime.date(2026, 12, 31),
        "completed",
    )
    assert facts.fte_fraction == Decimal("0.5")
    assert (facts.carried_forward_cases, facts.carried_forward_months) == (50, Decimal("1.0"))
    assert (facts.program.max_virtual_share, facts.program.interactive_group_cap) == (30, 3)
    assert facts.program.mode == program.mode
    assert facts.trainee_max_virtual_share == 20  # the mentor's lower share for this trainee


def test_without_a_lower_share_the_trainee_has_the_programs(enrollment):
    assert enrollment.max_virtual_share is None
    assert gather_facts(enrollment).trainee_max_virtual_share is None


def test_the_curriculum_is_the_category_table_in_order():
    facts_curriculum = gather_facts(EnrollmentFactory()).curriculum
    assert facts_curriculum == tuple(Category.objects.order_by("position").values_list("slug", "name"))
    assert len(facts_curriculum) == 15 and facts_curriculum[0][0] == "safety"


def test_facts_of_several_enrollments_do_not_mix(enrollment, other_enrollment, mentor):
    mine = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, case__categories=["flow"])
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    theirs = [
        EntryFactory(enrollment=other_enrollment, supervising_mentor=mentor, signed=True, case__categories=["masses"])
        for _ in range(3)
    ]

    facts = gather_facts_for(reload([enrollment, other_enrollment]))

    assert [e.id for e in facts[enrollment.pk].entries] == [mine.pk]
    assert facts[enrollment.pk].entries[0].categories == {"flow"}
    assert sorted(e.id for e in facts[other_enrollment.pk].entries) == sorted(e.pk for e in theirs)
    assert (facts[enrollment.pk].pending_reviews, facts[other_enrollment.pk].pending_reviews) == (1, 0)


def test_one_case_logged_by_two_trainees_keeps_its_topics_for_both(enrollment, other_enrollment, mentor):
    first = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, case__categories=["flow"])
    EntryFactory(enrollment=other_enrollment, supervising_mentor=mentor, signed=True, case=first.case)

    facts = gather_facts_for(reload([enrollment, other_enrollment]))

    assert facts[enrollment.pk].entries[0].categories == facts[other_enrollment.pk].entries[0].categories == {"flow"}


def test_an_enrollment_without_anything_has_empty_facts():
    facts = gather_facts(EnrollmentFactory())
    assert (facts.entries, facts.sessions, facts.sign_offs, facts.leave) == ((), (), (), ())
    assert (facts.pending_reviews, facts.reviews_waiting_over_7_days, facts.drafts) == (0, 0, 0)


def test_no_enrollments_no_queries(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert gather_facts_for([]) == {}


# --- bulk data: right numbers, fixed queries ----------------------------------------------------------------------


def test_bulk_program_facts_have_the_expected_numbers(program, mentor):
    bulk = BulkProgram(program, mentor)
    bulk.add_trainees(3)
    bulk.add_cases(bulk.enrollments, 40)

    facts = gather_facts_for(reload(bulk.enrollments))

    for e in bulk.enrollments:
        f = facts[e.pk]
        assert len(f.entries) == BulkProgram.signed_of(40) == 36
        assert f.pending_reviews == f.reviews_waiting_over_7_days == 2
        assert f.drafts == 2
        assert len(f.sessions) == 2 and len(f.sign_offs) == 1 and len(f.leave) == 1
        live = [x for x in f.entries if x.session_type == "live_acquisition"]
        assert live and all(x.console_shared for x in live)
        assert all(x.categories for x in f.entries)


# Signed entries and their case topics (both plain SQL), review counts, leave, attendance, completed lectures,
# sign-offs, prior experience, the topics (id, slug, name), the in-person competencies of the framework, the signers'
# credential levels.
GATHER_QUERIES = 11
# Counts per rule and per week, review counts, leave, attendance, completed lectures, sign-offs, prior experience,
# the topics, the in-person competencies of the framework, topic counts (plain SQL). The signer's level is a
# subquery of the counts.
TALLIED_QUERIES = 10


def test_gather_facts_for_uses_the_same_queries_for_5_x_10_as_for_50_x_300(program, mentor):
    bulk = BulkProgram(program, mentor)
    small = bulk.add_trainees(5)
    bulk.add_cases(small, 10)
    small = reload(small)

    small_facts, small_queries = captured_queries(lambda: gather_facts_for(small))

    bulk.add_cases(small, 290)
    bulk.add_cases(bulk.add_trainees(45), 300)
    large = reload(bulk.enrollments)
    resign(large, signers_of_every_level())  # one query for the signers' levels, however many signers

    large_facts, large_queries = captured_queries(lambda: gather_facts_for(large))

    assert sum(len(f.entries) for f in small_facts.values()) == 5 * BulkProgram.signed_of(10)
    assert sum(len(f.entries) for f in large_facts.values()) == 50 * BulkProgram.signed_of(300) == 13_500
    assert {x.signer_level for f in large_facts.values() for x in f.entries} == {"I", "II", "III", "AP", "EQ", None}
    assert_same_query_count(small_queries, large_queries, expected=GATHER_QUERIES)


def test_gather_tallied_facts_for_uses_the_same_queries_for_5_x_10_as_for_50_x_300(program, mentor):
    ruleset = get_ruleset("scmr-2018-level-2")
    today = timezone.localdate()
    bulk = BulkProgram(program, mentor)
    small = bulk.add_trainees(5)
    bulk.add_cases(small, 10)
    small = reload(small)

    _, small_queries = captured_queries(
        lambda: gather_tallied_facts_for(small, {e.pk: ruleset for e in small}, today=today)
    )

    bulk.add_cases(small, 290)
    bulk.add_cases(bulk.add_trainees(45), 300)
    large = reload(bulk.enrollments)
    # Half the entries of the second trainee signed by a Level I mentor, of the third by one without a credential:
    # below the Level II ruleset's minimum, they are left out of every requirement.
    level_one, _, _, _, _, uncredentialed = signers_of_every_level()
    resign(large[1:3], [level_one, uncredentialed])

    tallied, large_queries = captured_queries(
        lambda: gather_tallied_facts_for(large, {e.pk: ruleset for e in large}, today=today)
    )

    assert_same_query_count(small_queries, large_queries, expected=TALLIED_QUERIES)
    # The counts agree with the entries read one by one (here on 15,000 entries; test_tallies covers every filter).
    read = gather_facts_for(large[:3])
    for e in large[:3]:
        expected = dataclasses.replace(tally_entries(read[e.pk], ruleset, today=today), evidence={})
        assert tallied[e.pk].tallies == expected
    assert tallied[large[0].pk].tallies.rule_counts["interpreted"] == BulkProgram.counted_of(300)
    for e in large[1:3]:
        t = tallied[e.pk].tallies
        assert t.rule_counts["interpreted"] < BulkProgram.counted_of(300)
        assert t.excluded["interpreted"][LOW_MENTOR] > 0


def test_gather_facts_for_one_enrollment_uses_the_same_queries(program, mentor, django_assert_num_queries):
    bulk = BulkProgram(program, mentor)
    (enrollment,) = reload(bulk.add_trainees(1))
    bulk.add_cases([enrollment], 300)

    with django_assert_num_queries(GATHER_QUERIES):
        facts = gather_facts(enrollment)

    assert len(facts.entries) == BulkProgram.signed_of(300)


def test_facts_of_seed_bench_data_match_the_database(django_assert_num_queries):
    # seed_bench's realistic mix (sessions with and without a shared console, every entry status, backlogs).
    call_command("seed_bench", programs=1, trainees_per_program=4, cases_per_trainee=30, stdout=StringIO())
    enrollments = reload(Enrollment.objects.filter(trainee__email__endswith="@bench.test"))
    assert len(enrollments) == 4

    with django_assert_num_queries(GATHER_QUERIES):
        facts = gather_facts_for(enrollments)

    waiting_since = timezone.now() - datetime.timedelta(days=7)
    for e in enrollments:
        entries = CaseLogEntry.objects.filter(enrollment=e)
        f = facts[e.pk]
        assert {x.id for x in f.entries} == set(entries.filter(status=Status.SIGNED).values_list("pk", flat=True))
        assert f.pending_reviews == entries.filter(status=Status.SUBMITTED).count()
        assert (
            f.reviews_waiting_over_7_days
            == entries.filter(status=Status.SUBMITTED, submitted_at__lt=waiting_since).count()
        )
        assert f.drafts == entries.filter(status__in=[Status.DRAFT, Status.RETURNED]).count()
        assert len(f.sessions) == Attendance.objects.filter(enrollment=e).count()
        for x in f.entries:
            entry = entries.select_related("session").get(pk=x.id)
            assert x.console_shared == bool(entry.session and entry.session.console_shared)
