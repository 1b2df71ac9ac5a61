"""Writes for the case log: create, edit, submit, sign, return. State moves are conditional updates in transactions,
so two mentors (or a double click) cannot sign the same entry twice, and a signed entry never changes."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

from .models import Case, CaseLogEntry

Status = CaseLogEntry.Status

FREE_TEXT_LABELS = {
    "indication": "Indication",
    "findings": "Findings",
    "impression": "Impression",
    "key_measurements": "Key measurements",
    "mentor_feedback": "Feedback",
    "returned_reason": "Reason for returning",
}
ENTRY_FIELDS = [
    "performed_on",
    *CaseLogEntry.ROLE_FIELDS,
    "delivery",
    "session",
    "supervising_mentor",
    "findings",
    "impression",
    "key_measurements",
]


def _snapshot(entry: CaseLogEntry) -> dict:
    return {
        "status": entry.status,
        "case": entry.case.reference,
        "performed_on": entry.performed_on.isoformat() if entry.performed_on else None,
        "roles": [f for f in CaseLogEntry.ROLE_FIELDS if getattr(entry, f)],
        "delivery": entry.delivery,
        "supervising_mentor": entry.supervising_mentor.email if entry.supervising_mentor_id else None,
        "impression": entry.impression,
    }


def allowed_supervisors(enrollment):
    """The enrollment's mentors; while none is assigned, any mentor of the program. Never the trainee."""
    from django.contrib.auth import get_user_model

    from programs.models import Membership

    users = get_user_model().objects.exclude(pk=enrollment.trainee_id).order_by("full_name", "email")
    assigned = users.filter(supervised_enrollments=enrollment)
    if assigned.exists():
        return assigned
    return users.filter(memberships__program_id=enrollment.program_id, memberships__role=Membership.Role.MENTOR)


def allowed_supervisor_ids(enrollment) -> set[int]:
    return set(allowed_supervisors(enrollment).values_list("pk", flat=True))


def _validate_entry(entry: CaseLogEntry) -> None:
    errors = {}
    if not any(getattr(entry, f) for f in CaseLogEntry.ROLE_FIELDS):
        errors["roles"] = "Tick at least one role: what did you do with this case?"
    if entry.performed_on and entry.performed_on > timezone.localdate():
        errors["performed_on"] = "The date cannot be in the future."
    if entry.performed_on and entry.performed_on < entry.enrollment.start_date.replace(
        year=entry.enrollment.start_date.year - 5
    ):
        errors["performed_on"] = "The date is more than five years before the enrollment started."
    if entry.supervising_mentor_id and entry.supervising_mentor_id not in allowed_supervisor_ids(entry.enrollment):
        errors["supervising_mentor"] = "Choose one of your mentors."
    if errors:
        raise ValidationError(errors)
    check_phi_fields({k: getattr(entry, k) for k in ("findings", "impression", "key_measurements")}, FREE_TEXT_LABELS)
    entry.full_clean(exclude=["case"])


def _case_for(
    *,
    enrollment,
    reference: str,
    source: str,
    complete_study: bool,
    indication: str,
    categories,
    field_strength: str = Case.FieldStrength.T1_5,
) -> Case:
    check_phi_fields({"indication": indication}, FREE_TEXT_LABELS)
    reference = reference.strip()
    case = Case.objects.filter(program=enrollment.program, reference__iexact=reference).first()
    if case is None:
        case = Case(
            program=enrollment.program,
            reference=reference,
            source=source,
            complete_study=complete_study,
            indication=indication.strip(),
            field_strength=field_strength,
        )
        case.full_clean(exclude=["program"])
        case.save()
    if not categories:
        raise ValidationError({"categories": "Choose at least one curriculum topic."})
    # A case's topics are the union of what the trainees who logged it chose.
    case.categories.add(*categories)
    return case


@transaction.atomic
def entry_create(
    *,
    actor,
    enrollment,
    reference: str,
    source: str,
    complete_study: bool,
    indication: str,
    categories,
    submit: bool = False,
    **fields,
) -> CaseLogEntry:
    if enrollment.trainee_id != actor.pk:
        raise ValidationError("Only the trainee logs their own cases.")
    case = _case_for(
        enrollment=enrollment,
        reference=reference,
        source=source,
        complete_study=complete_study,
        indication=indication,
        categories=categories,
    )
    entry = CaseLogEntry(enrollment=enrollment, case=case, **fields)
    _validate_entry(entry)
    entry.save()
    log_action(actor=actor, action="entry.create", obj=entry, after=_snapshot(entry))
    if submit:
        entry_submit(actor=actor, entry=entry)
    return entry


@transaction.atomic
def entry_update(*, actor, entry: CaseLogEntry, submit: bool = False, **fields) -> CaseLogEntry:
    locked = CaseLogEntry.objects.select_for_update().get(pk=entry.pk)
    if locked.status not in CaseLogEntry.EDITABLE_STATUSES:
        raise ValidationError("This entry has been submitted or signed and can no longer be edited.")
    before = _snapshot(locked)
    for name, value in fields.items():
        if name not in ENTRY_FIELDS:
            raise ValidationError(f"{name} cannot be changed here.")
        setattr(locked, name, value)
    _validate_entry(locked)
    locked.save()
    log_action(actor=actor, action="entry.update", obj=locked, before=before, after=_snapshot(locked))
    if submit:
        entry_submit(actor=actor, entry=locked)
    return locked


def _move(entry: CaseLogEntry, *, from_statuses, **changes) -> CaseLogEntry:
    """Conditional UPDATE: moves the entry only if it is still in one of `from_statuses`."""
    moved = CaseLogEntry.objects.filter(pk=entry.pk, status__in=from_statuses).update(
        updated_at=timezone.now(), **changes
    )
    if not moved:
        current = CaseLogEntry.objects.get(pk=entry.pk)
        raise ValidationError(f"This entry is {current.get_status_display().lower()} now; nothing was changed.")
    entry.refresh_from_db()
    return entry


@transaction.atomic
def entry_submit(*, actor, entry: CaseLogEntry) -> CaseLogEntry:
    before = _snapshot(entry)
    entry = _move(
        entry, from_statuses=CaseLogEntry.EDITABLE_STATUSES, status=Status.SUBMITTED, submitted_at=timezone.now()
    )
    log_action(actor=actor, action="entry.submit", obj=entry, before=before, after=_snapshot(entry))
    return entry


@transaction.atomic
def entry_sign(*, actor, entry: CaseLogEntry, feedback: str, agrees: bool | None) -> CaseLogEntry:
    check_phi_fields({"mentor_feedback": feedback}, FREE_TEXT_LABELS)
    if not feedback.strip():
        raise ValidationError({"mentor_feedback": "Write feedback for the trainee before signing."})
    before = _snapshot(entry)
    entry = _move(
        entry,
        from_statuses=[Status.SUBMITTED],
        status=Status.SIGNED,
        signed_at=timezone.now(),
        signed_by=actor,
        mentor_feedback=feedback.strip(),
        mentor_agrees=agrees,
        returned_reason="",
    )
    log_action(actor=actor, action="entry.sign", obj=entry, before=before, after={**_snapshot(entry), "agrees": agrees})
    return entry


@transaction.atomic
def entry_return(*, actor, entry: CaseLogEntry, reason: str) -> CaseLogEntry:
    check_phi_fields({"returned_reason": reason}, FREE_TEXT_LABELS)
    if not reason.strip():
        raise ValidationError({"returned_reason": "Say what the trainee should change."})
    before = _snapshot(entry)
    entry = _move(entry, from_statuses=[Status.SUBMITTED], status=Status.RETURNED, returned_reason=reason.strip())
    log_action(actor=actor, action="entry.return", obj=entry, before=before, after=_snapshot(entry))
    return entry


def default_performed_on() -> date:
    return timezone.localdate()
