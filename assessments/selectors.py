"""Reads for competencies, sign-offs and final determinations. The caller has checked access to the enrollment or
program it passes in."""

from .models import Competency, FinalDetermination, SignOff


def in_person_items(enrollment) -> list[dict]:
    """The competencies that need in-person experience (S8) with where the trainee stands on each: signed in
    person, signed only virtually (does not count), or not yet. Two queries."""
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


def program_determination_count(program) -> int:
    return FinalDetermination.objects.filter(enrollment__program=program).count()


def sign_off_rows(enrollment_ids) -> list[tuple]:
    """(enrollment id, competency code, delivery, signed on, in person required) of the given enrollments."""
    return list(
        SignOff.objects.filter(enrollment_id__in=enrollment_ids).values_list(
            "enrollment_id", "competency__code", "delivery", "signed_on", "competency__in_person_required"
        )
    )
