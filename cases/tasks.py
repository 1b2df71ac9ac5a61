"""Celery tasks for the case log: ids in, call a service."""

from celery import shared_task
from django.utils import timezone

from . import reminders


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=reminders.TRANSIENT_ERRORS,
    max_retries=3,
    retry_backoff=60,
    retry_backoff_max=600,
)
def case_log_reminders_send() -> dict[str, int]:
    """Daily beat job (CELERY_BEAT_SCHEDULE "case-log-reminders"). Re-runs and retries are safe: every e-mail is
    claimed with a ReminderLog row first, and a failed send gives its claim back."""
    return reminders.case_log_reminders_send(today=timezone.localdate())
