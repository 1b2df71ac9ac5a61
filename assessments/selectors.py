"""Reads for verification requests, scoped by the user asking."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from trainees.selectors import enrollment_roles

from .models import VerificationRequest

Status = VerificationRequest.Status


def _base() -> QuerySet[VerificationRequest]:
    return VerificationRequest.objects.select_related(
        "enrollment__trainee", "enrollment__program", "requested_by", "reviewer"
    )


def review_queue(user) -> QuerySet[VerificationRequest]:
    """Submitted dossiers for SCMR reviewers, oldest first, without programs of the reviewer's own institution."""
    if not (user.is_authenticated and user.is_reviewer):
        return VerificationRequest.objects.none()
    qs = _base().filter(status__in=VerificationRequest.REVIEWABLE).order_by("submitted_at", "id")
    if user.institution:
        qs = qs.exclude(enrollment__program__institution__iexact=user.institution)
    return qs


def requests_for_enrollment(enrollment) -> QuerySet[VerificationRequest]:
    return _base().filter(enrollment=enrollment)


def is_conflicted(user, verification_request: VerificationRequest) -> bool:
    institution = verification_request.enrollment.program.institution
    return bool(user.institution) and user.institution.strip().lower() == institution.strip().lower()


# action -> (relations allowed, statuses allowed or None for any)
VR_ACTIONS: dict[str, tuple[set[str], set[str] | None]] = {
    "view": ({"trainee", "director", "reviewer"}, None),
    "download": ({"trainee", "director", "reviewer"}, set(VerificationRequest.HAS_DOSSIER)),
    "submit": ({"director"}, {Status.READY}),
    "retry": ({"director"}, {Status.FAILED}),
    "review": ({"reviewer"}, {Status.SUBMITTED, Status.UNDER_REVIEW}),
}


def get_verification_request_for_user(user, pk: int, *, action: str = "view") -> VerificationRequest:
    """The one access point for a verification request. Outsiders 404, members without the role 403.

    Reviewers see a request only once it has been submitted to SCMR, and never one of their own institution.
    """
    vr = _base().filter(pk=pk).first()
    if vr is None or not user.is_authenticated:
        raise Http404("No such verification request.")
    roles = enrollment_roles(user, vr.enrollment) - {"mentor"}
    if "reviewer" in roles and (vr.status not in VerificationRequest.REVIEWABLE or is_conflicted(user, vr)):
        roles.discard("reviewer")
    if not roles and not vr.enrollment._member_of_program:
        raise Http404("No such verification request.")
    allowed_roles, allowed_statuses = VR_ACTIONS[action]
    if not roles & allowed_roles:
        raise PermissionDenied("You do not have the role needed for this dossier.")
    if allowed_statuses is not None and vr.status not in allowed_statuses:
        raise PermissionDenied(f"This dossier is {vr.get_status_display().lower()}; that is not possible now.")
    return vr


def get_verification_request_by_code(code: str) -> VerificationRequest:
    vr = _base().filter(code=code.strip().upper()).first()
    if vr is None:
        raise Http404("No dossier has this verification code.")
    return vr


def verification_requests_for_user(user) -> QuerySet[VerificationRequest]:
    """Requests of enrollments the user directs or owns, plus (for reviewers) the review queue."""
    if not user.is_authenticated:
        return VerificationRequest.objects.none()
    from django.db.models import Q

    from programs.models import Membership

    directed = Membership.objects.filter(user=user, role=Membership.Role.DIRECTOR).values("program_id")
    scope = Q(enrollment__trainee=user) | Q(enrollment__program_id__in=directed)
    if user.is_reviewer:
        scope |= Q(pk__in=review_queue(user).values("pk"))
    return _base().filter(scope)


def in_person_items(enrollment) -> list[dict]:
    """The competencies that need in-person experience (S8) with where the trainee stands on each: signed in
    person, signed only virtually (does not count), or not yet. Two queries."""
    from .models import Competency, SignOff

    sign_offs = {
        s.competency_id: s
        for s in SignOff.objects.filter(enrollment=enrollment, competency__in_person_required=True).select_related(
            "signer"
        )
    }
    items = []
    for competency in Competency.objects.filter(in_person_required=True).order_by("title"):
        sign_off = sign_offs.get(competency.pk)
        if sign_off is None:
            status = "not_yet"
        elif sign_off.delivery == SignOff.Delivery.IN_PERSON:
            status = "in_person"
        else:
            status = "virtual_only"
        items.append({"competency": competency, "sign_off": sign_off, "status": status})
    return items
