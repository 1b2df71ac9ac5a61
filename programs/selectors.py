"""Reads for programs. Everything that serves a user takes that user and returns only what they may see.

A program's data is for its members. SCMR reviewers reach a program only through the verification app (its access
function adds the conflict-of-interest rule); here they are outsiders like anyone else.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from trainingportal.accounts.models import Credential
from trainingportal.core.access import Access

from .models import Invitation, Membership, Program

Role = Membership.Role

# Which program roles may do what with a program.
PROGRAM_ACTIONS: dict[str, set[str]] = {
    "view": {Role.DIRECTOR, Role.MENTOR, Role.TRAINEE},
    "dashboard": {Role.DIRECTOR, Role.MENTOR},
    "lead_sessions": {Role.DIRECTOR, Role.MENTOR},
    "manage": {Role.DIRECTOR},
}


def roles_in_program(user, program_id: int) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    return frozenset(Membership.objects.filter(user=user, program_id=program_id).values_list("role", flat=True))


def directed_program_ids(user) -> QuerySet:
    """The programs the user directs, as a subquery (`program_id__in=directed_program_ids(user)`)."""
    return Membership.objects.filter(user=user, role=Role.DIRECTOR).values("program_id")


def may_create_programs(user) -> bool:
    """Who may start a program (and so become its director): never an SCMR reviewer (they verify programs); a user
    the site's staff granted "programs.add_program" (e.g. through a "Program directors" group in the admin), or one
    who already directs a program. Not any signed-in user: a trainee who created a program would only be locked out
    by the MFA rule for directors, and a program needs a qualified director (S2)."""
    if not user.is_authenticated or user.is_reviewer:
        return False
    return user.has_perm("programs.add_program") or Membership.objects.filter(user=user, role=Role.DIRECTOR).exists()


def member_program_ids(user) -> QuerySet:
    return Membership.objects.filter(user=user).values("program_id")


def user_directs_a_program(user) -> bool:
    return directed_program_ids(user).exists()


def user_roles_anywhere(user) -> set[str]:
    """The roles the user holds in any program (for the navigation)."""
    return set(Membership.objects.filter(user=user).values_list("role", flat=True).distinct())


def programs_for_user(user) -> QuerySet[Program]:
    """Programs the user is a member of."""
    if not user.is_authenticated:
        return Program.objects.none()
    return Program.objects.select_related("director").filter(pk__in=member_program_ids(user))


def get_program_for_user(user, pk: int, *, action: str = "view") -> Access[Program]:
    """The one access point for a program: outsiders 404 (no existence leak), members without the role 403."""
    program = Program.objects.select_related("director").filter(pk=pk).first() if user.is_authenticated else None
    roles = roles_in_program(user, pk) if program else frozenset()
    if not roles:
        raise Http404("No such program.")
    if not roles & PROGRAM_ACTIONS[action]:
        raise PermissionDenied("You do not have the role in this program needed for this.")
    return Access(program, roles)


def program_members(program: Program) -> QuerySet[Membership]:
    return program.memberships.select_related("user").order_by("role", "user__email")


def program_users(program: Program, *roles: str):
    """Users holding one of `roles` in the program, by name."""
    return (
        get_user_model()
        .objects.filter(memberships__program=program, memberships__role__in=roles)
        .distinct()
        .order_by("full_name", "email")
    )


def program_mentors(program: Program):
    return program_users(program, Role.MENTOR)


def is_program_member(user, program_id: int, *roles: str) -> bool:
    qs = Membership.objects.filter(user=user, program_id=program_id)
    return qs.filter(role__in=roles).exists() if roles else qs.exists()


def open_invitations(program: Program) -> QuerySet[Invitation]:
    return program.invitations.filter(accepted_at__isnull=True).select_related("mentor")


def get_invitation_by_token(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("program", "mentor").filter(token=token).first()
    if invitation is None:
        raise Http404("This invitation link is not valid.")
    return invitation


def director_qualification(program: Program) -> Credential | None:
    """The director's qualification to lead the program (S2): Level III, Advanced Practitioner, or an equivalent CMR
    expert with a written justification — in that order of preference."""
    found = {
        c.level: c for c in Credential.objects.filter(user_id=program.director_id, level__in=Credential.DIRECTOR_LEVELS)
    }
    return next((found[level] for level in Credential.DIRECTOR_LEVELS if level in found), None)
