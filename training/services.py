"""Writes for training sessions, attendance, lectures and calendar feeds (SPEC S4–S6, S13). Each in a transaction
with an audit event. The group cap is checked with the session row locked, so two trainees racing for the last place
cannot both get it.
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from programs.models import Membership, Program
from programs.selectors import is_program_member, roles_in_program
from trainees.selectors import active_enrollment_in_program, is_active_in_program
from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

from .models import Attendance, CalendarFeedToken, Lecture, LectureCompletion, TrainingSession
from .selectors import can_lead, group_limit, has_completed_safety_module, program_session_leaders

Role = Membership.Role
Type = TrainingSession.Type


# --- sessions ---------------------------------------------------------------------------------------------------------


@transaction.atomic
def session_create(
    *,
    actor,
    program: Program,
    type: str,
    delivery: str,
    title: str,
    mentor,
    starts_at: datetime,
    duration_minutes: int,
    capacity: int | None = None,
    link: str = "",
) -> TrainingSession:
    if not is_program_member(actor, program.pk, Role.DIRECTOR, Role.MENTOR):
        raise PermissionDenied("Only the program's mentors and director create sessions.")
    mentor = program_session_leaders(program).filter(pk=getattr(mentor, "pk", mentor)).first() if mentor else None
    if mentor is None:
        raise ValidationError({"mentor": "Choose a mentor of this program or its director."})
    session = TrainingSession(
        program=program,
        type=type,
        delivery=delivery,
        title=title.strip(),
        mentor=mentor,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        capacity=capacity,
        link=link,
    )
    if not duration_minutes:
        raise ValidationError({"duration_minutes": "A session lasts at least one minute."})
    session.full_clean()
    check_phi_fields({"title": session.title}, {"title": "Title"})
    session.save()
    log_action(actor=actor, action="session.create", obj=session, after={"type": type, "title": session.title})
    return session


@transaction.atomic
def session_set_console_shared(*, actor, session: TrainingSession, shared: bool) -> TrainingSession:
    """Record that the scanner console was (or was not) shown to the trainees: S5, only for live acquisition."""
    if session.type != Type.LIVE_ACQUISITION:
        raise ValidationError("Console sharing is recorded for live acquisition sessions only.")
    session.console_shared = shared
    session.console_shared_by = actor if shared else None
    session.console_shared_at = timezone.now() if shared else None
    session.save(update_fields=["console_shared", "console_shared_by", "console_shared_at"])
    log_action(actor=actor, action="session.console_shared", obj=session, after={"console_shared": shared})
    return session


# --- attendance ---------------------------------------------------------------------------------------------------------


@transaction.atomic
def attendance_add(*, actor, session: TrainingSession, enrollment) -> Attendance:
    """Put a trainee on a session (signed up by themselves or added by the mentor). Idempotent.

    The session row is locked before counting: concurrent sign-ups for the last place queue here, and the second
    one counts the first one's row.
    """
    locked = TrainingSession.objects.select_for_update().select_related("program").get(pk=session.pk)
    if not is_active_in_program(enrollment, locked.program_id):
        raise ValidationError("Only trainees with an active enrollment in this program can attend.")
    existing = Attendance.objects.filter(session=locked, enrollment=enrollment).first()
    if existing:
        return existing
    if locked.type == Type.LIVE_ACQUISITION and not has_completed_safety_module(enrollment):
        raise ValidationError(
            f"{enrollment.trainee} has not completed the MR-safety module yet: it is required before live "
            "acquisition sessions. Mark it done in the lecture library first."
        )
    limit = group_limit(locked)
    if limit is not None:
        taken = Attendance.objects.filter(session=locked).count()
        if taken >= limit:
            if locked.type in TrainingSession.DIDACTIC_TYPES or (locked.capacity and locked.capacity <= limit):
                reason = f"it is full ({limit} places)"
            else:
                reason = (
                    f"interactive sessions take at most {limit} trainees per mentor "
                    f"(the program's group cap), and {taken} are already attending"
                )
            raise ValidationError(f"{enrollment.trainee} cannot join “{locked.title}”: {reason}.")
    try:
        with transaction.atomic():
            attendance = Attendance.objects.create(session=locked, enrollment=enrollment)
    except IntegrityError:  # already added by a concurrent request that did not need the lock (same trainee)
        return Attendance.objects.get(session=locked, enrollment=enrollment)
    log_action(actor=actor, action="attendance.add", obj=attendance, after={"enrollment": enrollment.pk})
    return attendance


ATTENDANCE_LABELS = {"active_input_note": "Note on the trainee's input"}


@transaction.atomic
def attendance_record(
    *,
    actor,
    attendance: Attendance,
    joined_at: datetime | None,
    left_at: datetime | None,
    active_input: bool,
    active_input_note: str = "",
) -> Attendance:
    """The mentor's evidence for one trainee: when they joined and left, whether they gave input (S6). Recorded by
    the session's mentor or the program director."""
    if not can_lead(actor, attendance.session, roles_in_program(actor, attendance.session.program_id)):
        raise PermissionDenied("Only the session's mentor or the program director records attendance.")
    note = (active_input_note or "").strip()
    check_phi_fields({"active_input_note": note}, ATTENDANCE_LABELS)
    if joined_at and left_at and left_at < joined_at:
        raise ValidationError({"left_at": "The trainee cannot leave before joining."})
    before = {"active_input": attendance.active_input, "note": attendance.active_input_note}
    attendance.joined_at, attendance.left_at = joined_at, left_at
    attendance.active_input, attendance.active_input_note = active_input, note
    attendance.full_clean(exclude=["session", "enrollment"])
    attendance.save(update_fields=["joined_at", "left_at", "active_input", "active_input_note"])
    log_action(
        actor=actor,
        action="attendance.record",
        obj=attendance,
        before=before,
        after={"active_input": active_input, "note": note},
    )
    return attendance


# --- lectures ---------------------------------------------------------------------------------------------------------


@transaction.atomic
def lecture_create(
    *,
    actor,
    program: Program,
    title: str,
    topic,
    kind: str,
    hours,
    source: str = "",
    link: str = "",
    is_mr_safety_module: bool = False,
) -> Lecture:
    if not is_program_member(actor, program.pk, Role.DIRECTOR):
        raise PermissionDenied("Only the program director adds lectures.")
    lecture = Lecture(
        program=program,
        title=title.strip(),
        topic=topic,
        kind=kind,
        hours=hours,
        source=source,
        link=link,
        is_mr_safety_module=is_mr_safety_module,
    )
    lecture.full_clean()
    check_phi_fields({"title": lecture.title, "source": lecture.source}, {"title": "Title", "source": "Source"})
    lecture.save()
    log_action(actor=actor, action="lecture.create", obj=lecture, after={"title": lecture.title})
    return lecture


@transaction.atomic
def lecture_mark_done(*, actor, lecture: Lecture) -> LectureCompletion:
    """A trainee marks a recorded lecture done. Idempotent: a second click keeps the first completion."""
    enrollment = active_enrollment_in_program(actor, lecture.program_id)
    if enrollment is None:
        raise PermissionDenied("Only trainees of this program mark lectures done.")
    if lecture.kind != Lecture.Kind.RECORDED:
        raise ValidationError("Live lectures are counted from attendance, not marked done.")
    completion, created = LectureCompletion.objects.get_or_create(lecture=lecture, enrollment=enrollment)
    if created:
        log_action(actor=actor, action="lecture.done", obj=completion, after={"lecture": lecture.pk})
    return completion


# --- calendar feed -----------------------------------------------------------------------------------------------------


@transaction.atomic
def calendar_token_replace(*, actor) -> CalendarFeedToken:
    """A new feed URL; the old one stops working (a leaked URL is fixed by replacing it)."""
    calendar_token_revoke(actor=actor)
    token = CalendarFeedToken.objects.create(user=actor)
    log_action(actor=actor, action="calendar_token.create", obj=token)
    return token


@transaction.atomic
def calendar_token_revoke(*, actor) -> int:
    revoked = CalendarFeedToken.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        log_action(actor=actor, action="calendar_token.revoke", obj=actor, after={"revoked": revoked})
    return revoked
