"""SCMR program verification (SPEC S11): submission of the program profile and its S1–S15 checklist, and the
reviewer's steps. Each step: one transaction, an AuditEvent, a ProgramReviewEvent, e-mail to the other side after
commit. (The profile itself is edited through programs.services.program_profile_update.)

States: draft → submitted (a ProgramReview round; an SCMR reviewer takes it) → changes_requested (the director edits
and resubmits: a new round, carried over to the same reviewer) → verified, or declined (with a reason; the director
may revise and submit a new round). The profile is locked while a round is open (submitted) and once verified.
"""

from dataclasses import asdict

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from programs.models import Program
from programs.selectors import director_qualification
from programs.services import EDITABLE_STATUSES, snapshot_profile
from trainingportal.core.audit import log_action
from trainingportal.core.pdf import absolute_url
from trainingportal.core.phi import check_phi_fields

from .. import compliance
from ..models import ProgramReview, ProgramReviewEvent
from ..selectors import is_conflicted, program_checklist, reviewers_without_conflict

Status = Program.VerificationStatus
Action = ProgramReviewEvent.Action


# --- services


def _mail(template: str, *, subject: str, recipients, program: Program, event: ProgramReviewEvent) -> None:
    emails = [user.email for user in recipients if user.email]
    if not emails:
        return
    context = {
        "program": program,
        "event": event,
        "profile_link": absolute_url(reverse("verification:profile", args=[program.pk])),
        "review_link": absolute_url(reverse("verification:review", args=[program.pk])),
    }
    message = render_to_string(f"emails/program_review_{template}.txt", context)
    transaction.on_commit(
        lambda: send_mail(
            subject=f"[trainingportal] {subject}",
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=emails,
        )
    )


def _event(*, review, actor, action, comment: str = "", line_comments: dict | None = None) -> ProgramReviewEvent:
    return ProgramReviewEvent.objects.create(
        review=review, actor=actor, action=action, comment=comment, line_comments=line_comments or {}
    )


@transaction.atomic
def program_submit(*, actor, program: Program) -> ProgramReview:
    """Submit the profile and plan to SCMR; refused while any checklist line is not met."""
    program = Program.objects.select_for_update().select_related("director").get(pk=program.pk)
    if program.director_id != actor.pk:
        raise PermissionDenied("Only the program director can submit the program.")
    if program.verification_status not in EDITABLE_STATUSES:
        raise ValidationError(f"The program is already {program.get_verification_status_display().lower()}.")
    lines = program_checklist(program)
    blocking = compliance.blocking_lines(lines)
    if blocking:
        raise ValidationError(
            "Complete the checklist before submitting: "
            + "; ".join(f"{line.code} {line.title} — {line.evidence}" for line in blocking)
        )
    previous = program.reviews.select_related("reviewer").first()
    # After "changes requested" the round goes back to the reviewer who asked for them.
    reviewer = previous.reviewer if previous and previous.status == Status.CHANGES_REQUESTED else None
    credential = director_qualification(program)
    snapshot = {
        "profile": snapshot_profile(program),
        "credential": (
            {
                "level": credential.level,
                "body": credential.body,
                "identifier": credential.identifier,
                "issued_on": credential.issued_on.isoformat(),
            }
            if credential
            else None
        ),
        "plan": {"name": program.remote_training_plan.name, "sha256": program.remote_training_plan_sha256},
        "checklist": [asdict(line) for line in lines],
    }
    review = ProgramReview.objects.create(
        program=program, submitted_by=actor, plan_snapshot=snapshot, status=Status.SUBMITTED, reviewer=reviewer
    )
    event = _event(review=review, actor=actor, action=Action.SUBMITTED)
    before = program.verification_status
    program.verification_status = Status.SUBMITTED
    program.save(update_fields=["verification_status"])
    log_action(
        actor=actor, action="program.submit", obj=program, before={"status": before}, after={"review": review.pk}
    )
    _mail(
        "submitted",
        subject=f"{program.name} submitted for SCMR program verification",
        recipients=[reviewer] if reviewer else reviewers_without_conflict(program),
        program=program,
        event=event,
    )
    return review


def _open_review_for(actor, program: Program, *, must_own: bool = True) -> tuple[Program, ProgramReview]:
    if not actor.is_reviewer:
        raise PermissionDenied("Only SCMR reviewers review programs.")
    program = Program.objects.select_for_update().select_related("director").get(pk=program.pk)
    if is_conflicted(actor, program):
        raise PermissionDenied(
            f"You cannot review {program.name}: it belongs to your own institution (conflict of interest)."
        )
    review = program.reviews.select_for_update().first()
    if review is None or review.status != Status.SUBMITTED:
        raise ValidationError("This program has no submission waiting for review.")
    if must_own:
        if review.reviewer_id is None:
            raise ValidationError("Take the review first.")
        if review.reviewer_id != actor.pk:
            raise PermissionDenied("Another SCMR reviewer has taken this review.")
    return program, review


@transaction.atomic
def review_take(*, actor, program: Program) -> ProgramReview:
    program, review = _open_review_for(actor, program, must_own=False)
    if review.reviewer_id == actor.pk:
        return review
    if review.reviewer_id is not None:
        raise PermissionDenied("Another SCMR reviewer has taken this review.")
    review.reviewer = actor
    review.save(update_fields=["reviewer"])
    event = _event(review=review, actor=actor, action=Action.TAKEN)
    log_action(actor=actor, action="program_review.take", obj=review, after={"reviewer": actor.pk})
    _mail(
        "taken",
        subject=f"SCMR review of {program.name} has started",
        recipients=[program.director],
        program=program,
        event=event,
    )
    return review


def _clean_line_comments(line_comments: dict | None) -> dict:
    cleaned = {code: text.strip() for code, text in (line_comments or {}).items() if text and text.strip()}
    unknown = set(cleaned) - set(compliance.LINE_CODES)
    if unknown:
        raise ValidationError(f"Unknown checklist lines: {', '.join(sorted(unknown))}.")
    check_phi_fields(cleaned, {code: f"Comment on {code}" for code in cleaned})
    return cleaned


_DECISIONS = {
    Action.CHANGES_REQUESTED: (Status.CHANGES_REQUESTED, "changes_requested", "Changes requested"),
    Action.VERIFIED: (Status.VERIFIED, "verified", "Verified by SCMR"),
    Action.DECLINED: (Status.DECLINED, "declined", "Declined by SCMR"),
}


@transaction.atomic
def review_decide(
    *, actor, program: Program, decision: str, comment: str = "", line_comments: dict | None = None
) -> ProgramReview:
    """Request changes, verify or decline. Changes and declines need a reason (a comment, or one per line)."""
    if decision not in _DECISIONS:
        raise ValidationError({"decision": "Choose: request changes, verify or decline."})
    program, review = _open_review_for(actor, program)
    comment = (comment or "").strip()
    cleaned = _clean_line_comments(line_comments)
    check_phi_fields({"comment": comment}, {"comment": "Comment"})
    if decision == Action.CHANGES_REQUESTED and not (comment or cleaned):
        raise ValidationError({"comment": "Say what should change: a comment, or one on a checklist line."})
    if decision == Action.DECLINED and not comment:
        raise ValidationError({"comment": "Give the reason for declining."})
    if decision == Action.VERIFIED:
        blocking = compliance.blocking_lines(program_checklist(program))
        if blocking:
            raise ValidationError("The checklist has unmet lines: " + ", ".join(line.code for line in blocking) + ".")
    status, template, label = _DECISIONS[decision]
    review.status = status
    review.decided_at = timezone.now()
    review.comments = {**review.comments, **cleaned}
    review.save(update_fields=["status", "decided_at", "comments"])
    event = _event(review=review, actor=actor, action=decision, comment=comment, line_comments=cleaned)
    before = program.verification_status
    program.verification_status = status
    program.save(update_fields=["verification_status"])
    log_action(
        actor=actor,
        action=f"program_review.{template}",
        obj=review,
        before={"status": before},
        after={"status": status, "comment": comment, "line_comments": cleaned},
    )
    _mail(
        template,
        subject=f"{program.name}: {label}",
        recipients=[program.director],
        program=program,
        event=event,
    )
    return review
