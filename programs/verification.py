"""SCMR program verification (SPEC S11): the program profile, its S1–S15 checklist and the review workflow.

Selectors (reads, scoped by the user) come first, services (writes: one transaction, an AuditEvent, a
ProgramReviewEvent per step, e-mail to the other side after commit) after.

States: draft → submitted (a ProgramReview round; an SCMR reviewer takes it) → changes_requested (the director edits
and resubmits: a new round, carried over to the same reviewer) → verified, or declined (with a reason; the director
may revise and submit a new round). The profile is locked while a round is open (submitted) and once verified.
"""

import hashlib
import io
from dataclasses import asdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from trainingportal.accounts.models import Credential
from trainingportal.core.audit import log_action
from trainingportal.core.pdf import absolute_url
from trainingportal.core.phi import check_phi, check_phi_fields

from . import compliance
from .models import FeedbackResponse, Lecture, Membership, Program, ProgramReview, ProgramReviewEvent, TrainingSession
from .selectors import get_program_for_user

Status = Program.VerificationStatus
Action = ProgramReviewEvent.Action

PLAN_MAX_BYTES = 10 * 1024 * 1024
EDITABLE_STATUSES = {Status.DRAFT, Status.CHANGES_REQUESTED, Status.DECLINED}

PROFILE_FIELDS = [
    "onsite_training_years",
    "onsite_trainees_trained",
    "track_record_evidence",
    "didactic_source",
    "video_platform",
    "console_sharing_method",
    "display_meets_local_standards",
    "video_setup_attestation",
    "privacy_attestation",
    "max_virtual_share",
    "interactive_group_cap",
    "ruleset",
]
FREE_TEXT_LABELS = {
    "track_record_evidence": "Track-record evidence",
    "video_platform": "Video platform",
    "console_sharing_method": "Console sharing method",
    "video_setup_attestation": "Video set-up attestation",
}
CREDENTIAL_FIELDS = ["level", "body", "identifier", "issued_on"]


# --- selectors


def is_conflicted(user, program: Program) -> bool:
    """A reviewer never reviews a program of their own institution (SPEC section 2)."""
    mine = (user.institution or "").strip().lower()
    return bool(mine) and mine == program.institution.strip().lower()


def get_program_for_verification(user, pk: int, *, action: str) -> Program:
    """The access point of this workflow, on top of get_program_for_user (outsiders 404, members without the role 403).

    profile / submit: the director. checklist / plan: the director or a reviewer without a conflict of interest.
    review: an SCMR reviewer without a conflict of interest.
    """
    program = get_program_for_user(user, pk, action="view")
    is_director = Membership.Role.DIRECTOR in program.viewer_roles
    if action in ("profile", "submit"):
        if is_director:
            return program
        raise PermissionDenied("Only the program director can edit the profile and submit it to SCMR.")
    if action in ("checklist", "plan") and is_director:
        return program
    if action in ("checklist", "plan", "review"):
        if not user.is_reviewer:
            raise PermissionDenied("Only the program director and SCMR reviewers can see this.")
        if is_conflicted(user, program):
            raise PermissionDenied(
                f"You cannot review {program.name}: it belongs to your own institution ({program.institution}). "
                "Another SCMR reviewer will take it (conflict of interest)."
            )
        return program
    raise ValueError(f"unknown action {action!r}")


def director_level3_credential(program: Program) -> Credential | None:
    return Credential.objects.filter(user_id=program.director_id, level=Credential.Level.III).first()


def program_compliance_facts(program: Program) -> compliance.Facts:
    """Everything the checklist needs, in a fixed number of queries (7, whatever the program's size):
    credential, lectures, sessions, attendance with input, complete-study cases, feedback, final determinations."""
    from assessments.models import FinalDetermination
    from cases.models import Case
    from trainees.engine import RulesetError, get_ruleset

    from .models import Attendance

    credential = director_level3_credential(program)
    lectures = Lecture.objects.filter(program=program).aggregate(
        count=Count("id"), hours=Sum("hours"), safety=Count("id", filter=Q(is_mr_safety_module=True))
    )
    console_type = TrainingSession.Type.LIVE_ACQUISITION
    input_types = [TrainingSession.Type.PROTOCOL_SELECTION, TrainingSession.Type.PLANNING_TROUBLESHOOTING]
    sessions = TrainingSession.objects.filter(program=program).aggregate(
        console=Count("id", filter=Q(type=console_type, console_shared=True)),
        inputs=Count("id", filter=Q(type__in=input_types)),
    )
    active_inputs = Attendance.objects.filter(session__program=program, active_input=True).count()
    cases = Case.objects.filter(program=program, complete_study=True).count()
    feedback = FeedbackResponse.objects.filter(program=program).count()
    determinations = FinalDetermination.objects.filter(enrollment__program=program).count()
    try:
        ruleset = get_ruleset(program.ruleset)
        ruleset_title, ruleset_is_scmr = ruleset.title, ruleset.scmr
    except RulesetError:
        ruleset_title, ruleset_is_scmr = "", False
    return compliance.Facts(
        ruleset_id=program.ruleset,
        ruleset_title=ruleset_title,
        ruleset_is_scmr=ruleset_is_scmr,
        director_name=program.director.display_name,
        level3_credential=(
            f"{credential.body} {credential.get_level_display()} ({credential.identifier}), issued "
            f"{credential.issued_on:%-d %b %Y}"
            if credential
            else ""
        ),
        onsite_training_years=program.onsite_training_years,
        onsite_trainees_trained=program.onsite_trainees_trained,
        track_record_evidence=program.track_record_evidence,
        didactic_source=program.didactic_source,
        didactic_source_label=program.get_didactic_source_display() if program.didactic_source else "",
        lecture_count=lectures["count"],
        lecture_hours=float(lectures["hours"] or 0),
        safety_module_count=lectures["safety"],
        console_sharing_method=program.console_sharing_method,
        console_shared_sessions=sessions["console"],
        input_sessions=sessions["inputs"],
        active_input_attendances=active_inputs,
        complete_study_cases=cases,
        video_platform=program.video_platform,
        display_meets_local_standards=program.display_meets_local_standards,
        video_setup_attestation=program.video_setup_attestation,
        privacy_attestation=program.privacy_attestation,
        has_plan=bool(program.remote_training_plan),
        plan_sha256=program.remote_training_plan_sha256,
        verification_status=program.verification_status,
        feedback_responses=feedback,
        interactive_group_cap=program.interactive_group_cap,
        max_virtual_share=program.max_virtual_share,
        final_determinations=determinations,
    )


def program_checklist(program: Program) -> list[compliance.Line]:
    return compliance.checklist(program_compliance_facts(program))


def current_review(program: Program) -> ProgramReview | None:
    return program.reviews.select_related("reviewer", "submitted_by").first()


def program_history(program: Program) -> QuerySet[ProgramReviewEvent]:
    """Every step of every round, oldest first, with who did it."""
    return (
        ProgramReviewEvent.objects.filter(review__program=program).select_related("actor").order_by("created_at", "id")
    )


def review_queue(user) -> QuerySet[ProgramReview]:
    """Open rounds for SCMR reviewers, oldest first, without programs of the reviewer's own institution."""
    if not user.is_authenticated or not user.is_reviewer:
        raise PermissionDenied("The program verification queue is for SCMR reviewers.")
    qs = ProgramReview.objects.filter(status=Status.SUBMITTED).select_related("program", "reviewer", "submitted_by")
    if (user.institution or "").strip():
        qs = qs.exclude(program__institution__iexact=user.institution.strip())
    return qs.order_by("submitted_at", "id")


# --- the remote training plan


def read_plan(upload) -> tuple[bytes, str]:
    """Check an uploaded remote training plan: a readable PDF up to 10 MB without patient identifiers.

    Returns (content, sha256)."""
    if upload.size > PLAN_MAX_BYTES:
        raise ValidationError(
            {"remote_training_plan": f"The plan is {upload.size / 1024 / 1024:.1f} MB; the limit is 10 MB."}
        )
    content = upload.read()
    if len(content) > PLAN_MAX_BYTES:
        raise ValidationError({"remote_training_plan": "The plan is larger than 10 MB."})
    if not content.startswith(b"%PDF"):
        raise ValidationError({"remote_training_plan": "Upload the remote training plan as a PDF file."})
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            raise ValidationError({"remote_training_plan": "The PDF is password-protected: upload it unprotected."})
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ValidationError(
            {"remote_training_plan": "This file cannot be read as a PDF. Export the plan to PDF again."}
        ) from exc
    try:
        check_phi(text, field_label="The remote training plan")
    except ValidationError as exc:
        raise ValidationError({"remote_training_plan": exc.messages}) from exc
    return content, hashlib.sha256(content).hexdigest()


def _check_document(upload) -> bytes:
    """A credential document: a PDF up to 10 MB (it names the director, not a patient: no PHI scan)."""
    content = upload.read()
    if len(content) > PLAN_MAX_BYTES:
        raise ValidationError({"credential_document": "The document is larger than 10 MB."})
    if not content.startswith(b"%PDF"):
        raise ValidationError({"credential_document": "Upload the credential letter or certificate as a PDF file."})
    return content


# --- services


def _snapshot_profile(program: Program) -> dict:
    values = {name: getattr(program, name) for name in PROFILE_FIELDS}
    values["remote_training_plan_sha256"] = program.remote_training_plan_sha256
    return values


@transaction.atomic
def program_profile_update(
    *, actor, program: Program, profile: dict, credential: dict | None = None, plan=None, credential_document=None
) -> Program:
    """Save the director's profile, Level III credential and remote training plan together, or nothing at all."""
    program = Program.objects.select_for_update().select_related("director").get(pk=program.pk)
    if program.director_id != actor.pk:
        raise PermissionDenied("Only the program director can edit the profile.")
    if program.verification_status not in EDITABLE_STATUSES:
        raise ValidationError(f"The profile is locked while it is {program.get_verification_status_display().lower()}.")
    before = _snapshot_profile(program)
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    for name, value in profile.items():
        setattr(program, name, value)
    check_phi_fields({name: getattr(program, name) for name in FREE_TEXT_LABELS}, FREE_TEXT_LABELS)
    plan_content = None
    if plan is not None:
        plan_content, sha256 = read_plan(plan)
        program.remote_training_plan_sha256 = sha256
    program.full_clean(exclude=["remote_training_plan"])

    cred = None
    if credential:
        check_phi_fields(
            {"credential_body": credential.get("body", ""), "credential_identifier": credential.get("identifier", "")},
            {"credential_body": "Issuing body", "credential_identifier": "Certificate or letter id"},
        )
        cred = director_level3_credential(program) or Credential(user=program.director)
        for name in CREDENTIAL_FIELDS:
            setattr(cred, name, credential[name])
        cred.full_clean(exclude=["document", "user"])
    document_content = _check_document(credential_document) if credential_document is not None else None
    if document_content is not None and cred is None:
        raise ValidationError({"credential_document": "Fill in the credential before attaching its document."})

    # Everything is checked: now write. Files go to storage last, just before the rows.
    if plan_content is not None:
        program.remote_training_plan.save(
            f"program-{program.pk}-{program.remote_training_plan_sha256[:16]}.pdf",
            ContentFile(plan_content),
            save=False,
        )
    program.save()
    if cred is not None:
        if document_content is not None:
            cred.document.save(f"credential-{program.director_id}.pdf", ContentFile(document_content), save=False)
        cred.save()
        log_action(
            actor=actor,
            action="credential.update",
            obj=cred,
            after={"level": cred.level, "body": cred.body, "identifier": cred.identifier},
        )
    log_action(
        actor=actor, action="program.profile_update", obj=program, before=before, after=_snapshot_profile(program)
    )
    return program


def _reviewers_for(program: Program):
    return [
        user
        for user in get_user_model().objects.filter(is_reviewer=True, is_active=True).order_by("email")
        if not is_conflicted(user, program)
    ]


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
    credential = director_level3_credential(program)
    snapshot = {
        "profile": _snapshot_profile(program),
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
        recipients=[reviewer] if reviewer else _reviewers_for(program),
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
