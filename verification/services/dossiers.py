"""Writes for verification requests: request, generate (Celery), submit to SCMR, take, decide, revoke, retry, sweep.

Each step the program sees (submitted, taken under review, returned, verified, revoked) e-mails the program director
after commit, and the trainee too when the dossier is verified or returned. The e-mail names the trainee, the level and
the new status, gives the reasons where there are any and the link to the dossier page; never a reviewer's note.
"""

import hashlib
import logging
import os
import tempfile
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from programs.models import Membership
from programs.selectors import is_program_member
from trainingportal.core.audit import log_action
from trainingportal.core.pdf import RENDER_ERRORS, absolute_url
from trainingportal.core.phi import check_phi_fields

from ..dossier import build_snapshot, render_dossier
from ..models import VerificationRequest
from ..selectors import dossier_gate, is_conflicted

logger = logging.getLogger(__name__)
Status = VerificationRequest.Status

# Errors worth retrying: the database or broker was briefly unreachable. Anything else is a real failure.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def _dispatch(pk: int) -> None:
    """Send the job's message now and note it on the row (the outbox). With the broker down the row stays queued and
    undispatched, the request still succeeds, and the sweeper sends it when the broker is back."""
    from ..tasks import verification_request_generate  # the task module imports this one (documented exception)

    try:
        verification_request_generate.apply_async((pk,), retry=True, retry_policy={"max_retries": 1})
    except (BrokerError, OSError) as exc:
        logger.warning("Dossier job %s not sent (%s: %s); the sweeper sends it later", pk, type(exc).__name__, exc)
        return
    VerificationRequest.objects.filter(pk=pk, dispatched_at__isnull=True).update(dispatched_at=timezone.now())


def _enqueue(pk: int) -> None:
    # After commit, so that the worker finds the row; never raises (see _dispatch).
    transaction.on_commit(lambda: _dispatch(pk))


def _dead_claim(cutoff) -> Q:
    """A "generating" row whose claim was not refreshed since `cutoff`: its worker is gone."""
    return Q(status=Status.GENERATING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


class _Heartbeat(threading.Thread):
    """Refreshes the claim's lease while the render runs (its own database connection, closed at the end)."""

    def __init__(self, pk: int, claimed_at) -> None:
        super().__init__(name=f"dossier-heartbeat-{pk}", daemon=True)
        self.pk, self.claimed_at = pk, claimed_at
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(settings.DOSSIER_LEASE_SECONDS / 3, 0.2)
        try:
            while not self.stopped.wait(interval):
                try:
                    VerificationRequest.objects.filter(
                        pk=self.pk, status=Status.GENERATING, started_at=self.claimed_at
                    ).update(heartbeat_at=timezone.now())
                except (OperationalError, InterfaceError):
                    connection.close()  # the next beat opens a fresh connection
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def _store_atomically(name: str, content: bytes) -> str:
    """Write the file so that a reader never sees half of it: a temporary file renamed into place on local disk;
    other storages (S3) make an object visible only once it is complete."""
    if isinstance(default_storage, FileSystemStorage):
        path = default_storage.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".pdf")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return name
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(content))


def _check_director(actor, enrollment) -> None:
    if not is_program_member(actor, enrollment.program_id, Membership.Role.DIRECTOR):
        raise PermissionDenied("Only the program director requests and submits dossiers.")


@transaction.atomic
def verification_request_create(*, actor, enrollment) -> VerificationRequest:
    _check_director(actor, enrollment)
    if VerificationRequest.objects.filter(enrollment=enrollment, status__in=VerificationRequest.IN_PROGRESS).exists():
        raise ValidationError("A dossier for this trainee is already being generated. Wait for it to finish.")
    vr = VerificationRequest(enrollment=enrollment, requested_by=actor)
    vr.full_clean(exclude=["dossier"])
    vr.save()
    log_action(actor=actor, action="verification_request.create", obj=vr, after={"code": vr.code})
    _enqueue(vr.pk)
    return vr


def verification_request_generate(*, pk: int) -> VerificationRequest:
    """Render the dossier of one request. Safe to run twice or concurrently: only the run that claims the row works.

    Transient errors put the request back in the queue and propagate (the task retries); any other error marks it
    failed with a reason a person can read.
    """
    # The claim: a queued row, or one whose previous claim is dead (its worker was killed and this is the redelivered
    # message). A live claim (heartbeat within the lease) belongs to another worker: leave it.
    now = timezone.now()
    lease_cutoff = now - timedelta(seconds=settings.DOSSIER_LEASE_SECONDS)
    claimed = (
        VerificationRequest.objects.filter(pk=pk)
        .filter(Q(status=Status.QUEUED) | _dead_claim(lease_cutoff))
        .update(
            status=Status.GENERATING,
            started_at=now,
            heartbeat_at=now,
            dispatched_at=Coalesce(F("dispatched_at"), now),
            attempts=F("attempts") + 1,
            failure_reason="",
        )
    )
    vr = VerificationRequest.objects.select_related("enrollment__program__director", "requested_by").get(pk=pk)
    if not claimed:
        return vr  # done already, or another worker has it
    mine = Q(pk=pk, status=Status.GENERATING, started_at=now)  # this claim, not a later take-over
    started = time.monotonic()
    heartbeat = _Heartbeat(pk, now)
    heartbeat.start()
    try:
        if vr.snapshot is None:
            vr.snapshot = build_snapshot(vr)
            vr.save(update_fields=["snapshot"])
        if settings.DOSSIER_RENDER_DELAY_SECONDS:
            time.sleep(settings.DOSSIER_RENDER_DELAY_SECONDS)
        rendered = render_dossier(vr.snapshot)
    except TRANSIENT_ERRORS:
        VerificationRequest.objects.filter(mine).update(status=Status.QUEUED)
        raise
    except RENDER_ERRORS as exc:
        logger.exception("Dossier %s failed to render", vr.code)
        verification_request_fail(pk=pk, reason=f"The PDF could not be rendered ({type(exc).__name__}: {exc}).")
        vr.refresh_from_db()
        return vr
    finally:
        heartbeat.stop()

    digest = hashlib.sha256(rendered.content).hexdigest()
    # Regeneration replaces the old file; the row points at the file only once it is completely written.
    stored_name = _store_atomically(f"dossiers/{vr.code}.pdf", rendered.content)
    changes = {
        "status": Status.READY,
        "dossier": stored_name,
        "sha256": digest,
        "size_bytes": len(rendered.content),
        "page_count": rendered.page_count,
        "render_ms": int((time.monotonic() - started) * 1000),
    }
    # The file is complete; a dropped database connection must not leave the row "generating" without its hash, so
    # the final write is retried on a fresh connection (outside any atomic block: a task's own).
    for attempt in range(3):
        try:
            _mark_ready(vr, mine, changes)
            break
        except (OperationalError, InterfaceError):
            if attempt == 2 or connection.in_atomic_block:
                raise
            logger.warning("Dossier %s: final write failed, retrying on a fresh connection", vr.code)
            connection.close()
            time.sleep(0.5 * (attempt + 1))
    return vr


def _mark_ready(vr: VerificationRequest, mine: Q, changes: dict) -> None:
    with transaction.atomic():
        moved = VerificationRequest.objects.filter(mine).update(ready_at=timezone.now(), **changes)
        vr.refresh_from_db()
        if moved:
            log_action(
                actor=None,
                action="verification_request.ready",
                obj=vr,
                after={"sha256": changes["sha256"], "pages": changes["page_count"]},
            )


def verification_request_fail(*, pk: int, reason: str) -> None:
    VerificationRequest.objects.filter(pk=pk, status__in=VerificationRequest.IN_PROGRESS).update(
        status=Status.FAILED, failure_reason=reason[:2000]
    )


@transaction.atomic
def verification_request_retry(*, actor, vr: VerificationRequest) -> VerificationRequest:
    _check_director(actor, vr.enrollment)
    moved = VerificationRequest.objects.filter(pk=vr.pk, status=Status.FAILED).update(
        status=Status.QUEUED, dispatched_at=None
    )
    if not moved:
        raise ValidationError("Only a failed dossier can be generated again.")
    vr.refresh_from_db()
    log_action(actor=actor, action="verification_request.retry", obj=vr)
    _enqueue(vr.pk)
    return vr


# --- e-mails to the program (after commit; a failure is logged and never undoes the step)

# Steps the program hears about; the trainee hears about the decision only.
_TRAINEE_STEPS = {Status.VERIFIED, Status.RETURNED}


def _send_step_mail(*, subject: str, message: str, recipients: list[str], code: str, step: str) -> None:
    try:
        send_mail(
            subject=subject,
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except Exception:  # an SMTP outage must not surface as an error to a reviewer whose decision is already saved
        logger.exception("The %s e-mail of dossier %s could not be sent", step, code)


def _mail_step(vr: VerificationRequest) -> None:
    """Queue the e-mails for the step `vr` has just reached (its status). Reasons come from the row; reviewer notes
    are a separate table this never reads."""
    enrollment = vr.enrollment
    trainee, director = enrollment.trainee, enrollment.program.director
    context = {
        "vr": vr,
        "trainee": trainee,
        "program": enrollment.program,
        "level": enrollment.target_level,
        "status_label": vr.get_status_display(),
        "reasons": vr.revoked_reason if vr.status == Status.REVOKED else vr.decision_reasons,
        "link": absolute_url(reverse("dossiers:detail", args=[vr.pk])),
    }
    subject = f"[trainingportal] {trainee.display_name}, Level {enrollment.target_level}: {vr.get_status_display()}"
    messages = []
    if director.email:
        messages.append(([director.email], render_to_string("emails/dossier_step.txt", {**context, "to": "director"})))
    if vr.status in _TRAINEE_STEPS and trainee.email and trainee.email != director.email:
        messages.append(([trainee.email], render_to_string("emails/dossier_step.txt", {**context, "to": "trainee"})))
    for recipients, message in messages:
        transaction.on_commit(
            lambda recipients=recipients, message=message, code=vr.code, step=vr.status: _send_step_mail(
                subject=subject, message=message, recipients=recipients, code=code, step=step
            )
        )


def _transition(vr, *, actor, action: str, from_statuses, audit: dict | None = None, **changes) -> VerificationRequest:
    moved = VerificationRequest.objects.filter(pk=vr.pk, status__in=from_statuses).update(**changes)
    if not moved:
        vr.refresh_from_db()
        raise ValidationError(f"This dossier is {vr.get_status_display().lower()} now; nothing was changed.")
    before = vr.status
    vr.refresh_from_db()
    log_action(
        actor=actor, action=action, obj=vr, before={"status": before}, after={"status": vr.status, **(audit or {})}
    )
    _mail_step(vr)
    return vr


def _check_gate(vr: VerificationRequest) -> None:
    blockers = dossier_gate(vr)["blockers"]
    if blockers:
        raise ValidationError(blockers)


@transaction.atomic
def verification_request_submit(*, actor, vr: VerificationRequest) -> VerificationRequest:
    _check_director(actor, vr.enrollment)
    _check_gate(vr)
    return _transition(
        vr,
        actor=actor,
        action="verification_request.submit",
        from_statuses=[Status.READY],
        status=Status.SUBMITTED,
        submitted_at=timezone.now(),
    )


def _check_reviewer(actor, vr: VerificationRequest, what: str) -> None:
    if not actor.is_reviewer or is_conflicted(actor, vr.enrollment.program):
        raise PermissionDenied(f"Only an SCMR reviewer without a conflict of interest {what}.")


@transaction.atomic
def verification_request_take(*, actor, vr: VerificationRequest) -> VerificationRequest:
    """A reviewer takes a submitted dossier: it is under review, theirs to decide; the director hears of it."""
    _check_reviewer(actor, vr, "takes a dossier")
    return _transition(
        vr,
        actor=actor,
        action="verification_request.take",
        from_statuses=[Status.SUBMITTED],
        status=Status.UNDER_REVIEW,
        reviewer=actor,
    )


@transaction.atomic
def verification_request_decide(*, actor, vr: VerificationRequest, verified: bool, reasons: str) -> VerificationRequest:
    _check_reviewer(actor, vr, "decides on a dossier")
    current = VerificationRequest.objects.filter(pk=vr.pk).values("status", "reviewer_id").first() or {}
    if current.get("status") == Status.UNDER_REVIEW and current.get("reviewer_id") not in (None, actor.pk):
        raise PermissionDenied("Another SCMR reviewer has taken this dossier.")
    check_phi_fields({"decision_reasons": reasons}, {"decision_reasons": "Reasons"})
    if not verified and not reasons.strip():
        raise ValidationError({"decision_reasons": "Say why the dossier is returned, so the program can act on it."})
    if verified:
        # Returning with reasons is always possible; "verified" only when everything the packet claims holds now.
        _check_gate(vr)
    return _transition(
        vr,
        actor=actor,
        action="verification_request.decide",
        from_statuses=[Status.SUBMITTED, Status.UNDER_REVIEW],
        audit={"reasons": reasons.strip()},
        status=Status.VERIFIED if verified else Status.RETURNED,
        reviewer=actor,
        decision_reasons=reasons.strip(),
        decided_at=timezone.now(),
    )


@transaction.atomic
def verification_request_revoke(*, actor, vr: VerificationRequest, reason: str) -> VerificationRequest:
    """SCMR withdraws a verification, with the reason; the public check page shows it from then on."""
    _check_reviewer(actor, vr, "revokes a verification")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the verification is revoked; the public check page shows it."})
    check_phi_fields({"reason": reason}, {"reason": "Reason"})
    return _transition(
        vr,
        actor=actor,
        action="verification_request.revoke",
        from_statuses=[Status.VERIFIED],
        audit={"reason": reason},
        status=Status.REVOKED,
        revoked_at=timezone.now(),
        revoked_by=actor,
        revoked_reason=reason,
    )


def verification_requests_sweep_stuck(*, now=None) -> list[int]:
    """Re-queue requests whose job was lost and send their message again. Returns the ids re-queued:
    - "generating" with a dead claim (worker killed mid-render, its database connection lost): at once, by the lease;
    - "queued" whose message never reached the broker (it was down when the request was made): at once (outbox);
    - "queued" whose message was sent DOSSIER_STUCK_AFTER_SECONDS ago and not picked up (message dropped).
    Runs from beat and whenever a worker starts (verification/tasks.py); a duplicate message is harmless (the claim).
    """
    now = now or timezone.now()
    lease_cutoff = now - timedelta(seconds=settings.DOSSIER_LEASE_SECONDS)
    cutoff = now - timedelta(seconds=settings.DOSSIER_STUCK_AFTER_SECONDS)
    stuck = list(
        VerificationRequest.objects.filter(
            _dead_claim(lease_cutoff)
            | Q(status=Status.QUEUED, dispatched_at__isnull=True)
            | Q(status=Status.QUEUED, dispatched_at__lt=cutoff)
        ).values_list("pk", flat=True)
    )
    for pk in stuck:
        with transaction.atomic():
            VerificationRequest.objects.filter(Q(pk=pk) & _dead_claim(lease_cutoff)).update(
                status=Status.QUEUED, heartbeat_at=None
            )
            VerificationRequest.objects.filter(pk=pk, status=Status.QUEUED).update(dispatched_at=None)
            _enqueue(pk)
    return stuck
