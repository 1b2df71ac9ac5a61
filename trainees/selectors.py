"""Reads for enrollments, scoped by the user asking.

An enrollment is seen by its trainee, its mentors, and the director of its program. SCMR reviewers read a trainee's
record only through the dossier put before them (verification app), never here.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from programs.models import Membership
from programs.selectors import directed_program_ids, roles_in_program
from trainingportal.core.access import Access

from .models import Enrollment, LeavePeriod

Role = Membership.Role


def enrollment_scope(user) -> Q:
    """The enrollments `user` may read, as a filter on Enrollment."""
    return Q(trainee=user) | Q(mentors=user) | Q(program_id__in=directed_program_ids(user))


def enrollments_for_user(user) -> QuerySet[Enrollment]:
    """Enrollments the user may see: their own, those they mentor, all of the programs they direct."""
    if not user.is_authenticated:
        return Enrollment.objects.none()
    visible = Enrollment.objects.filter(enrollment_scope(user)).values("pk")
    return Enrollment.objects.select_related("trainee", "program").filter(pk__in=visible)


def enrollment_relations(user, enrollment: Enrollment) -> tuple[frozenset[str], bool]:
    """(the user's relations to the enrollment — trainee, mentor, director —, whether they are a member of its
    program at all). Members without a relation get 403, non-members 404."""
    program_roles = roles_in_program(user, enrollment.program_id)
    roles = set()
    if enrollment.trainee_id == user.pk:
        roles.add("trainee")
    if Role.MENTOR in program_roles and enrollment.mentors.filter(pk=user.pk).exists():
        roles.add("mentor")
    if Role.DIRECTOR in program_roles:
        roles.add("director")
    return frozenset(roles), bool(program_roles)


# Which relations may do what to an enrollment.
ENROLLMENT_ACTIONS: dict[str, set[str]] = {
    "view": {"trainee", "mentor", "director"},
    "log_cases": {"trainee"},
    "manage": {"director"},
    "request_verification": {"director"},
    # The mentor's judgements about the trainee: a lower virtual share, prior experience covering an in-person item.
    "assess": {"mentor", "director"},
}


def may_assess(user, enrollment: Enrollment) -> bool:
    """The trainee's mentor or the program's director: who judges the trainee (virtual share, prior experience)."""
    roles, _member = enrollment_relations(user, enrollment)
    return bool(roles & ENROLLMENT_ACTIONS["assess"])


def get_enrollment_for_user(user, pk: int, *, action: str = "view") -> Access[Enrollment]:
    """The one access point for an enrollment. Outsiders 404, program members without the role 403."""
    enrollment = (
        Enrollment.objects.select_related("trainee", "program", "program__director").filter(pk=pk).first()
        if user.is_authenticated
        else None
    )
    if enrollment is None:
        raise Http404("No such enrollment.")
    roles, member = enrollment_relations(user, enrollment)
    if not roles and not member:
        raise Http404("No such enrollment.")
    if not roles & ENROLLMENT_ACTIONS[action]:
        raise PermissionDenied("You do not have the role needed for this.")
    return Access(enrollment, roles)


def enrollment_in_program(user, program, pk, *, action: str) -> Enrollment:
    """An enrollment of `program` on which `user` may do `action`, for an id sent with a program-level form
    (assigning a mentor): 404 for an enrollment of another program."""
    enrollment = get_enrollment_for_user(user, pk, action=action).obj
    if enrollment.program_id != program.pk:
        raise Http404("No such enrollment in this program.")
    return enrollment


def active_enrollment_for_trainee(user) -> Enrollment | None:
    return (
        Enrollment.objects.select_related("program")
        .filter(trainee=user, status=Enrollment.Status.ACTIVE)
        .order_by("-start_date")
        .first()
    )


def active_enrollment_in_program(user, program_id: int) -> Enrollment | None:
    return (
        Enrollment.objects.select_related("trainee", "program")
        .filter(trainee=user, program_id=program_id, status=Enrollment.Status.ACTIVE)
        .order_by("-start_date")
        .first()
    )


def is_active_in_program(enrollment: Enrollment, program_id: int) -> bool:
    return enrollment.program_id == program_id and enrollment.status == Enrollment.Status.ACTIVE


def active_program_enrollments(program_id: int) -> QuerySet[Enrollment]:
    """Active enrollments of a program, by trainee name (the caller has checked access to the program)."""
    return (
        Enrollment.objects.filter(program_id=program_id, status=Enrollment.Status.ACTIVE)
        .select_related("trainee")
        .order_by("trainee__full_name", "trainee__email")
    )


def program_enrollments(program) -> QuerySet[Enrollment]:
    """All enrollments of a program with their mentors (the caller has checked access to the program)."""
    return (
        Enrollment.objects.filter(program=program)
        .select_related("trainee")
        .prefetch_related("mentors")
        .order_by("trainee__full_name", "trainee__email")
    )


def dashboard_enrollments(program, *, user, roles, status: str = "active", query: str = "") -> list[Enrollment]:
    """Enrollments on the program dashboard: all of the program for its director, the supervised ones for a mentor."""
    qs = Enrollment.objects.filter(program=program).select_related("trainee", "program")
    if Role.DIRECTOR not in roles:
        qs = qs.filter(mentors=user)
    if status in Enrollment.Status.values:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(Q(trainee__full_name__icontains=query) | Q(trainee__email__icontains=query))
    return list(qs.order_by("trainee__full_name", "trainee__email"))


def leave_rows(enrollment_ids) -> QuerySet:
    """Leave periods of the given enrollments: (enrollment id, start, end)."""
    return LeavePeriod.objects.filter(enrollment_id__in=enrollment_ids).values_list(
        "enrollment_id", "start_date", "end_date"
    )


def enrollment_for_command(pk: int) -> Enrollment | None:
    """For management commands run by the operator: no user scope."""
    return Enrollment.objects.select_related("trainee", "program").filter(pk=pk).first()


def enrollments_due_a_nudge(*, started_by, window) -> QuerySet[Enrollment]:
    """Active enrollments of active trainees, started by `started_by`, with no leave overlapping `window` (leave is
    time away from training: not logging then is expected)."""
    start, end = window
    on_leave = LeavePeriod.objects.filter(enrollment=OuterRef("pk"), start_date__lte=end, end_date__gte=start)
    return Enrollment.objects.filter(
        status=Enrollment.Status.ACTIVE, start_date__lte=started_by, trainee__is_active=True
    ).filter(~Exists(on_leave))


def has_been_enrolled(user) -> bool:
    return Enrollment.objects.filter(trainee=user).exists()
