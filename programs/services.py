"""Writes for programs, memberships and invitations. Each service runs in a transaction and writes an audit event."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from trainingportal.core.audit import log_action
from trainingportal.core.pdf import absolute_url
from trainingportal.core.phi import check_phi_fields

from .models import Invitation, Membership, Program

Role = Membership.Role
PROFILE_TEXT_LABELS = {
    "track_record_evidence": "Track-record evidence",
    "video_setup_attestation": "Video set-up attestation",
    "video_platform": "Video platform",
    "console_sharing_method": "Console sharing method",
}


@transaction.atomic
def program_create(*, actor, name: str, institution: str, mode: str = Program.Mode.HYBRID, **profile) -> Program:
    """Create a program led by `actor`, who becomes its director."""
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
    if mentor is not None and not Membership.objects.filter(program=program, user=mentor, role=Role.MENTOR).exists():
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
def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """Give `user` the invited role (and, for a trainee, an active Level II enrollment)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    problem = invitation_problem(invitation)
    if problem:
        raise ValidationError(problem)
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(f"This invitation is for {invitation.email}; you are signed in as {user.email}.")
    membership, _ = Membership.objects.get_or_create(user=user, program=invitation.program, role=invitation.role)
    if invitation.role == Role.TRAINEE:
        from trainees.services import enrollment_create

        enrollment_create(
            actor=invitation.invited_by,
            program=invitation.program,
            trainee=user,
            mentors=[invitation.mentor] if invitation.mentor else [],
        )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    log_action(actor=user, action="invitation.accept", obj=invitation, after={"role": invitation.role})
    return membership


@transaction.atomic
def invitation_sign_up(*, invitation: Invitation, full_name: str, password: str):
    """Create the invited person's account and accept the invitation.

    The e-mail address counts as verified: the link reached that inbox.
    """
    User = get_user_model()
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError("An account with this e-mail address exists already. Sign in to accept the invitation.")
    user = User(email=invitation.email.lower(), full_name=full_name.strip())
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    invitation_accept(invitation=invitation, user=user)
    return user
