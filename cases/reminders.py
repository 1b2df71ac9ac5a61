"""Reminder e-mails sent by the daily beat job (cases.tasks.case_log_reminders_send, 07:00 UTC).

- Mentor digest: a mentor whose review inbox has an entry waiting more than 7 days, or more than 25 entries pending,
  gets one e-mail a day: the counts, the oldest entries (references only, never free text) and a link to the inbox.
- Trainee nudge: a trainee with an active enrollment (started at least 14 days ago, not on leave in that time) who has
  logged nothing for 14 days gets an e-mail, at most one every 7 days.

Every e-mail is claimed first with a ReminderLog row (unique per user, kind and day), so a re-run, a retry or a second
beat process sends nothing twice. The number of queries does not grow with the number of people: candidates are read
with aggregate queries, claims are one INSERT and one SELECT per kind, then each person gets one e-mail.
"""

import datetime
import logging
import smtplib
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import InterfaceError, OperationalError
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from trainees.selectors import enrollments_due_a_nudge
from trainingportal.core.pdf import absolute_url

from .models import CaseLogEntry, ReminderLog

logger = logging.getLogger(__name__)

Kind = ReminderLog.Kind

DIGEST_WAITING_DAYS = 7  # an entry submitted more than this many days ago is overdue
DIGEST_MAX_PENDING = 25  # more pending entries than this trigger a digest even when none is overdue
DIGEST_LIST_SIZE = 10
NUDGE_AFTER_DAYS = 14  # no entry logged for this many days
NUDGE_EVERY_DAYS = 7  # at most one nudge per trainee in this many days

# Worth a retry: the mail server or the database was briefly unreachable. A refused recipient or bad credentials are
# not transient, and neither is a bug.
TRANSIENT_ERRORS = (
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
    ConnectionError,
    TimeoutError,
    OperationalError,
    InterfaceError,
)


@dataclass(frozen=True)
class DigestLine:
    reference: str
    trainee: str
    submitted_on: datetime.date
    days: int


@dataclass
class MentorDigest:
    user_id: int
    email: str
    name: str
    pending: int
    waiting_long: int
    oldest: list[DigestLine] = field(default_factory=list)


@dataclass
class TraineeNudge:
    user_id: int
    email: str
    name: str
    last_logged_on: datetime.date | None
    enrollments: list[tuple[int, str]] = field(default_factory=list)  # (enrollment pk, program name)


def _start_of(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of `day` in the current time zone: reminders count whole calendar days, so the result
    does not depend on the hour the beat job happens to run."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


# Selectors -----------------------------------------------------------------------------------------------------------


def mentor_digest_candidates(*, today: datetime.date) -> list[MentorDigest]:
    """Active mentors who are due a digest today and have not had one today. Two queries."""
    overdue_before = _start_of(today - datetime.timedelta(days=DIGEST_WAITING_DAYS))
    digested_today = ReminderLog.objects.filter(
        user=OuterRef("supervising_mentor"), kind=Kind.MENTOR_DIGEST, sent_on=today
    )
    rows = (
        CaseLogEntry.objects.filter(status=CaseLogEntry.Status.SUBMITTED, supervising_mentor__is_active=True)
        .filter(~Exists(digested_today))
        .values("supervising_mentor_id", "supervising_mentor__email", "supervising_mentor__full_name")
        .annotate(pending=Count("id"), waiting_long=Count("id", filter=Q(submitted_at__lt=overdue_before)))
        .filter(Q(waiting_long__gt=0) | Q(pending__gt=DIGEST_MAX_PENDING))
        .order_by("supervising_mentor_id")
    )
    digests = {
        row["supervising_mentor_id"]: MentorDigest(
            user_id=row["supervising_mentor_id"],
            email=row["supervising_mentor__email"],
            name=row["supervising_mentor__full_name"] or row["supervising_mentor__email"],
            pending=row["pending"],
            waiting_long=row["waiting_long"],
        )
        for row in rows
    }
    if not digests:
        return []
    # The oldest entries of every mentor in one query (ROW_NUMBER per mentor). References only: the digest must not
    # carry findings, impressions or any other free text.
    oldest = (
        CaseLogEntry.objects.filter(status=CaseLogEntry.Status.SUBMITTED, supervising_mentor_id__in=digests)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("supervising_mentor_id"),
                order_by=[F("submitted_at").asc(), F("id").asc()],
            )
        )
        .filter(rank__lte=DIGEST_LIST_SIZE)
        .order_by("supervising_mentor_id", "submitted_at", "id")
        .values(
            "supervising_mentor_id",
            "submitted_at",
            "case__reference",
            "enrollment__trainee__full_name",
            "enrollment__trainee__email",
        )
    )
    for row in oldest:
        submitted_on = timezone.localdate(row["submitted_at"]) if row["submitted_at"] else today
        digests[row["supervising_mentor_id"]].oldest.append(
            DigestLine(
                reference=row["case__reference"],
                trainee=row["enrollment__trainee__full_name"] or row["enrollment__trainee__email"],
                submitted_on=submitted_on,
                days=(today - submitted_on).days,
            )
        )
    return list(digests.values())


def trainee_nudge_candidates(*, today: datetime.date) -> list[TraineeNudge]:
    """Active trainees due a nudge today: an active enrollment started at least 14 days ago and not on leave in the
    last 14 days, no entry created in the last 14 days (today included), no nudge in the last 7 days. One query."""
    window_start = today - datetime.timedelta(days=NUDGE_AFTER_DAYS - 1)
    logged_recently = CaseLogEntry.objects.filter(
        enrollment__trainee=OuterRef("trainee"), created_at__gte=_start_of(window_start)
    )
    nudged_recently = ReminderLog.objects.filter(
        user=OuterRef("trainee"),
        kind=Kind.TRAINEE_NUDGE,
        sent_on__gt=today - datetime.timedelta(days=NUDGE_EVERY_DAYS),
    )
    last_logged = (
        CaseLogEntry.objects.filter(enrollment__trainee=OuterRef("trainee"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    rows = (
        enrollments_due_a_nudge(
            started_by=today - datetime.timedelta(days=NUDGE_AFTER_DAYS), window=(window_start, today)
        )
        .filter(~Exists(logged_recently), ~Exists(nudged_recently))
        .annotate(last_logged=Subquery(last_logged))
        .order_by("trainee_id", "pk")
        .values("pk", "trainee_id", "trainee__email", "trainee__full_name", "program__name", "last_logged")
    )
    nudges: dict[int, TraineeNudge] = {}
    for row in rows:
        nudge = nudges.get(row["trainee_id"])
        if nudge is None:
            nudge = nudges[row["trainee_id"]] = TraineeNudge(
                user_id=row["trainee_id"],
                email=row["trainee__email"],
                name=row["trainee__full_name"] or row["trainee__email"],
                last_logged_on=timezone.localdate(row["last_logged"]) if row["last_logged"] else None,
            )
        nudge.enrollments.append((row["pk"], row["program__name"]))
    return list(nudges.values())


# Service -------------------------------------------------------------------------------------------------------------


def _claim(*, kind: str, today: datetime.date, details: dict[int, dict]) -> set[int]:
    """Claim today's reminder of `kind` for these users; returns the users claimed by this call.

    The unique (user, kind, sent_on) constraint decides: rows that exist already are skipped by the INSERT (ON
    CONFLICT DO NOTHING), and the token tells this run's rows from those of a run that got there first.
    """
    token = uuid.uuid4().hex
    ReminderLog.objects.bulk_create(
        [
            ReminderLog(user_id=user_id, kind=kind, sent_on=today, detail={**detail, "claim": token})
            for user_id, detail in details.items()
        ],
        ignore_conflicts=True,
    )
    return set(
        ReminderLog.objects.filter(kind=kind, sent_on=today, user_id__in=details, detail__claim=token).values_list(
            "user_id", flat=True
        )
    )


def _send_claimed(*, kind: str, today: datetime.date, messages: dict[int, EmailMessage]) -> int:
    """Send the claimed e-mails over one mail connection.

    If sending fails, the claims of those who did not get their e-mail are given back before the error propagates,
    so that the task's retry sends to them, and only to them.
    """
    if not messages:
        return 0
    unsent = set(messages)
    try:
        with mailers.default as connection:
            for user_id, message in messages.items():
                connection.send_messages([message])
                unsent.discard(user_id)
    except Exception:
        ReminderLog.objects.filter(kind=kind, sent_on=today, user_id__in=unsent).delete()
        raise
    return len(messages)


def _digest_message(digest: MentorDigest, *, inbox_url: str) -> EmailMessage:
    context = {
        "digest": digest,
        "inbox_url": inbox_url,
        "more": digest.pending - len(digest.oldest),
        "waiting_days": DIGEST_WAITING_DAYS,
        "max_pending": DIGEST_MAX_PENDING,
    }
    noun = "entry" if digest.pending == 1 else "entries"
    return EmailMessage(
        subject=f"[trainingportal] {digest.pending} case-log {noun} waiting for your review",
        body=render_to_string("emails/mentor_digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[digest.email],
    )


def _nudge_message(nudge: TraineeNudge, *, create_url: str) -> EmailMessage:
    context = {
        "nudge": nudge,
        "create_url": create_url,
        "progress": [
            (program, absolute_url(reverse("trainees:progress", args=[pk]))) for pk, program in nudge.enrollments
        ],
        "after_days": NUDGE_AFTER_DAYS,
        "every_days": NUDGE_EVERY_DAYS,
    }
    return EmailMessage(
        subject="[trainingportal] Time to log your recent CMR cases",
        body=render_to_string("emails/trainee_nudge.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[nudge.email],
    )


def mentor_digests_send(*, today: datetime.date) -> int:
    digests = {d.user_id: d for d in mentor_digest_candidates(today=today)}
    if not digests:
        return 0
    claimed = _claim(
        kind=Kind.MENTOR_DIGEST,
        today=today,
        details={d.user_id: {"pending": d.pending, "waiting_long": d.waiting_long} for d in digests.values()},
    )
    inbox_url = absolute_url(reverse("cases:inbox"))
    messages = {pk: _digest_message(digests[pk], inbox_url=inbox_url) for pk in sorted(claimed)}
    return _send_claimed(kind=Kind.MENTOR_DIGEST, today=today, messages=messages)


def trainee_nudges_send(*, today: datetime.date) -> int:
    nudges = {n.user_id: n for n in trainee_nudge_candidates(today=today)}
    if not nudges:
        return 0
    claimed = _claim(
        kind=Kind.TRAINEE_NUDGE,
        today=today,
        details={
            n.user_id: {
                "enrollments": [pk for pk, _ in n.enrollments],
                "last_logged_on": n.last_logged_on.isoformat() if n.last_logged_on else None,
            }
            for n in nudges.values()
        },
    )
    create_url = absolute_url(reverse("cases:create"))
    messages = {pk: _nudge_message(nudges[pk], create_url=create_url) for pk in sorted(claimed)}
    return _send_claimed(kind=Kind.TRAINEE_NUDGE, today=today, messages=messages)


def case_log_reminders_send(*, today: datetime.date) -> dict[str, int]:
    """Send today's mentor digests and trainee nudges; safe to run any number of times a day."""
    summary = {
        "mentor_digests": mentor_digests_send(today=today),
        "trainee_nudges": trainee_nudges_send(today=today),
    }
    logger.info("Case-log reminders for %s: %s", today, summary)
    return summary
