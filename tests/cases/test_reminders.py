"""Daily reminders: mentor review digests and trainee logging nudges (cases/reminders.py, cases/tasks.py)."""

import datetime
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils import timezone

from cases import reminders
from cases.models import CaseLogEntry, ReminderLog
from cases.tasks import case_log_reminders_send
from programs.models import Membership
from trainees.models import Enrollment, LeavePeriod

from ..factories import EnrollmentFactory, EntryFactory, MembershipFactory, UserFactory
from ..queries import assert_same_query_count, captured_queries

pytestmark = pytest.mark.django_db

Kind = ReminderLog.Kind
DAY = datetime.timedelta(days=1)


@pytest.fixture
def today():
    return timezone.localdate()


def _submitted(enrollment, mentor, *, days_ago: float, n: int = 1, **kwargs) -> list[CaseLogEntry]:
    entries = EntryFactory.create_batch(n, enrollment=enrollment, supervising_mentor=mentor, submitted=True, **kwargs)
    CaseLogEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
        submitted_at=timezone.now() - datetime.timedelta(days=days_ago)
    )
    return entries


def _logged(enrollment, *, days_ago: float) -> CaseLogEntry:
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=enrollment.mentors.first() or UserFactory())
    CaseLogEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - datetime.timedelta(days=days_ago))
    return entry


def _run(today):
    return reminders.case_log_reminders_send(today=today)


def _to(user):
    return [m for m in mail.outbox if m.to == [user.email]]


# Mentor digests ------------------------------------------------------------------------------------------------------


def test_mentor_with_an_entry_waiting_eight_days_gets_one_digest(enrollment, mentor, today):
    (entry,) = _submitted(enrollment, mentor, days_ago=8)

    assert _run(today) == {"mentor_digests": 1, "trainee_nudges": 0}

    (message,) = mail.outbox
    assert message.to == [mentor.email]
    assert "1 case-log entry waiting" in message.subject
    assert entry.case.reference in message.body
    assert "1 of them has waited more than 7 days" in message.body
    assert reminders.absolute_url(reverse("cases:inbox")) in message.body
    assert "You receive this because" in message.body


def test_entry_waiting_exactly_seven_days_is_not_overdue_yet(enrollment, mentor, today):
    _submitted(enrollment, mentor, days_ago=7)

    assert _run(today)["mentor_digests"] == 0
    assert mail.outbox == []


def test_mentor_with_26_fresh_pending_entries_gets_one_digest(enrollment, mentor, today):
    _submitted(enrollment, mentor, days_ago=1, n=26)

    assert _run(today)["mentor_digests"] == 1

    (message,) = mail.outbox
    assert "26 case-log entries are waiting for your review." in message.body
    assert "of them" not in message.body
    assert "more than 25 are pending" in message.body
    # Ten listed, the rest counted.
    assert message.body.count(" submitted ") == 10
    assert "…and 16 more." in message.body


def test_mentor_with_25_fresh_pending_entries_gets_none(enrollment, mentor, today):
    _submitted(enrollment, mentor, days_ago=1, n=25)

    assert _run(today)["mentor_digests"] == 0


def test_mentor_with_three_fresh_pending_entries_gets_none(enrollment, mentor, today):
    _submitted(enrollment, mentor, days_ago=2, n=3)

    assert _run(today) == {"mentor_digests": 0, "trainee_nudges": 0}
    assert mail.outbox == []


def test_old_signed_and_draft_entries_do_not_count(enrollment, mentor, today):
    signed = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)
    draft = EntryFactory(enrollment=enrollment, supervising_mentor=mentor)
    CaseLogEntry.objects.filter(pk__in=[signed.pk, draft.pk]).update(
        submitted_at=timezone.now() - 30 * DAY, created_at=timezone.now() - 30 * DAY
    )
    _logged(enrollment, days_ago=0)  # keeps the trainee out of the nudges

    assert _run(today)["mentor_digests"] == 0


def test_running_twice_the_same_day_sends_one_digest(enrollment, mentor, today):
    _submitted(enrollment, mentor, days_ago=9)

    assert _run(today)["mentor_digests"] == 1
    assert _run(today)["mentor_digests"] == 0

    assert len(mail.outbox) == 1
    log = ReminderLog.objects.get(user=mentor, kind=Kind.MENTOR_DIGEST)
    assert log.sent_on == today
    assert log.detail["pending"] == 1 and log.detail["waiting_long"] == 1


def test_mentor_gets_a_digest_again_the_next_day_while_entries_still_wait(enrollment, mentor, today):
    _submitted(enrollment, mentor, days_ago=9)

    _run(today)
    _run(today + DAY)

    assert len(_to(mentor)) == 2
    assert ReminderLog.objects.filter(user=mentor, kind=Kind.MENTOR_DIGEST).count() == 2


def test_digest_lists_references_oldest_first_without_free_text(enrollment, mentor, trainee, today):
    middle = _submitted(enrollment, mentor, days_ago=12, findings="Mid-wall LGE in the basal septum.")[0]
    newest = _submitted(enrollment, mentor, days_ago=9, impression="Suspected cardiac sarcoidosis.")[0]
    oldest = _submitted(enrollment, mentor, days_ago=20, final_diagnosis="Amyloidosis")[0]
    fresh = _submitted(enrollment, mentor, days_ago=1)[0]

    _run(today)

    body = mail.outbox[0].body
    positions = [body.index(e.case.reference) for e in (oldest, middle, newest, fresh)]
    assert positions == sorted(positions)
    assert "4 case-log entries are waiting" in body
    assert "3 of them have waited more than 7 days" in body
    assert f"from {trainee.full_name}, submitted" in body
    assert "(20 days ago)" in body
    # References only: nothing a trainee typed about the patient or the study.
    for text in (
        "Mid-wall LGE",
        "sarcoidosis",
        "Amyloidosis",
        "Dilated cardiomyopathy",
        "LVEF 31%",
        "Suspected cardiomyopathy",
    ):
        assert text not in body


def test_each_mentor_gets_only_their_own_entries(enrollment, mentor, program, today):
    other_mentor = UserFactory(email="second-mentor@example.test")
    MembershipFactory(user=other_mentor, program=program, role=Membership.Role.MENTOR)
    mine = _submitted(enrollment, mentor, days_ago=10)[0]
    theirs = _submitted(enrollment, other_mentor, days_ago=10)[0]

    assert _run(today)["mentor_digests"] == 2

    (to_mentor,) = _to(mentor)
    (to_other,) = _to(other_mentor)
    assert mine.case.reference in to_mentor.body and theirs.case.reference not in to_mentor.body
    assert theirs.case.reference in to_other.body and mine.case.reference not in to_other.body


def test_inactive_mentor_is_skipped(enrollment, mentor, today):
    _submitted(enrollment, mentor, days_ago=10)
    mentor.is_active = False
    mentor.save(update_fields=["is_active"])

    assert _run(today)["mentor_digests"] == 0
    assert not ReminderLog.objects.exists()


# Trainee nudges ------------------------------------------------------------------------------------------------------


def test_trainee_who_never_logged_gets_a_nudge(enrollment, trainee, today):
    assert _run(today) == {"mentor_digests": 0, "trainee_nudges": 1}

    (message,) = mail.outbox
    assert message.to == [trainee.email]
    assert "You have not logged a case yet." in message.body
    assert reminders.absolute_url(reverse("cases:create")) in message.body
    assert reminders.absolute_url(reverse("trainees:progress", args=[enrollment.pk])) in message.body
    assert "You receive this because" in message.body


def test_trainee_nudged_after_14_days_without_logging(enrollment, trainee, today):
    _logged(enrollment, days_ago=14)

    assert _run(today)["trainee_nudges"] == 1

    (message,) = mail.outbox
    last = timezone.localdate(timezone.now() - 14 * DAY)
    assert f"You last logged a case on {last:%-d %B %Y}." in message.body


def test_no_nudge_when_logged_13_days_ago(enrollment, today):
    _logged(enrollment, days_ago=13)

    assert _run(today)["trainee_nudges"] == 0
    assert mail.outbox == []


@pytest.mark.parametrize("status", [Enrollment.Status.WITHDRAWN, Enrollment.Status.COMPLETED])
def test_no_nudge_without_an_active_enrollment(enrollment, today, status):
    Enrollment.objects.filter(pk=enrollment.pk).update(status=status)

    assert _run(today)["trainee_nudges"] == 0


def test_no_nudge_in_the_first_14_days_of_an_enrollment(trainee, program, today):
    EnrollmentFactory(trainee=trainee, program=program, start_date=today - 13 * DAY)

    assert _run(today)["trainee_nudges"] == 0


def test_no_nudge_for_a_trainee_on_leave_in_the_last_14_days(enrollment, today):
    LeavePeriod.objects.create(enrollment=enrollment, start_date=today - 30 * DAY, end_date=today - 5 * DAY)

    assert _run(today)["trainee_nudges"] == 0


def test_no_nudge_within_7_days_of_the_previous_one(enrollment, trainee, today):
    ReminderLog.objects.create(user=trainee, kind=Kind.TRAINEE_NUDGE, sent_on=today - 6 * DAY)

    assert _run(today)["trainee_nudges"] == 0


def test_nudged_again_7_days_after_the_previous_one(enrollment, trainee, today):
    ReminderLog.objects.create(user=trainee, kind=Kind.TRAINEE_NUDGE, sent_on=today - 7 * DAY)

    assert _run(today)["trainee_nudges"] == 1


def test_weekly_cadence_over_three_weeks(enrollment, trainee, today):
    sent = [_run(today + n * DAY)["trainee_nudges"] for n in range(21)]

    assert sent == [1, 0, 0, 0, 0, 0, 0] * 3
    assert len(_to(trainee)) == 3


def test_running_twice_the_same_day_sends_one_nudge(enrollment, trainee, today):
    _run(today)
    _run(today)

    assert len(mail.outbox) == 1
    assert ReminderLog.objects.filter(user=trainee, kind=Kind.TRAINEE_NUDGE).count() == 1


def test_inactive_trainee_is_skipped(enrollment, trainee, today):
    trainee.is_active = False
    trainee.save(update_fields=["is_active"])

    assert _run(today)["trainee_nudges"] == 0


def test_trainee_with_two_active_enrollments_gets_one_nudge_with_both_progress_pages(enrollment, trainee, today):
    second = EnrollmentFactory(trainee=trainee)

    assert _run(today)["trainee_nudges"] == 1

    (message,) = mail.outbox
    for e in (enrollment, second):
        assert e.program.name in message.body
        assert reminders.absolute_url(reverse("trainees:progress", args=[e.pk])) in message.body


def test_logging_in_one_enrollment_counts_for_the_trainee(enrollment, trainee, today):
    EnrollmentFactory(trainee=trainee)
    _logged(enrollment, days_ago=2)

    assert _run(today)["trainee_nudges"] == 0


# Queries, failures and the task --------------------------------------------------------------------------------------


def _add_people(program, n):
    """n mentors with one overdue entry each (their trainees logged 30 days ago, so they are nudged too)."""
    for _ in range(n):
        mentor = UserFactory()
        MembershipFactory(user=mentor, program=program, role=Membership.Role.MENTOR)
        enrollment = EnrollmentFactory(program=program, mentors=[mentor])
        (entry,) = _submitted(enrollment, mentor, days_ago=10)
        CaseLogEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - 30 * DAY)


def test_query_count_does_not_grow_with_the_number_of_people(program, today):
    _add_people(program, 2)
    small, small_queries = captured_queries(lambda: _run(today))

    _add_people(program, 18)
    ReminderLog.objects.all().delete()
    mail.outbox.clear()
    large, large_queries = captured_queries(lambda: _run(today))

    assert small == {"mentor_digests": 2, "trainee_nudges": 2}
    assert large == {"mentor_digests": 20, "trainee_nudges": 20}
    # Digests: counts per mentor, oldest 10 per mentor (ROW_NUMBER), claim INSERT, claim SELECT.
    # Nudges: candidate enrollments, claim INSERT, claim SELECT.
    assert_same_query_count(small_queries, large_queries, expected=7)
    assert len(mail.outbox) == 40


def test_nothing_due_costs_two_queries(program, today):
    summary, queries = captured_queries(lambda: _run(today))

    assert summary == {"mentor_digests": 0, "trainee_nudges": 0}
    # One candidate query per kind, no claims.
    assert len(queries) == 2, "\n".join(queries)


class FlakyBackend(EmailBackend):
    """Delivers `budget` messages, then the mail server hangs up (once)."""

    budget: int | None = None

    def send_messages(self, messages):
        if FlakyBackend.budget is not None:
            if FlakyBackend.budget <= 0:
                FlakyBackend.budget = None
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            FlakyBackend.budget -= len(messages)
        return super().send_messages(messages)


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.budget = 1
    yield FlakyBackend
    FlakyBackend.budget = None


def _two_overdue_mentors(enrollment, mentor, program):
    other_mentor = UserFactory(email="second-mentor@example.test")
    MembershipFactory(user=other_mentor, program=program, role=Membership.Role.MENTOR)
    _submitted(enrollment, mentor, days_ago=10)
    _submitted(enrollment, other_mentor, days_ago=10)
    return other_mentor


def test_failed_send_gives_back_the_claims_of_those_not_reached(enrollment, mentor, program, today, flaky_mail):
    other_mentor = _two_overdue_mentors(enrollment, mentor, program)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        _run(today)

    assert [m.to for m in mail.outbox] == [[mentor.email]]
    assert list(ReminderLog.objects.values_list("user_id", flat=True)) == [mentor.pk]

    # The retry reaches the second mentor only.
    assert _run(today)["mentor_digests"] == 1
    assert [m.to for m in mail.outbox] == [[mentor.email], [other_mentor.email]]


def test_task_retries_a_transient_smtp_error_without_sending_twice(enrollment, mentor, program, flaky_mail):
    other_mentor = _two_overdue_mentors(enrollment, mentor, program)

    result = case_log_reminders_send.delay()

    # Eager mode runs the retry straight away.
    assert result.get() == {"mentor_digests": 1, "trainee_nudges": 0}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([mentor.email, other_mentor.email])
    assert ReminderLog.objects.count() == 2


def test_task_runs_eagerly_and_returns_the_summary(enrollment, mentor, today):
    _submitted(enrollment, mentor, days_ago=8)
    EnrollmentFactory(program=enrollment.program, start_date=today - 20 * DAY)  # nudged: no entry in 20 days

    assert case_log_reminders_send.delay().get() == {"mentor_digests": 1, "trainee_nudges": 1}
    assert case_log_reminders_send.delay().get() == {"mentor_digests": 0, "trainee_nudges": 0}


def test_task_retries_only_transient_errors_a_bounded_number_of_times():
    task = case_log_reminders_send
    assert task.max_retries == 3
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert task.retry_backoff
    retried = task.autoretry_for
    assert issubclass(smtplib.SMTPServerDisconnected, retried)
    assert issubclass(smtplib.SMTPConnectError, retried)
    from django.db import OperationalError

    assert issubclass(OperationalError, retried)
    assert not issubclass(smtplib.SMTPRecipientsRefused, retried)
    assert not issubclass(smtplib.SMTPAuthenticationError, retried)
    assert not issubclass(ValueError, retried)
