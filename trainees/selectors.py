"""Reads for enrollments, scoped by the user asking."""

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from programs.models import Membership
from programs.selectors import roles_in_program

from .models import Enrollment

Role = Membership.Role


def reviewable_enrollment_ids(user) -> QuerySet:
    """Enrollments an SCMR reviewer may read: those with a dossier submitted to SCMR, outside the reviewer's own
    institution (conflict of interest). Reviewers never see training data that was not put before them."""
    from assessments.models import VerificationRequest

    qs = VerificationRequest.objects.filter(status__in=VerificationRequest.REVIEWABLE)
    if user.institution:
        qs = qs.exclude(enrollment__program__institution__iexact=user.institution.strip())
    return qs.values("enrollment_id")


def enrollment_scope(user) -> Q:
    """The enrollments `user` may read, as a filter on Enrollment."""
    directed = Membership.objects.filter(user=user, role=Role.DIRECTOR).values("program_id")
    scope = Q(trainee=user) | Q(mentors=user) | Q(program_id__in=directed)
    if user.is_reviewer:
        scope |= Q(pk__in=reviewable_enrollment_ids(user))
    return scope


def enrollments_for_user(user) -> QuerySet[Enrollment]:
    """Enrollments the user may see: their own, those they mentor, all of the programs they direct, and for SCMR
    reviewers those submitted for verification."""
    if not user.is_authenticated:
        return Enrollment.objects.none()
    visible = Enrollment.objects.filter(enrollment_scope(user)).values("pk")
    return Enrollment.objects.select_related("trainee", "program").filter(pk__in=visible)


def enrollment_roles(user, enrollment: Enrollment) -> set[str]:
    """The user's relation to this enrollment: trainee, mentor, director, reviewer (may be several)."""
    roles = set()
    program_roles = roles_in_program(user, enrollment.program_id)
    if enrollment.trainee_id == user.pk:
        roles.add("trainee")
    if Role.MENTOR in program_roles and enrollment.mentors.filter(pk=user.pk).exists():
        roles.add("mentor")
    if Role.DIRECTOR in program_roles:
        roles.add("director")
    if user.is_reviewer and reviewable_enrollment_ids(user).filter(enrollment_id=enrollment.pk).exists():
        roles.add("reviewer")
    enrollment._member_of_program = bool(program_roles)
    return roles


# Which relations may do what to an enrollment.
ENROLLMENT_ACTIONS: dict[str, set[str]] = {
    "view": {"trainee", "mentor", "director", "reviewer"},
    "log_cases": {"trainee"},
    "manage": {"director"},
    "request_verification": {"director"},
}


def get_enrollment_for_user(user, pk: int, *, action: str = "view") -> Enrollment:
    """The one access point for an enrollment. Outsiders 404, program members without the role 403."""
    enrollment = Enrollment.objects.select_related("trainee", "program", "program__director").filter(pk=pk).first()
    if enrollment is None or not user.is_authenticated:
        raise Http404("No such enrollment.")
    roles = enrollment_roles(user, enrollment)
    if not roles and not enrollment._member_of_program:
        raise Http404("No such enrollment.")
    if roles & ENROLLMENT_ACTIONS[action]:
        enrollment.viewer_roles = roles  # saves the caller a second lookup
        return enrollment
    raise PermissionDenied("You do not have the role needed for this.")


def active_enrollment_for_trainee(user) -> Enrollment | None:
    return (
        Enrollment.objects.select_related("program")
        .filter(trainee=user, status=Enrollment.Status.ACTIVE)
        .order_by("-start_date")
        .first()
    )


def program_enrollments(program) -> QuerySet[Enrollment]:
    """All enrollments of a program with their entry counts (the caller has checked access to the program)."""
    return (
        Enrollment.objects.filter(program=program)
        .select_related("trainee")
        .prefetch_related("mentors")
        .annotate(
            signed_count=Count("entries", filter=Q(entries__status="signed")),
            pending_count=Count("entries", filter=Q(entries__status="submitted")),
        )
        .order_by("trainee__full_name", "trainee__email")
    )
