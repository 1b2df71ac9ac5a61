"""Reads for case-log entries, scoped by the user asking."""

from collections import defaultdict

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from trainees.selectors import enrollment_relations, enrollments_for_user
from trainingportal.core.access import Access
from trainingportal.core.models import AuditEvent

from .models import Case, CaseLogEntry

Status = CaseLogEntry.Status


def _base() -> QuerySet[CaseLogEntry]:
    return CaseLogEntry.objects.select_related(
        "case", "enrollment__trainee", "enrollment__program", "supervising_mentor", "signed_by"
    ).prefetch_related("case__categories")


def entries_for_user(user) -> QuerySet[CaseLogEntry]:
    """Entries the user may see: those of the enrollments they may see (trainees.selectors.enrollment_scope), plus
    the entries they supervise."""
    if not user.is_authenticated:
        return CaseLogEntry.objects.none()
    enrollments = enrollments_for_user(user).values("pk")
    return _base().filter(Q(enrollment_id__in=enrollments) | Q(supervising_mentor=user))


def review_inbox(user) -> QuerySet[CaseLogEntry]:
    """Submitted entries waiting for this mentor, oldest first."""
    return _base().filter(supervising_mentor=user, status=Status.SUBMITTED).order_by("submitted_at", "id")


# Which relations may do what to an entry; `None` means any status.
ENTRY_ACTIONS: dict[str, tuple[set[str], set[str] | None]] = {
    "view": ({"trainee", "mentor", "director", "supervisor"}, None),
    "edit": ({"trainee"}, set(CaseLogEntry.EDITABLE_STATUSES)),
    "submit": ({"trainee"}, set(CaseLogEntry.EDITABLE_STATUSES)),
    "review": ({"supervisor", "mentor"}, {Status.SUBMITTED}),
    "amend": ({"trainee", "supervisor", "mentor"}, {Status.SIGNED}),
}


class EntryStateError(PermissionDenied):
    """The user has the role, but the entry's status does not allow the action (e.g. editing a signed entry)."""


def get_entry_for_user(user, pk: int, *, action: str = "view") -> Access[CaseLogEntry]:
    """The one access point for a case-log entry. Outsiders 404, members without the role 403.

    The roles are the user's relations to the entry's enrollment (trainee, mentor, director) plus "supervisor" for
    the mentor the entry was sent to."""
    entry = _base().filter(pk=pk).first() if user.is_authenticated else None
    if entry is None:
        raise Http404("No such case-log entry.")
    relations, member = enrollment_relations(user, entry.enrollment)
    roles = set(relations)
    if entry.supervising_mentor_id == user.pk and entry.enrollment.trainee_id != user.pk:
        roles.add("supervisor")
    if not roles and not member:
        raise Http404("No such case-log entry.")
    allowed_roles, allowed_statuses = ENTRY_ACTIONS[action]
    if not roles & allowed_roles:
        raise PermissionDenied("You do not have the role needed for this entry.")
    if allowed_statuses is not None and entry.status not in allowed_statuses:
        raise EntryStateError(f"This entry is {entry.get_status_display().lower()} and can no longer be changed.")
    return Access(entry, frozenset(roles))


def reviewable_entries(user, ids) -> list[CaseLogEntry]:
    """Of the given ids, the entries waiting in this mentor's inbox (others are silently left out)."""
    return list(review_inbox(user).filter(pk__in=list(ids)))


def entry_history(entry: CaseLogEntry) -> list[dict]:
    """Every recorded change of the entry, oldest first: audit events with actor, time, before and after."""
    events = AuditEvent.objects.filter(object_type="cases.caselogentry", object_id=str(entry.pk)).select_related(
        "actor"
    )
    return list(events.order_by("created_at", "id"))


def recent_references(enrollment, *, limit: int = 30) -> list[str]:
    """The program's most recently logged case references (for picking a case by typing)."""
    return list(
        Case.objects.filter(program_id=enrollment.program_id)
        .order_by("-created_at")
        .values_list("reference", flat=True)[:limit]
    )


def entry_counts_by_enrollment(enrollment_ids) -> dict[int, dict[str, int]]:
    """{enrollment id: {"signed": n, "pending": n}} for the given enrollments (the caller has checked access)."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        CaseLogEntry.objects.filter(enrollment_id__in=list(enrollment_ids))
        .values("enrollment_id")
        .annotate(
            signed=Count("id", filter=Q(status=Status.SIGNED)), pending=Count("id", filter=Q(status=Status.SUBMITTED))
        )
        .order_by()
    )
    for row in rows:
        counts[row["enrollment_id"]] = {"signed": row["signed"], "pending": row["pending"]}
    return counts


def program_complete_study_count(program) -> int:
    return Case.objects.filter(program=program, complete_study=True).count()


def signed_entries(enrollment) -> QuerySet[CaseLogEntry]:
    """The enrollment's signed entries, oldest first, with case, topics, mentor and signer (for the dossier)."""
    return (
        CaseLogEntry.objects.filter(enrollment=enrollment, status=Status.SIGNED)
        .select_related("case", "supervising_mentor", "signed_by", "session")
        .prefetch_related("case__categories")
        .order_by("performed_on", "id")
    )


def agreement_summary(enrollment) -> dict:
    """How often the mentor agreed with the trainee's read, field by field, over the signed entries (SCMR 2021: "The
    image analysis and initial interpretation of a CMR exam remains an essential part of the competency
    assessment"). One query. {"fields": [{field, label, compared, agreed, percent}], "blind": entries whose mentor
    read came first (blind review), "signed": signed entries}."""
    signed = CaseLogEntry.objects.filter(enrollment=enrollment, status=Status.SIGNED).order_by()
    annotations = {"signed": Count("id"), "blind": Count("id", filter=Q(mentor_read_at__isnull=False))}
    for name in CaseLogEntry.READ_FIELDS:
        annotations[f"{name}_compared"] = Count("id", filter=Q(agreement__has_key=name))
        annotations[f"{name}_agreed"] = Count("id", filter=Q(**{f"agreement__{name}": True}))
    row = signed.aggregate(**annotations)
    fields = []
    for name in CaseLogEntry.READ_FIELDS:
        compared, agreed = row[f"{name}_compared"], row[f"{name}_agreed"]
        label = str(CaseLogEntry._meta.get_field(name).verbose_name)
        fields.append(
            {
                "field": name,
                "label": label[0].upper() + label[1:],
                "compared": compared,
                "agreed": agreed,
                "percent": round(agreed * 100 / compared) if compared else None,
            }
        )
    return {"fields": fields, "blind": row["blind"], "signed": row["signed"]}
