"""Reads for programs. Everything that serves a user takes that user and returns only what they may see."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from .models import Invitation, Membership, Program

Role = Membership.Role


def roles_in_program(user, program_id: int) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user=user, program_id=program_id).values_list("role", flat=True))


def programs_for_user(user) -> QuerySet[Program]:
    """Programs the user belongs to; SCMR reviewers see every program (they verify programs)."""
    if not user.is_authenticated:
        return Program.objects.none()
    qs = Program.objects.select_related("director")
    if user.is_reviewer:
        return qs.all()
    return qs.filter(memberships__user=user).distinct()


def get_program_for_user(user, pk: int, *, action: str = "view") -> Program:
    """The one access point for a program.

    view: members and SCMR reviewers. manage: the program's director.
    Outsiders get 404 (no existence leak), members without the role 403.
    """
    program = Program.objects.select_related("director").filter(pk=pk).first()
    roles = roles_in_program(user, pk) if program else set()
    if program is None or not (roles or user.is_reviewer):
        raise Http404("No such program.")
    program.viewer_roles = roles  # saves the caller a second query
    if action == "view":
        return program
    if action == "manage" and Role.DIRECTOR in roles:
        return program
    if action == "dashboard" and roles & {Role.DIRECTOR, Role.MENTOR}:
        return program
    raise PermissionDenied("Only the program director (or, for the dashboard, a mentor) can do this.")


def program_members(program: Program) -> QuerySet[Membership]:
    return program.memberships.select_related("user").order_by("role", "user__email")


def program_mentors(program: Program):
    from django.contrib.auth import get_user_model

    return (
        get_user_model().objects.filter(memberships__program=program, memberships__role=Role.MENTOR).order_by("email")
    )


def open_invitations(program: Program) -> QuerySet[Invitation]:
    return program.invitations.filter(accepted_at__isnull=True).select_related("mentor")


def get_invitation_by_token(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("program", "mentor").filter(token=token).first()
    if invitation is None:
        raise Http404("This invitation link is not valid.")
    return invitation


def dashboard_enrollments(program: Program, *, user, status: str = "active", query: str = ""):
    """Enrollments on the dashboard: all of the program for its director, the supervised ones for a mentor."""
    from trainees.models import Enrollment

    qs = Enrollment.objects.filter(program=program).select_related("trainee", "program")
    roles = program.viewer_roles if hasattr(program, "viewer_roles") else roles_in_program(user, program.pk)
    if Role.DIRECTOR not in roles:
        qs = qs.filter(mentors=user)
    if status in Enrollment.Status.values:
        qs = qs.filter(status=status)
    if query:
        from django.db.models import Q

        qs = qs.filter(Q(trainee__full_name__icontains=query) | Q(trainee__email__icontains=query))
    return list(qs.order_by("trainee__full_name", "trainee__email"))
