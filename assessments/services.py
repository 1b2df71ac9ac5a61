"""Writes for assessments. The caller has checked the user's access to the enrollment (trainees.selectors)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from trainees.selectors import may_assess
from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

from .models import Competency, PriorExperience


@transaction.atomic
def record_prior_experience(*, actor, enrollment, competency_code: str, reason: str) -> PriorExperience:
    """The mentor's record, with a reason, that the trainee's prior experience covers a competency that otherwise
    needs in-person experience (SCMR 2021: "Depending on a trainee's experience, some components ... may require an
    in-person experience"). Written once; it is part of what the determination rests on."""
    if not may_assess(actor, enrollment):
        raise PermissionDenied("Only the trainee's mentor or the program director records prior experience.")
    competency = Competency.objects.filter(code=competency_code, in_person_required=True).first()
    if competency is None:
        raise ValidationError({"competency": "Choose one of the competencies that need in-person experience."})
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationError({"reason": "Describe the prior experience (where, how many cases, supervised by whom)."})
    check_phi_fields({"reason": reason}, {"reason": "Reason"})
    if PriorExperience.objects.filter(enrollment=enrollment, competency=competency).exists():
        raise ValidationError({"competency": f"Prior experience is already recorded for {competency.title}."})
    try:
        with transaction.atomic():
            record = PriorExperience.objects.create(
                enrollment=enrollment, competency=competency, recorded_by=actor, reason=reason
            )
    except IntegrityError as exc:  # a concurrent request recorded it first
        raise ValidationError({"competency": f"Prior experience is already recorded for {competency.title}."}) from exc
    log_action(
        actor=actor,
        action="enrollment.prior_experience",
        obj=enrollment,
        after={"competency": competency.code, "reason": reason},
    )
    return record
