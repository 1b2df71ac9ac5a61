"""Reads for case-log entries, scoped by the user asking."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from trainees.models import Enrollment
from trainees.selectors import enrollment_roles, enrollment_scope

from .models import CaseLogEntry, Category

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
    enrollments = Enrollment.objects.filter(enrollment_scope(user)).values("pk")
    return _base().filter(Q(enrollment_id__in=enrollments) | Q(supervising_mentor=user))


def review_inbox(user) -> QuerySet[CaseLogEntry]:
    """Submitted entries waiting for this mentor, oldest first."""
    return _base().filter(supervising_mentor=user, status=Status.SUBMITTED).order_by("submitted_at", "id")


# Which relations may do what to an entry; `None` means any status.
ENTRY_ACTIONS: dict[str, tuple[set[str], set[str] | None]] = {
    "view": ({"trainee", "mentor", "director", "reviewer", "supervisor"}, None),
    "edit": ({"trainee"}, set(CaseLogEntry.EDITABLE_STATUSES)),
    "submit": ({"trainee"}, set(CaseLogEntry.EDITABLE_STATUSES)),
    "review": ({"supervisor", "mentor"}, {Status.SUBMITTED}),
    "amend": ({"trainee", "supervisor", "mentor"}, {Status.SIGNED}),
}


class EntryStateError(PermissionDenied):
    """The user has the role, but the entry's status does not allow the action (e.g. editing a signed entry)."""


def get_entry_for_user(user, pk: int, *, action: str = "view") -> CaseLogEntry:
    """The one access point for a case-log entry. Outsiders 404, members without the role 403."""
    entry = _base().filter(pk=pk).first()
    if entry is None or not user.is_authenticated:
        raise Http404("No such case-log entry.")
    roles = enrollment_roles(user, entry.enrollment)
    if entry.supervising_mentor_id == user.pk and entry.enrollment.trainee_id != user.pk:
        roles.add("supervisor")
    if not roles and not entry.enrollment._member_of_program:
        raise Http404("No such case-log entry.")
    allowed_roles, allowed_statuses = ENTRY_ACTIONS[action]
    if not roles & allowed_roles:
        raise PermissionDenied("You do not have the role needed for this entry.")
    if allowed_statuses is not None and entry.status not in allowed_statuses:
        raise EntryStateError(f"This entry is {entry.get_status_display().lower()} and can no longer be changed.")
    return entry


def curriculum_categories() -> QuerySet[Category]:
    return Category.objects.all()


def reviewable_entries(user, ids) -> list[CaseLogEntry]:
    """Of the given ids, the entries waiting in this mentor's inbox (others are silently left out)."""
    return list(review_inbox(user).filter(pk__in=list(ids)))


def entry_history(entry: CaseLogEntry) -> list[dict]:
    """Every recorded change of the entry, oldest first: audit events with actor, time, before and after."""
    from trainingportal.core.models import AuditEvent

    events = AuditEvent.objects.filter(object_type="cases.caselogentry", object_id=str(entry.pk)).select_related(
        "actor"
    )
    return list(events.order_by("created_at", "id"))


def recent_references(enrollment, *, limit: int = 30) -> list[str]:
    """The program's most recently logged case references (for picking a case by typing)."""
    from .models import Case

    return list(
        Case.objects.filter(program_id=enrollment.program_id)
        .order_by("-created_at")
        .values_list("reference", flat=True)[:limit]
    )
