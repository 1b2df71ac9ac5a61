from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from programs.models import Membership
from trainingportal.core.audit import log_action

from .models import Enrollment


@transaction.atomic
def enrollment_create(*, actor, program, trainee, mentors=(), target_level: str = Enrollment.Level.II) -> Enrollment:
    existing = Enrollment.objects.filter(
        trainee=trainee, program=program, target_level=target_level, status=Enrollment.Status.ACTIVE
    ).first()
    if existing:
        return existing
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
    if not Membership.objects.filter(program=enrollment.program, user=mentor, role=Membership.Role.MENTOR).exists():
        raise ValidationError({"mentor": "Choose a mentor of this program."})
    enrollment.mentors.add(mentor)
    log_action(actor=actor, action="enrollment.assign_mentor", obj=enrollment, after={"mentor": mentor.email})
