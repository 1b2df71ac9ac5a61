"""Writes for verification requests: request, generate (Celery), submit to SCMR, take, decide, revoke, retry, sweep.

Each step the program sees (submitted, taken under review, returned, verified, revoked) e-mails the program director
after commit, and the trainee too when the dossier is verified or returned. The e-mail names the trainee, the level and
the new status, gives the reasons where there are any and the link to the dossier page; never a reviewer's note.
"""

import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

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


def _enqueue(pk: int) -> None:
    from ..tasks import verification_request_generate  # the task module imports this one (documented exception)

    verification_request_generate.delay_on_commit(pk)


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
    claimed = VerificationRequest.objects.filter(pk=pk, status=Status.QUEUED).update(
        status=Status.GENERATING, started_at=timezone.now(), attempts=F("attempts") + 1, failure_reason=""
    )
    vr = VerificationRequest.objects.select_related("enrollment__program__director", "requested_by").get(pk=pk)
    if not claimed:
        return vr  # done already, or another worker has it
    started = time.monotonic()
    try:
        if vr.snapshot is None:
            vr.snapshot = build_snapshot(vr)
            vr.save(update_fields=["snapshot"])
        rendered = render_dossier(vr.snapshot)
    except TRANSIENT_ERRORS:
        VerificationRequest.objects.filter(pk=pk, status=Status.GENERATING).update(status=Status.QUEUED)
        raise
    except RENDER_ERRORS as exc:
        logger.exception("Dossier %s failed to render", vr.code)
        verification_request_fail(pk=pk, reason=f"The PDF could not be rendered ({type(exc).__name__}: {exc}).")
        vr.refresh_from_db()
        return vr

    digest = hashlib.sha256(rendered.content).hexdigest()
    name = f"dossiers/{vr.code}.pdf"
    # Regeneration replaces the old file. The row points at the file only once it is completely written.
    if default_storage.exists(name):
        default_storage.delete(name)
    stored_name = default_storage.save(name, ContentFile(rendered.content))
    with transaction.atomic():
        moved = VerificationRequest.objects.filter(pk=pk, status=Status.GENERATING).update(
            status=Status.READY,
            dossier=stored_name,
            sha256=digest,
            size_bytes=len(rendered.content),
            page_count=rendered.page_count,
            ready_at=timezone.now(),
            render_ms=int((time.monotonic() - started) * 1000),
        )
        vr.refresh_from_db()
        if moved:
            log_action(
                actor=None,
                action="verification_request.ready",
                obj=vr,
                after={"sha256": digest, "pages": rendered.page_count},
            )
    return vr


def verification_request_fail(*, pk: int, reason: str) -> None:
    VerificationRequest.objects.filter(pk=pk, status__in=VerificationRequest.IN_PROGRESS).update(
        status=Status.FAILED, failure_reason=reason[:2000]
    )


@transaction.atomic
def verification_request_retry(*, actor, vr: VerificationRequest) -> VerificationRequest:
    _check_director(actor, vr.enrollment)
    moved = VerificationRequest.objects.filter(pk=vr.pk, status=Status.FAILED).update(status=Status.QUEUED)
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
    """Re-queue requests whose job was lost (worker killed mid-render, message dropped). Returns the ids re-queued."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.DOSSIER_STUCK_AFTER_SECONDS)
    stuck = list(
        VerificationRequest.objects.filter(
            Q(status=Status.GENERATING, started_at__lt=cutoff) | Q(status=Status.QUEUED, created_at__lt=cutoff)
        ).values_list("pk", flat=True)
    )
    for pk in stuck:
        with transaction.atomic():
            VerificationRequest.objects.filter(pk=pk, status=Status.GENERATING).update(status=Status.QUEUED)
            _enqueue(pk)
    return stuck
