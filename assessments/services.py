"""Writes for assessments. The caller has checked the user's access to the enrollment (trainees.selectors); the
services check the actor's role again themselves."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import CaseLogEntry
from trainees.models import Enrollment
from trainees.selectors import may_assess
from training.models import Attendance, TrainingSession
from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

from .framework import current_framework
from .models import Competency, PriorExperience, SignOff, SignOffAmendment

MAX_EVIDENCE = 50


def _evidence(enrollment, competency, delivery, entry_ids, session_ids) -> tuple[list, list]:
    """The linked entries (signed entries of this trainee's log) and sessions (of the program, attended by the
    trainee). An in-person competency refuses virtual evidence: every linked entry and session must be in person."""
    entry_ids = sorted({int(i) for i in entry_ids or ()})
    session_ids = sorted({int(i) for i in session_ids or ()})
    if not entry_ids and not session_ids:
        raise ValidationError({"evidence_entries": "Link at least one signed entry or attended session as evidence."})
    if len(entry_ids) > MAX_EVIDENCE or len(session_ids) > MAX_EVIDENCE:
        raise ValidationError({"evidence_entries": f"Link at most {MAX_EVIDENCE} entries and {MAX_EVIDENCE} sessions."})
    entries = list(
        CaseLogEntry.objects.filter(
            pk__in=entry_ids, enrollment=enrollment, status=CaseLogEntry.Status.SIGNED
        ).select_related("case")
    )
    if len(entries) != len(entry_ids):
        raise ValidationError({"evidence_entries": "Link only signed entries of this trainee's case log."})
    attended = Attendance.objects.filter(enrollment=enrollment).values("session_id")
    sessions = list(
        TrainingSession.objects.filter(pk__in=session_ids, program_id=enrollment.program_id).filter(pk__in=attended)
    )
    if len(sessions) != len(session_ids):
        raise ValidationError({"evidence_sessions": "Link only sessions of this program that the trainee attended."})
    if competency.in_person_required or delivery == SignOff.Delivery.IN_PERSON:
        virtual_entries = [e for e in entries if e.delivery != CaseLogEntry.Delivery.IN_PERSON]
        virtual_sessions = [s for s in sessions if s.delivery != TrainingSession.Delivery.IN_PERSON]
        why = (
            f"{competency.title} needs in-person experience (SCMR 2021)"
            if competency.in_person_required
            else "An in-person sign-off rests on in-person evidence"
        )
        if virtual_entries:
            listed = ", ".join(f"{e.performed_on:%d %b %Y} {e.case.reference}" for e in virtual_entries[:5])
            raise ValidationError({"evidence_entries": f"{why}: these entries were not in person: {listed}."})
        if virtual_sessions:
            listed = ", ".join(s.title for s in virtual_sessions[:5])
            raise ValidationError({"evidence_sessions": f"{why}: these sessions were not in person: {listed}."})
    return entries, sessions


def _checked(*, actor, enrollment, competency, signed_on, delivery, entrustment_level, note) -> str:
    if not may_assess(actor, enrollment):
        raise PermissionDenied("Only the trainee's mentor or the program director signs off competencies.")
    if enrollment.trainee_id == actor.pk:
        raise PermissionDenied("Trainees do not sign off their own competencies.")
    if enrollment.status == Enrollment.Status.WITHDRAWN:
        raise ValidationError("The trainee has withdrawn from the program.")
    framework = current_framework()
    errors = {}
    if delivery not in SignOff.Delivery.values:
        errors["delivery"] = "Choose in person or virtual."
    elif competency.in_person_required and delivery != SignOff.Delivery.IN_PERSON:
        errors["delivery"] = (
            f"{competency.title} needs in-person experience (SCMR 2021: stress testing and patients with devices "
            '"may require an in-person experience"): sign it off in person, or record prior experience.'
        )
    if entrustment_level not in dict(framework.levels):
        errors["entrustment_level"] = f"Choose a level from 1 to {len(framework.levels)}."
    if not isinstance(signed_on, datetime.date):
        errors["signed_on"] = "Enter the date you observed it."
    elif signed_on > timezone.localdate():
        errors["signed_on"] = "The date cannot be in the future."
    elif signed_on < enrollment.start_date:
        errors["signed_on"] = f"The date is before the trainee's start ({enrollment.start_date:%d %b %Y})."
    if errors:
        raise ValidationError(errors)
    note = (note or "").strip()
    check_phi_fields({"note": note}, {"note": "Note"})
    return note


def _snapshot(sign_off: SignOff) -> dict:
    return {
        "competency": sign_off.competency.code,
        "signed_on": sign_off.signed_on.isoformat(),
        "delivery": sign_off.delivery,
        "entrustment_level": sign_off.entrustment_level,
        "evidence_entries": sorted(sign_off.evidence_entries.values_list("pk", flat=True)),
        "evidence_sessions": sorted(sign_off.evidence_sessions.values_list("pk", flat=True)),
        "note": sign_off.note,
        "signer": sign_off.signer_id,
    }


@transaction.atomic
def sign_off_create(
    *, actor, enrollment, competency_code: str, signed_on, delivery: str, entrustment_level: int,
    entry_ids=(), session_ids=(), note: str = "",
) -> SignOff:  # fmt: skip
    """The mentor's or the director's sign-off of one competency of the current framework. Once per competency;
    a correction is an amendment with a reason (`sign_off_amend`)."""
    framework = current_framework()
    competency = Competency.objects.filter(
        framework=framework.id, version=framework.version, code=competency_code
    ).first()
    if competency is None:
        raise ValidationError({"competency": "Choose a competency of the current framework."})
    note = _checked(
        actor=actor, enrollment=enrollment, competency=competency, signed_on=signed_on, delivery=delivery,
        entrustment_level=entrustment_level, note=note,
    )  # fmt: skip
    entries, sessions = _evidence(enrollment, competency, delivery, entry_ids, session_ids)
    taken = f"{competency.title} is already signed off for this trainee: amend it with a reason."
    if SignOff.objects.filter(enrollment=enrollment, competency=competency).exists():
        raise ValidationError({"competency": taken})
    try:
        with transaction.atomic():
            sign_off = SignOff.objects.create(
                enrollment=enrollment, competency=competency, signer=actor, signed_on=signed_on,
                delivery=delivery, entrustment_level=entrustment_level, note=note,
            )  # fmt: skip
    except IntegrityError as exc:  # a concurrent request signed it first
        raise ValidationError({"competency": taken}) from exc
    sign_off.evidence_entries.set(entries)
    sign_off.evidence_sessions.set(sessions)
    log_action(actor=actor, action="sign_off.create", obj=sign_off, after=_snapshot(sign_off))
    return sign_off


@transaction.atomic
def sign_off_amend(
    *, actor, sign_off: SignOff, reason: str, signed_on, delivery: str, entrustment_level: int,
    entry_ids=(), session_ids=(), note: str = "",
) -> SignOff:  # fmt: skip
    """Correct a sign-off: the new values, who and why; the sign-off before stays in the amendment record. The
    amender becomes the signer. Any change marks a signed determination stale (its evidence fingerprint)."""
    locked = SignOff.objects.select_for_update().select_related("competency", "enrollment").get(pk=sign_off.pk)
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationError({"reason": "Say why the sign-off is corrected (at least 10 characters)."})
    check_phi_fields({"reason": reason}, {"reason": "Reason"})
    note = _checked(
        actor=actor, enrollment=locked.enrollment, competency=locked.competency, signed_on=signed_on,
        delivery=delivery, entrustment_level=entrustment_level, note=note,
    )  # fmt: skip
    entries, sessions = _evidence(locked.enrollment, locked.competency, delivery, entry_ids, session_ids)
    before = _snapshot(locked)
    locked.signed_on, locked.delivery, locked.entrustment_level, locked.note, locked.signer = (
        signed_on, delivery, entrustment_level, note, actor,
    )  # fmt: skip
    after = {
        **before,
        "signed_on": signed_on.isoformat(), "delivery": delivery, "entrustment_level": entrustment_level,
        "evidence_entries": sorted(e.pk for e in entries), "evidence_sessions": sorted(s.pk for s in sessions),
        "note": note, "signer": actor.pk,
    }  # fmt: skip
    if after == before:
        raise ValidationError("Nothing was changed.")
    locked.save(update_fields=["signed_on", "delivery", "entrustment_level", "note", "signer"])
    locked.evidence_entries.set(entries)
    locked.evidence_sessions.set(sessions)
    SignOffAmendment.objects.create(sign_off=locked, amended_by=actor, reason=reason, before=before, after=after)
    log_action(actor=actor, action="sign_off.amend", obj=locked, before=before, after={**after, "reason": reason})
    return locked


@transaction.atomic
def record_prior_experience(*, actor, enrollment, competency_code: str, reason: str) -> PriorExperience:
    """The mentor's record, with a reason, that the trainee's prior experience covers a competency that otherwise
    needs in-person experience (SCMR 2021: "Depending on a trainee's experience, some components ... may require an
    in-person experience"). Written once; it is part of what the determination rests on."""
    if not may_assess(actor, enrollment):
        raise PermissionDenied("Only the trainee's mentor or the program director records prior experience.")
    framework = current_framework()
    competency = Competency.objects.filter(
        framework=framework.id, version=framework.version, code=competency_code, in_person_required=True
    ).first()
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
