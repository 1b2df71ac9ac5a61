"""Writes for programs, memberships, invitations and the program profile. Each service runs in a transaction and
writes an audit event."""

import hashlib
import io
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from trainingportal.accounts.models import Credential
from trainingportal.core.audit import log_action
from trainingportal.core.pdf import absolute_url
from trainingportal.core.phi import check_phi, check_phi_fields

from .models import Invitation, Membership, Program
from .selectors import director_qualification, is_program_member, may_create_programs

Role = Membership.Role
Status = Program.VerificationStatus

PLAN_MAX_BYTES = 10 * 1024 * 1024
# The profile is locked while an SCMR review round is open and once the program is verified.
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
    "case_reference_pattern",
    "blind_review",
    "virtual_overlay_all_levels",
]
PROFILE_TEXT_LABELS = {
    "track_record_evidence": "Track-record evidence",
    "video_setup_attestation": "Video set-up attestation",
    "video_platform": "Video platform",
    "console_sharing_method": "Console sharing method",
}
CREDENTIAL_FIELDS = ["level", "body", "identifier", "issued_on", "justification"]


@transaction.atomic
def program_create(*, actor, name: str, institution: str, mode: str = Program.Mode.HYBRID, **profile) -> Program:
    """Create a program led by `actor`, who becomes its director."""
    if not may_create_programs(actor):
        raise PermissionDenied(
            "Programs are started by program directors the site's staff has given access; SCMR reviewers never."
        )
    program = Program(name=name, institution=institution, mode=mode, director=actor, **profile)
    program.full_clean()
    check_phi_fields(
        {field: getattr(program, field) for field in PROFILE_TEXT_LABELS},
        PROFILE_TEXT_LABELS,
    )
    program.save()
    Membership.objects.create(user=actor, program=program, role=Role.DIRECTOR)
    log_action(actor=actor, action="program.create", obj=program, after={"name": name, "institution": institution})
    return program


def _send_invitation_email(invitation: Invitation) -> None:
    link = absolute_url(reverse("programs:invitation_accept", args=[invitation.token]))
    context = {"invitation": invitation, "link": link}
    send_mail(
        subject=f"[trainingportal] You are invited to {invitation.program.name}",
        message=render_to_string("emails/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_create(*, actor, program: Program, email: str, role: str, mentor=None) -> Invitation:
    email = email.strip().lower()
    if role not in (Role.MENTOR, Role.TRAINEE):
        raise ValidationError({"role": "Invite mentors or trainees; the director is the program's creator."})
    if Membership.objects.filter(program=program, role=role, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a {Role(role).label.lower()} in this program."})
    if mentor is not None and not is_program_member(mentor, program.pk, Role.MENTOR):
        raise ValidationError({"mentor": "Choose a mentor of this program."})
    # Re-inviting replaces the open invitation (a fresh link, a fresh expiry).
    Invitation.objects.filter(program=program, email__iexact=email, role=role, accepted_at__isnull=True).delete()
    invitation = Invitation(
        program=program,
        email=email,
        role=role,
        mentor=mentor if role == Role.TRAINEE else None,
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    log_action(actor=actor, action="invitation.create", obj=invitation, after={"email": email, "role": role})
    transaction.on_commit(lambda: _send_invitation_email(invitation))
    return invitation


def invitation_problem(invitation: Invitation) -> str | None:
    """Why this invitation cannot be used, in words for the person holding the link; None if it can."""
    if invitation.accepted_at:
        return "This invitation has already been used. Sign in instead."
    if invitation.expires_at < timezone.now():
        return "This invitation has expired. Ask the program director to send a new one."
    return None


@transaction.atomic
def invitation_redeem(*, invitation: Invitation, user) -> Invitation:
    """Give `user` the invited role and mark the invitation used. Locked, so a link works once.

    A trainee's enrollment is created by trainees.services.invitation_accept, which calls this."""
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("program", "mentor", "invited_by")
        .get(pk=invitation.pk)
    )
    problem = invitation_problem(invitation)
    if problem:
        raise ValidationError(problem)
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(f"This invitation is for {invitation.email}; you are signed in as {user.email}.")
    Membership.objects.get_or_create(user=user, program=invitation.program, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    log_action(actor=user, action="invitation.accept", obj=invitation, after={"role": invitation.role})
    return invitation


def account_create_for_invitation(*, invitation: Invitation, full_name: str, password: str):
    """The invited person's account. The e-mail address counts as verified: the link reached that inbox."""
    User = get_user_model()
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError("An account with this e-mail address exists already. Sign in to accept the invitation.")
    user = User(email=invitation.email.lower(), full_name=full_name.strip())
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


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


def snapshot_profile(program: Program) -> dict:
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
    before = snapshot_profile(program)
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    for name, value in profile.items():
        setattr(program, name, value)
    check_phi_fields({name: getattr(program, name) for name in PROFILE_TEXT_LABELS}, PROFILE_TEXT_LABELS)
    plan_content = None
    if plan is not None:
        plan_content, sha256 = read_plan(plan)
        program.remote_training_plan_sha256 = sha256
    program.full_clean(exclude=["remote_training_plan"])

    cred = None
    if credential:
        check_phi_fields(
            {
                "credential_body": credential.get("body", ""),
                "credential_identifier": credential.get("identifier", ""),
                "credential_justification": credential.get("justification", ""),
            },
            {
                "credential_body": "Issuing body",
                "credential_identifier": "Certificate or letter id",
                "credential_justification": "Justification",
            },
        )
        cred = director_qualification(program) or Credential(user=program.director)
        for name in CREDENTIAL_FIELDS:
            setattr(cred, name, credential.get(name, ""))
        if cred.level not in Credential.DIRECTOR_LEVELS:
            raise ValidationError(
                {
                    "credential_level": "A program is led by a Level III, an Advanced Practitioner or an equivalent expert."
                }
            )
        if cred.level == Credential.Level.EQ and not cred.justification.strip():
            raise ValidationError(
                {"credential_justification": "Say why the director is an equivalent CMR expert (training, experience)."}
            )
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
            after={
                "level": cred.level,
                "body": cred.body,
                "identifier": cred.identifier,
                "justification": cred.justification,
            },
        )
    log_action(
        actor=actor, action="program.profile_update", obj=program, before=before, after=snapshot_profile(program)
    )
    return program
