"""Reads for competencies, sign-offs and final determinations. The caller has checked access to the enrollment or
program it passes in, except for the `*_for_user` functions, which scope by the user themselves."""

from django.db.models import Count, QuerySet
from django.http import Http404

from cases.models import CaseLogEntry
from trainees.selectors import enrollments_for_user, get_enrollment_for_user
from training.models import TrainingSession
from trainingportal.core.access import Access

from .framework import current_framework, get_framework
from .models import Competency, FinalDetermination, PriorExperience, SignOff, SignOffAmendment


def current_competencies() -> QuerySet[Competency]:
    """The rows of the framework new sign-offs are made in, in the framework's order."""
    framework = current_framework()
    return Competency.objects.filter(framework=framework.id, version=framework.version).order_by("position", "code")


def sign_offs_for_user(user) -> QuerySet[SignOff]:
    """Sign-offs of the enrollments the user may see (their own, their mentees', their programs')."""
    return (
        SignOff.objects.filter(enrollment__in=enrollments_for_user(user).values("pk"))
        .select_related("competency", "signer", "enrollment")
        .annotate(amendment_count=Count("amendments"))
        .order_by("enrollment_id", "competency__position", "id")
    )


def get_sign_off_for_user(user, pk: int, *, action: str = "view") -> Access[SignOff]:
    """The one access point for a sign-off: that of its enrollment (outsiders 404, members without the role 403)."""
    sign_off = (
        SignOff.objects.select_related("competency", "signer")
        .annotate(amendment_count=Count("amendments"))
        .filter(pk=pk)
        .first()
    )
    if sign_off is None or not user.is_authenticated:
        raise Http404("No such sign-off.")
    enrollment, roles = get_enrollment_for_user(user, sign_off.enrollment_id, action=action)
    sign_off.enrollment = enrollment
    return Access(sign_off, roles)


def is_entrusted(sign_off) -> bool:
    """Whether a sign-off is at or above its framework's sign-off level (independent practice)."""
    competency = sign_off.competency
    return sign_off.entrustment_level >= get_framework(competency.framework, competency.version).sign_off_level


def competency_board(enrollment) -> list[dict]:
    """Every competency of the current framework with where the trainee stands: signed off (at or above the
    sign-off level, and in person where the competency needs it), in progress (a lower level), signed only
    virtually (an in-person competency), covered by prior experience, or not yet. Three queries."""
    framework = current_framework()
    sign_offs = {
        s.competency_id: s
        for s in SignOff.objects.filter(enrollment=enrollment)
        .select_related("signer", "competency")
        .annotate(amendment_count=Count("amendments"))
    }
    prior = prior_experience_for(enrollment)
    board = []
    for competency in current_competencies():
        sign_off = sign_offs.get(competency.pk)
        needs_in_person = competency.in_person_required
        if sign_off is None:
            status = "prior_experience" if competency.pk in prior else "not_yet"
        elif needs_in_person and sign_off.delivery != SignOff.Delivery.IN_PERSON:
            status = "prior_experience" if competency.pk in prior else "virtual_only"
        elif sign_off.entrustment_level < framework.sign_off_level:
            status = "in_progress"
        else:
            status = "signed"
        board.append(
            {
                "competency": competency,
                "sign_off": sign_off,
                "status": status,
                "prior": prior.get(competency.pk),
                "level_label": framework.level_label(sign_off.entrustment_level) if sign_off else "",
            }
        )
    return board


def in_person_items(enrollment) -> list[dict]:
    """The competencies that need in-person experience (S8) with where the trainee stands on each: signed in
    person at the sign-off level ("in_person"), covered by prior experience the mentor recorded, signed in person
    below the sign-off level ("in_progress"), signed only virtually (does not count), or not yet."""
    items = [item for item in competency_board(enrollment) if item["competency"].in_person_required]
    for item in items:
        if item["status"] == "signed":
            item["status"] = "in_person"
    return items


def in_person_framework() -> tuple[tuple[str, str], ...]:
    """(code, title) of the framework's competencies that need in-person experience (S8)."""
    return tuple(current_competencies().filter(in_person_required=True).values_list("code", "title"))


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
    """(enrollment id, competency code, delivery, signed on, in person required, entrusted) of the given
    enrollments; `entrusted` = at or above the framework's sign-off level."""
    rows = SignOff.objects.filter(enrollment_id__in=enrollment_ids).values_list(
        "enrollment_id", "competency__code", "delivery", "signed_on", "competency__in_person_required",
        "entrustment_level", "competency__framework", "competency__version",
    )  # fmt: skip
    return [(*row[:5], row[5] >= get_framework(row[6], row[7]).sign_off_level) for row in rows]


def sign_offs_for(enrollment) -> list[SignOff]:
    """The enrollment's competency sign-offs with the competency and the signer, for the dossier."""
    return list(
        SignOff.objects.filter(enrollment=enrollment)
        .select_related("competency", "signer")
        .annotate(amendment_count=Count("amendments"))
        .prefetch_related("evidence_entries__case", "evidence_sessions")
        .order_by("competency__position", "competency__title")
    )


def sign_off_detail(enrollment, competency) -> SignOff | None:
    """The trainee's sign-off of one competency with its evidence, or None."""
    return (
        SignOff.objects.filter(enrollment=enrollment, competency=competency)
        .select_related("signer", "competency")
        .prefetch_related("evidence_entries__case", "evidence_sessions")
        .first()
    )


def sign_off_amendments(sign_off) -> list[SignOffAmendment]:
    return list(sign_off.amendments.select_related("amended_by").order_by("created_at", "id"))


def evidence_choices(enrollment, competency, *, limit: int) -> tuple[list, list]:
    """What a sign-off may link: the trainee's signed entries (newest first, at most `limit`) and the program's
    sessions the trainee attended; only in-person ones for a competency that needs in-person experience."""
    entries = CaseLogEntry.objects.filter(enrollment=enrollment, status=CaseLogEntry.Status.SIGNED)
    sessions = TrainingSession.objects.filter(program_id=enrollment.program_id, attendances__enrollment=enrollment)
    if competency.in_person_required:
        entries = entries.filter(delivery=CaseLogEntry.Delivery.IN_PERSON)
        sessions = sessions.filter(delivery=TrainingSession.Delivery.IN_PERSON)
    return (
        list(entries.select_related("case").order_by("-performed_on", "-id")[:limit]),
        list(sessions.order_by("-starts_at", "-id").distinct()),
    )
