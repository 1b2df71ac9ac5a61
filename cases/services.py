"""Writes for the case log: create, edit, submit, sign, return. State moves are conditional updates in transactions,
so two mentors (or a double click) cannot sign the same entry twice, and a signed entry never changes."""

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from curriculum import cmr
from curriculum.selectors import curriculum_topics
from programs.models import Membership
from programs.selectors import program_users
from training.selectors import session_for_entry
from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_case_reference, check_phi_fields

from .models import Case, CaseLogAmendment, CaseLogEntry, GroupReview

Status = CaseLogEntry.Status

FREE_TEXT_LABELS = {
    "indication": "Indication",
    "findings": "Findings",
    "impression": "Impression",
    "key_measurements": "Key measurements",
    "mentor_feedback": "Feedback",
    "returned_reason": "Reason for returning",
    "final_diagnosis": "Final diagnosis",
    "mentor_final_diagnosis": "Your final diagnosis",
    "reason": "Reason for the amendment",
    "teaching_points": "Teaching points",
    "technique_tags": "Techniques",
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
    *CaseLogEntry.READ_FIELDS,
]
# What an amendment may correct (the case itself, its reference and topics, is not part of the entry).
AMENDABLE_FIELDS = [f for f in ENTRY_FIELDS if f != "session"]


def _snapshot(entry: CaseLogEntry) -> dict:
    return {
        "status": entry.status,
        "case": entry.case.reference,
        "performed_on": entry.performed_on.isoformat() if entry.performed_on else None,
        "roles": entry.roles,
        "delivery": entry.delivery,
        "supervising_mentor": entry.supervising_mentor.email if entry.supervising_mentor_id else None,
        "findings": entry.findings,
        "impression": entry.impression,
        "key_measurements": entry.key_measurements,
        **{f: getattr(entry, f) for f in CaseLogEntry.READ_FIELDS},
        "signed_by": entry.signed_by.email if entry.signed_by_id else None,
        "signed_at": entry.signed_at.isoformat() if entry.signed_at else None,
    }


def allowed_supervisors(enrollment):
    """The enrollment's mentors who are still mentors of its program; while none is assigned, any mentor of the
    program. Never the trainee."""
    mentors = program_users(enrollment.program, Membership.Role.MENTOR).exclude(pk=enrollment.trainee_id)
    assigned = mentors.filter(supervised_enrollments=enrollment)
    return assigned if assigned.exists() else mentors


def allowed_supervisor_ids(enrollment) -> set[int]:
    return set(allowed_supervisors(enrollment).values_list("pk", flat=True))


def _pk(value):
    return getattr(value, "pk", value)


def _resolve_related(enrollment, fields: dict) -> dict:
    """Resolve the ids a user sent with an entry — from the form, the API or an import alike — through the access
    rule of each one's aggregate: the session must be one the trainee can see, of the entry's own program; the
    supervising mentor one of the enrollment's mentors. Anything else is a field error, and nothing is saved."""
    fields = dict(fields)
    if "session" in fields:
        fields["session"] = session_for_entry(enrollment, _pk(fields["session"]))
    if "supervising_mentor" in fields:
        mentor_id = _pk(fields["supervising_mentor"])
        mentor = allowed_supervisors(enrollment).filter(pk=mentor_id).first() if mentor_id is not None else None
        if mentor is None:
            raise ValidationError({"supervising_mentor": "Choose one of your mentors."})
        fields["supervising_mentor"] = mentor
    return fields


def _validate_entry(entry: CaseLogEntry) -> None:
    """The entry's own rules. Its session and mentor arrive resolved (_resolve_related); the mentor is checked again
    because an edit may keep a mentor who has since left the program."""
    errors = {}
    if not entry.roles:
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
    check_phi_fields(
        {k: getattr(entry, k) for k in ("findings", "impression", "key_measurements", "final_diagnosis")},
        FREE_TEXT_LABELS,
    )
    entry.full_clean(exclude=["case"])


def stress_supervisors(program):
    """Who may have supervised a stress study in person: the program's mentors and its director."""
    return program_users(program, Membership.Role.MENTOR, Membership.Role.DIRECTOR)


def _clinical(enrollment, clinical: dict) -> dict:
    """Check and normalise what the study was (field strength, contrast, stress and its supervisor, device,
    congenital / paediatric, sedation, vendor, sequences, diagnosis), from the form, the API or an import alike.
    Every choice is validated by the model; ids and codes here. Raises one ValidationError with every field's error."""
    clinical = {k: v for k, v in clinical.items() if k in Case.CLINICAL_FIELDS}
    errors = {}
    if "stress_supervisor" in clinical:
        supervisor_id = _pk(clinical["stress_supervisor"])
        supervisor = None
        if supervisor_id not in (None, ""):
            supervisor = stress_supervisors(enrollment.program).filter(pk=supervisor_id).first()
            if supervisor is None:
                errors["stress_supervisor"] = "Choose a mentor or the director of your program."
        clinical["stress_supervisor"] = supervisor
    if "sequences" in clinical:
        given = clinical["sequences"] or []
        if isinstance(given, str) or not isinstance(given, (list, tuple)):
            errors["sequences"] = "Give the sequences as a list."
        else:
            unknown = [str(x) for x in given if x not in cmr.SEQUENCE_CODES]
            if unknown:
                errors["sequences"] = f"Unknown sequences: {', '.join(unknown[:5])}. Choose from the list."
            else:
                clinical["sequences"] = [code for code, _ in cmr.SEQUENCES if code in set(given)]
    code = clinical.get("diagnosis") or ""
    if code and cmr.diagnosis(code) is None:
        errors["diagnosis"] = "Choose a diagnosis from the list."
    if errors:
        raise ValidationError(errors)
    if code:
        clinical["diagnosis_taxonomy"] = cmr.TAXONOMY_VERSION
        if cmr.group_of(code) == "congenital":
            clinical["congenital"] = True
    return clinical


def _case_for(
    *,
    enrollment,
    reference: str,
    source: str,
    complete_study: bool,
    indication: str,
    categories,
    technique_tags=(),
    **clinical,
) -> Case:
    check_phi_fields({"indication": indication, "technique_tags": ", ".join(technique_tags)}, FREE_TEXT_LABELS)
    clinical = _clinical(enrollment, clinical)
    reference = reference.strip()
    case = Case.objects.filter(program=enrollment.program, reference__iexact=reference).first()
    # A live stress study names who supervised it in person (unless the case, logged before, already does).
    stress = clinical.get("stress_agent") or (case.stress_agent if case else "")
    live = (case.source if case else source) == Case.Source.LIVE_SCAN
    supervised = clinical.get("stress_supervisor") or (case is not None and case.stress_supervisor_id)
    if stress and stress != Case.Stress.NONE and live and not supervised:
        raise ValidationError({"stress_supervisor": "Say who supervised the stress study in person."})
    if case is None:
        # The same rule for the form, the API, the CSV import and group reviews (a case logged before keeps its name).
        check_case_reference(reference, pattern=enrollment.program.case_reference_pattern)
        case = Case(
            program=enrollment.program,
            reference=reference,
            source=source,
            complete_study=complete_study,
            indication=indication.strip(),
            **clinical,
        )
        case.full_clean(exclude=["program"])
        case.save()
    else:
        _complete_case(case, clinical)
    # The diagnosis brings its curriculum topics (the taxonomy maps each diagnosis to the topics it exercises).
    topics = list(categories or [])
    if case.diagnosis and (found := cmr.diagnosis(case.diagnosis)):
        topics += list(curriculum_topics().filter(slug__in=found.topics))
    if not topics:
        raise ValidationError({"categories": "Choose at least one curriculum topic, or the diagnosis."})
    # A case's topics (and techniques) are the union of what the trainees who logged it chose.
    case.categories.add(*topics)
    new_tags = [t[:40] for t in technique_tags if t not in case.technique_tags]
    if new_tags:
        case.technique_tags = [*case.technique_tags, *new_tags]
        case.save(update_fields=["technique_tags"])
    return case


def _complete_case(case: Case, clinical: dict) -> None:
    """A case logged again (by another trainee, or from a group review) keeps what was recorded first; what was not
    recorded yet is filled in, and sequences are the union."""
    changed = []
    for name, value in clinical.items():
        current = getattr(case, name)
        if name == "sequences":
            merged = [code for code, _ in cmr.SEQUENCES if code in set(current) | set(value or [])]
            if merged != current:
                case.sequences = merged
                changed.append(name)
        elif value not in (None, "", False) and current in (None, "", False):
            setattr(case, name, value)
            changed.append(name)
    if changed:
        case.full_clean(exclude=["program"])
        case.save(update_fields=changed)


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
    technique_tags=(),
    **fields,
) -> CaseLogEntry:
    if enrollment.trainee_id != actor.pk:
        raise ValidationError("Only the trainee logs their own cases.")
    clinical = {name: fields.pop(name) for name in Case.CLINICAL_FIELDS if name in fields}
    case = _case_for(
        enrollment=enrollment,
        reference=reference,
        source=source,
        complete_study=complete_study,
        indication=indication,
        categories=categories,
        technique_tags=technique_tags,
        **clinical,
    )
    entry = CaseLogEntry(enrollment=enrollment, case=case, **_resolve_related(enrollment, fields))
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
    for name in fields:
        if name not in ENTRY_FIELDS:
            raise ValidationError(f"{name} cannot be changed here.")
    for name, value in _resolve_related(locked.enrollment, fields).items():
        setattr(locked, name, value)
    _validate_entry(locked)
    locked.save()
    log_action(actor=actor, action="entry.update", obj=locked, before=before, after=_snapshot(locked))
    if submit:
        entry_submit(actor=actor, entry=locked)
    return locked


def _reviewed_by(actor) -> Q:
    """Entries `actor` may review: sent to them, or of a trainee they mentor — never their own (the rule of the
    "review" action in cases.selectors, repeated in the UPDATE so that no caller can sign past it)."""
    return (Q(supervising_mentor=actor) | Q(enrollment__mentors=actor)) & ~Q(enrollment__trainee=actor)


def _move(entry: CaseLogEntry, *, from_statuses, reviewer=None, **changes) -> CaseLogEntry:
    """Conditional UPDATE: moves the entry only if it is still in one of `from_statuses` (and, with `reviewer`, only
    if that user may review it)."""
    qs = CaseLogEntry.objects.filter(pk=entry.pk, status__in=from_statuses)
    if reviewer is not None:
        if not CaseLogEntry.objects.filter(_reviewed_by(reviewer), pk=entry.pk).exists():
            raise PermissionDenied("Only the entry's mentors review it.")
    moved = qs.update(updated_at=timezone.now(), **changes)
    if not moved:
        current = CaseLogEntry.objects.get(pk=entry.pk)
        raise ValidationError(f"This entry is {current.get_status_display().lower()} now; nothing was changed.")
    entry.refresh_from_db()
    return entry


@transaction.atomic
def has_own_read(entry: CaseLogEntry) -> bool:
    """The trainee recorded their own read: an impression or a structured field (SCMR 2021: "initial interpretation
    of a CMR exam remains an essential part of the competency assessment")."""
    return bool(entry.impression.strip()) or any(
        getattr(entry, name) not in (None, "") for name in CaseLogEntry.READ_FIELDS
    )


def entry_submit(*, actor, entry: CaseLogEntry) -> CaseLogEntry:
    if entry.interpreted and not has_own_read(entry):
        raise ValidationError(
            {"impression": "Record your own read first (an impression, or LVEF, LGE or the final diagnosis)."}
        )
    before = _snapshot(entry)
    entry = _move(
        entry, from_statuses=CaseLogEntry.EDITABLE_STATUSES, status=Status.SUBMITTED, submitted_at=timezone.now()
    )
    log_action(actor=actor, action="entry.submit", obj=entry, before=before, after=_snapshot(entry))
    return entry


def compare_reads(entry: CaseLogEntry) -> dict[str, bool]:
    """Agreement of the trainee's structured read with the mentor's, field by field, where both gave a value:
    LVEF within 5 points, LV EDV index within 10 %, the same LGE pattern, the same final diagnosis (case-folded)."""
    result: dict[str, bool] = {}
    if entry.lvef is not None and entry.mentor_lvef is not None:
        result["lvef"] = abs(entry.lvef - entry.mentor_lvef) <= 5
    if entry.lv_edvi is not None and entry.mentor_lv_edvi:
        result["lv_edvi"] = abs(entry.lv_edvi - entry.mentor_lv_edvi) <= 0.1 * entry.mentor_lv_edvi
    if entry.lge_pattern and entry.mentor_lge_pattern:
        result["lge_pattern"] = entry.lge_pattern == entry.mentor_lge_pattern
    if entry.final_diagnosis and entry.mentor_final_diagnosis:
        result["final_diagnosis"] = entry.final_diagnosis.strip().casefold() == (
            entry.mentor_final_diagnosis.strip().casefold()
        )
    return result


@transaction.atomic
def entry_record_mentor_read(
    *, actor, entry: CaseLogEntry, lvef=None, lv_edvi=None, lge_pattern: str = "", final_diagnosis: str = ""
) -> CaseLogEntry:
    """The mentor's own read, recorded before the trainee's is shown (blind review). Recorded once."""
    check_phi_fields({"mentor_final_diagnosis": final_diagnosis}, FREE_TEXT_LABELS)
    if lvef is None and lv_edvi is None and not lge_pattern and not final_diagnosis:
        raise ValidationError("Record at least one item of your own read.")
    if not CaseLogEntry.objects.filter(_reviewed_by(actor), pk=entry.pk).exists():
        raise PermissionDenied("Only the entry's mentors review it.")
    moved = CaseLogEntry.objects.filter(pk=entry.pk, status=Status.SUBMITTED, mentor_read_at__isnull=True).update(
        mentor_lvef=lvef,
        mentor_lv_edvi=lv_edvi,
        mentor_lge_pattern=lge_pattern,
        mentor_final_diagnosis=final_diagnosis.strip(),
        mentor_read_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if not moved:
        raise ValidationError("Your read of this entry is recorded already, or the entry is no longer awaiting review.")
    entry.refresh_from_db()
    log_action(
        actor=actor,
        action="entry.mentor_read",
        obj=entry,
        after={f: getattr(entry, f"mentor_{f}") for f in CaseLogEntry.READ_FIELDS},
    )
    return entry


@transaction.atomic
def entry_sign(
    *, actor, entry: CaseLogEntry, feedback: str, agrees: bool | None, agreement: dict[str, bool] | None = None
) -> CaseLogEntry:
    """Sign a submitted entry. `agreement` (per read field) defaults to the comparison with the mentor's own read."""
    check_phi_fields({"mentor_feedback": feedback}, FREE_TEXT_LABELS)
    if not feedback.strip():
        raise ValidationError({"mentor_feedback": "Write feedback for the trainee before signing."})
    if entry.awaiting_blind_read:
        raise ValidationError("This program reviews blind: record your own read before signing.")
    agreement = {**compare_reads(entry), **(agreement or {})}
    unknown = set(agreement) - set(CaseLogEntry.READ_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown read fields: {', '.join(sorted(unknown))}.")
    before = _snapshot(entry)
    entry = _move(
        entry,
        from_statuses=[Status.SUBMITTED],
        reviewer=actor,
        status=Status.SIGNED,
        signed_at=timezone.now(),
        signed_by=actor,
        mentor_feedback=feedback.strip(),
        mentor_agrees=agrees,
        agreement=agreement,
        returned_reason="",
    )
    log_action(
        actor=actor,
        action="entry.sign",
        obj=entry,
        before=before,
        after={**_snapshot(entry), "agrees": agrees, "agreement": agreement},
    )
    return entry


@transaction.atomic
def entries_sign_batch(*, actor, entries: list[CaseLogEntry], feedback: str) -> tuple[list, list]:
    """Sign several submitted entries with the same short feedback. Entries another mentor signed meanwhile, or that
    need a blind read first, are skipped and returned with the reason; the rest are signed, each with its audit
    event. Returns (signed, skipped)."""
    if not feedback.strip():
        raise ValidationError({"mentor_feedback": "Write the feedback the trainees will see."})
    signed, skipped = [], []
    for entry in entries:
        try:
            with transaction.atomic():
                signed.append(entry_sign(actor=actor, entry=entry, feedback=feedback, agrees=True))
        except ValidationError as exc:
            skipped.append((entry, " ".join(exc.messages)))
        except PermissionDenied as exc:
            skipped.append((entry, str(exc)))
    return signed, skipped


@transaction.atomic
def entry_return(*, actor, entry: CaseLogEntry, reason: str) -> CaseLogEntry:
    check_phi_fields({"returned_reason": reason}, FREE_TEXT_LABELS)
    if not reason.strip():
        raise ValidationError({"returned_reason": "Say what the trainee should change."})
    before = _snapshot(entry)
    entry = _move(
        entry, from_statuses=[Status.SUBMITTED], reviewer=actor, status=Status.RETURNED, returned_reason=reason.strip()
    )
    log_action(actor=actor, action="entry.return", obj=entry, before=before, after=_snapshot(entry))
    return entry


@transaction.atomic
def entry_amend(*, actor, entry: CaseLogEntry, reason: str, **fields) -> CaseLogEntry:
    """Correct a signed entry. The original stays in the amendment record. A trainee's correction goes back to the
    mentor for a new signature; a mentor's correction of an entry they may review stays signed."""
    check_phi_fields({"reason": reason}, FREE_TEXT_LABELS)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the signed entry is corrected."})
    locked = CaseLogEntry.objects.select_for_update().select_related("case", "enrollment").get(pk=entry.pk)
    if locked.status != Status.SIGNED:
        raise ValidationError("Only signed entries are amended; edit drafts and returned entries directly.")
    unknown = set(fields) - set(AMENDABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These cannot be amended: {', '.join(sorted(unknown))}.")
    before = _snapshot(locked)
    fields = _resolve_related(locked.enrollment, fields)
    changed = {name: value for name, value in fields.items() if getattr(locked, name) != value}
    if not changed:
        raise ValidationError("Nothing was changed.")
    for name, value in changed.items():
        setattr(locked, name, value)
    _validate_entry(locked)
    by_trainee = locked.enrollment.trainee_id == actor.pk
    if by_trainee:
        # The corrected read needs a new signature; the old one is kept in `before`.
        locked.status, locked.submitted_at = Status.SUBMITTED, timezone.now()
        locked.signed_at = locked.signed_by = None
        locked.agreement = {}
    locked.save()
    CaseLogAmendment.objects.create(
        entry=locked, amended_by=actor, reason=reason.strip(), before=before, after=_snapshot(locked)
    )
    log_action(actor=actor, action="entry.amend", obj=locked, before=before, after=_snapshot(locked))
    return locked


@transaction.atomic
def group_review_create(
    *,
    actor,
    program,
    enrollments,
    reference: str,
    source: str,
    categories,
    performed_on: date,
    delivery: str,
    session=None,
    indication: str = "",
    teaching_points: str = "",
) -> GroupReview:
    """A mentor records a case reviewed with several trainees once; each trainee gets a draft entry to confirm with
    their own read and submit."""
    check_phi_fields({"teaching_points": teaching_points}, FREE_TEXT_LABELS)
    if not enrollments:
        raise ValidationError({"enrollments": "Choose the trainees who attended."})
    for enrollment in enrollments:
        if enrollment.program_id != program.pk or actor.pk not in allowed_supervisor_ids(enrollment):
            raise ValidationError({"enrollments": f"You do not supervise {enrollment.trainee}."})
    case = _case_for(
        enrollment=enrollments[0],
        reference=reference,
        source=source,
        complete_study=True,
        indication=indication,
        categories=categories,
    )
    review = GroupReview.objects.create(
        session=session,
        mentor=actor,
        case=case,
        performed_on=performed_on,
        delivery=delivery,
        teaching_points=teaching_points.strip(),
    )
    for enrollment in enrollments:
        entry = CaseLogEntry(
            enrollment=enrollment,
            case=case,
            performed_on=performed_on,
            interpreted=True,
            delivery=delivery,
            session=_resolve_related(enrollment, {"session": session})["session"],
            supervising_mentor=actor,
            group_review=review,
        )
        _validate_entry(entry)
        entry.save()
        log_action(actor=actor, action="entry.create_from_group_review", obj=entry, after=_snapshot(entry))
    log_action(actor=actor, action="group_review.create", obj=review, after={"trainees": len(enrollments)})
    return review


def last_entry_defaults(enrollment) -> dict:
    """What the trainee's next entry most likely shares with their last one: mentor, delivery, session, source,
    roles. Keyboard-first logging starts from these."""
    last = (
        CaseLogEntry.objects.filter(enrollment=enrollment).select_related("case").order_by("-created_at", "-id").first()
    )
    if last is None:
        return {}
    return {
        "supervising_mentor": last.supervising_mentor_id,
        "delivery": last.delivery,
        "session": last.session_id,
        "source": last.case.source,
        "roles": last.roles,
        # The scanner and the usual protocol rarely change from one case to the next.
        **{name: getattr(last.case, name) for name in LAST_CASE_DEFAULTS if getattr(last.case, name) not in ("", None)},
    }


LAST_CASE_DEFAULTS = ["field_strength", "vendor", "contrast_agent", "sequences"]
