"""Writes for enrollments: create, assign a mentor, and accepting an invitation (which, for a trainee, enrolls)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from programs.models import Membership
from programs.selectors import is_program_member
from programs.services import account_create_for_invitation, invitation_redeem
from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

from .models import Enrollment
from .selectors import may_assess

Role = Membership.Role


@transaction.atomic
def enrollment_create(*, actor, program, trainee, mentors=(), target_level: str = Enrollment.Level.II) -> Enrollment:
    existing = Enrollment.objects.filter(
        trainee=trainee, program=program, target_level=target_level, status=Enrollment.Status.ACTIVE
    ).first()
    if existing:
        return existing
    for mentor in mentors:
        if not is_program_member(mentor, program.pk, Role.MENTOR):
            raise ValidationError({"mentor": "Choose a mentor of this program."})
    enrollment = Enrollment(
        trainee=trainee,
        program=program,
        target_level=target_level,
        ruleset=program.ruleset,
        start_date=timezone.localdate(),
    )
    enrollment.full_clean()
    enrollment.save()
    if mentors:
        enrollment.mentors.set(mentors)
    log_action(actor=actor, action="enrollment.create", obj=enrollment, after={"trainee": trainee.email})
    return enrollment


@transaction.atomic
def enrollment_assign_mentor(*, actor, enrollment: Enrollment, mentor) -> None:
    if mentor is None or not is_program_member(mentor, enrollment.program_id, Role.MENTOR):
        raise ValidationError({"mentor": "Choose a mentor of this program."})
    enrollment.mentors.add(mentor)
    log_action(actor=actor, action="enrollment.assign_mentor", obj=enrollment, after={"mentor": mentor.email})


@transaction.atomic
def set_trainee_virtual_share(*, actor, enrollment: Enrollment, share: int | None, reason: str = "") -> Enrollment:
    """The mentor's (or director's) lower virtual share for one trainee, with the reason (SCMR 2021: the share "can
    vary depending on ... the competency of the individual trainee as evaluated by the CMR mentor"). Never above the
    program's maximum; `None` returns the trainee to the program's."""
    enrollment = Enrollment.objects.select_for_update().select_related("program").get(pk=enrollment.pk)
    if not may_assess(actor, enrollment):
        raise PermissionDenied("Only the trainee's mentor or the program director sets the trainee's virtual share.")
    reason = (reason or "").strip()
    cap = enrollment.program.max_virtual_share
    if share is not None:
        if not 0 <= share <= cap:
            raise ValidationError(
                {"share": f"Choose a share from 0 to {cap}%: a trainee's share is never above the program's ({cap}%)."}
            )
        if not reason:
            raise ValidationError({"reason": "Say why this trainee's share is lower than the program's."})
        check_phi_fields({"reason": reason}, {"reason": "Reason"})
    before = {"share": enrollment.max_virtual_share, "reason": enrollment.max_virtual_share_reason}
    enrollment.max_virtual_share = share
    enrollment.max_virtual_share_reason = reason if share is not None else ""
    enrollment.save(update_fields=["max_virtual_share", "max_virtual_share_reason"])
    log_action(
        actor=actor,
        action="enrollment.virtual_share",
        obj=enrollment,
        before=before,
        after={"share": share, "reason": enrollment.max_virtual_share_reason},
    )
    return enrollment


@transaction.atomic
def invitation_accept(*, invitation, user) -> None:
    """Give `user` the invited role and, for a trainee, an active Level II enrollment with the invited mentor."""
    invitation = invitation_redeem(invitation=invitation, user=user)
    if invitation.role == Role.TRAINEE:
        enrollment_create(
            actor=invitation.invited_by,
            program=invitation.program,
            trainee=user,
            mentors=[invitation.mentor] if invitation.mentor else [],
        )


@transaction.atomic
def invitation_sign_up(*, invitation, full_name: str, password: str):
    """Create the invited person's account and accept the invitation, together or not at all."""
    user = account_create_for_invitation(invitation=invitation, full_name=full_name, password=password)
    invitation_accept(invitation=invitation, user=user)
    return user
