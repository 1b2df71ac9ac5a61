"""Reads for competencies, sign-offs and final determinations. The caller has checked access to the enrollment or
program it passes in."""

from .models import Competency, FinalDetermination, PriorExperience, SignOff


def in_person_items(enrollment) -> list[dict]:
    """The competencies that need in-person experience (S8) with where the trainee stands on each: signed in
    person, covered by prior experience the mentor recorded, signed only virtually (does not count), or not yet.
    Three queries."""
    sign_offs = {
        s.competency_id: s
        for s in SignOff.objects.filter(enrollment=enrollment, competency__in_person_required=True).select_related(
            "signer"
        )
    }
    prior = prior_experience_for(enrollment)
    items = []
    for competency in Competency.objects.filter(in_person_required=True).order_by("title"):
        sign_off = sign_offs.get(competency.pk)
        if sign_off is not None and sign_off.delivery == SignOff.Delivery.IN_PERSON:
            status = "in_person"
        elif competency.pk in prior:
            status = "prior_experience"
        elif sign_off is not None:
            status = "virtual_only"
        else:
            status = "not_yet"
        items.append(
            {"competency": competency, "sign_off": sign_off, "status": status, "prior": prior.get(competency.pk)}
        )
    return items


def in_person_framework() -> tuple[tuple[str, str], ...]:
    """(code, title) of the framework's competencies that need in-person experience (S8)."""
    return tuple(Competency.objects.filter(in_person_required=True).order_by("title").values_list("code", "title"))


def prior_experience_rows(enrollment_ids) -> list[tuple[int, str]]:
    """(enrollment id, competency code) the mentor recorded as covered by the trainee's prior experience."""
    return list(
        PriorExperience.objects.filter(enrollment_id__in=enrollment_ids).values_list(
            "enrollment_id", "competency__code"
        )
    )


def prior_experience_for(enrollment) -> dict[int, PriorExperience]:
    """{competency id: record} for one enrollment."""
    return {
        p.competency_id: p for p in PriorExperience.objects.filter(enrollment=enrollment).select_related("recorded_by")
    }


def program_determination_count(program) -> int:
    return FinalDetermination.objects.filter(enrollment__program=program).count()


def sign_off_rows(enrollment_ids) -> list[tuple]:
    """(enrollment id, competency code, delivery, signed on, in person required) of the given enrollments."""
    return list(
        SignOff.objects.filter(enrollment_id__in=enrollment_ids).values_list(
            "enrollment_id", "competency__code", "delivery", "signed_on", "competency__in_person_required"
        )
    )


def sign_offs_for(enrollment) -> list[SignOff]:
    """The enrollment's competency sign-offs with the competency and the signer, for the dossier."""
    return list(
        SignOff.objects.filter(enrollment=enrollment)
        .select_related("competency", "signer")
        .order_by("signed_on", "competency__title")
    )
