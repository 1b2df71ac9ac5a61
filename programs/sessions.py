"""Training sessions, attendance, lectures done, the MR-safety gate and the ICS feed (SPEC S4–S6, S13).

Reads take the user and return only what they may see; writes are services in transactions. The group cap is
checked with the session row locked, so two trainees racing for the last place cannot both get it.
"""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from trainees.models import Enrollment
from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

from .models import Attendance, CalendarFeedToken, Lecture, LectureCompletion, Membership, Program, TrainingSession
from .selectors import roles_in_program

Role = Membership.Role
Type = TrainingSession.Type

# --- access ---------------------------------------------------------------------------------------------------------

# Which program roles may do what with sessions. Sessions are training data: members only (reviewers are not).
SESSION_ACTIONS: dict[str, set[str]] = {
    "view": {Role.DIRECTOR, Role.MENTOR, Role.TRAINEE},
    "lead": {Role.DIRECTOR, Role.MENTOR},  # create sessions, add trainees, record evidence
    "attend": {Role.TRAINEE},
    "manage_lectures": {Role.DIRECTOR},
}


def _check(roles: set[str], action: str) -> None:
    if not roles & SESSION_ACTIONS[action]:
        raise PermissionDenied("You do not have the role needed for this.")


def get_program_for_sessions(user, pk: int, *, action: str = "view") -> Program:
    """A program as seen from its sessions: outsiders (reviewers included) 404, members without the role 403."""
    program = Program.objects.filter(pk=pk).first() if user.is_authenticated else None
    roles = roles_in_program(user, pk) if program else set()
    if not roles:
        raise Http404("No such program.")
    _check(roles, action)
    program.viewer_roles = roles
    return program


def get_session_for_user(user, pk: int, *, action: str = "view") -> TrainingSession:
    """The one access point for a session. Leading one of them needs the program's director or the session's mentor
    (another mentor of the program can see it but not change it)."""
    session = (
        TrainingSession.objects.select_related("program", "mentor", "console_shared_by").filter(pk=pk).first()
        if user.is_authenticated
        else None
    )
    roles = roles_in_program(user, session.program_id) if session else set()
    if not roles:
        raise Http404("No such session.")
    _check(roles, action)
    if action == "lead" and Role.DIRECTOR not in roles and session.mentor_id != user.pk:
        raise PermissionDenied("Only the session's mentor or the program director can do this.")
    session.viewer_roles = roles
    return session


def sessions_for_user(user) -> QuerySet[TrainingSession]:
    """Sessions of the programs the user belongs to, with their attendee counts."""
    if not user.is_authenticated:
        return TrainingSession.objects.none()
    programs = Membership.objects.filter(user=user).values("program_id")
    return _with_counts(TrainingSession.objects.filter(program_id__in=programs))


def _with_counts(qs: QuerySet[TrainingSession]) -> QuerySet[TrainingSession]:
    return qs.select_related("program", "mentor").annotate(attendee_count=Count("attendances"))


def program_sessions(program: Program, *, now: datetime | None = None) -> tuple[list, list]:
    """(upcoming soonest first, past latest first) for a program the caller may view. Two queries."""
    now = now or timezone.now()
    qs = _with_counts(program.sessions.all())
    upcoming = list(qs.filter(starts_at__gte=now).order_by("starts_at"))
    past = list(qs.filter(starts_at__lt=now).order_by("-starts_at")[:50])
    return upcoming, past


def session_attendances(session: TrainingSession) -> list[Attendance]:
    return list(
        session.attendances.select_related("enrollment__trainee").order_by(
            "enrollment__trainee__full_name", "enrollment__trainee__email"
        )
    )


def next_sessions(session: TrainingSession, *, limit: int = 5) -> list[TrainingSession]:
    return list(
        _with_counts(session.program.sessions.filter(starts_at__gte=timezone.now()).exclude(pk=session.pk)).order_by(
            "starts_at"
        )[:limit]
    )


def program_session_leaders(program: Program):
    """Who may lead a session: the program's mentors and its director."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(memberships__program=program, memberships__role__in=[Role.MENTOR, Role.DIRECTOR])
        .distinct()
        .order_by("full_name", "email")
    )


def addable_enrollments(session: TrainingSession) -> QuerySet[Enrollment]:
    """Active enrollments of the session's program that are not attending yet."""
    return (
        Enrollment.objects.filter(program_id=session.program_id, status=Enrollment.Status.ACTIVE)
        .exclude(attendances__session=session)
        .select_related("trainee")
        .order_by("trainee__full_name", "trainee__email")
    )


def trainee_enrollment(user, program_id: int) -> Enrollment | None:
    return (
        Enrollment.objects.filter(trainee=user, program_id=program_id, status=Enrollment.Status.ACTIVE)
        .order_by("-start_date")
        .first()
    )


def has_completed_safety_module(enrollment: Enrollment) -> bool:
    return LectureCompletion.objects.filter(
        enrollment=enrollment, lecture__is_mr_safety_module=True, lecture__program_id=enrollment.program_id
    ).exists()


def group_limit(session: TrainingSession) -> int | None:
    """How many trainees the session takes: interactive types at most the program's cap per mentor (one mentor per
    session), didactics only the capacity if one is set."""
    limits = [session.capacity] if session.capacity else []
    if session.type not in TrainingSession.DIDACTIC_TYPES:
        limits.append(session.program.interactive_group_cap)
    return min(limits) if limits else None


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
    if not roles_in_program(actor, program.pk) & SESSION_ACTIONS["lead"]:
        raise PermissionDenied("Only the program's mentors and director create sessions.")
    if not program_session_leaders(program).filter(pk=mentor.pk).exists():
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
def attendance_add(*, actor, session: TrainingSession, enrollment: Enrollment) -> Attendance:
    """Put a trainee on a session (signed up by themselves or added by the mentor). Idempotent.

    The session row is locked before counting: concurrent sign-ups for the last place queue here, and the second
    one counts the first one's row.
    """
    locked = TrainingSession.objects.select_for_update().select_related("program").get(pk=session.pk)
    if enrollment.program_id != locked.program_id or enrollment.status != Enrollment.Status.ACTIVE:
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
    """The mentor's evidence for one trainee: when they joined and left, whether they gave input (S6)."""
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


def get_attendance_for_user(user, pk: int) -> Attendance:
    attendance = Attendance.objects.select_related("session", "enrollment__trainee").filter(pk=pk).first()
    if attendance is None:
        raise Http404("No such attendance.")
    get_session_for_user(user, attendance.session_id, action="lead")
    return attendance


# --- lectures ---------------------------------------------------------------------------------------------------------


def program_lectures(program: Program, *, enrollment: Enrollment | None = None) -> list[Lecture]:
    """The program's lectures; with an enrollment, each carries `done` (one query either way plus the topics)."""
    lectures = list(program.lectures.select_related("topic"))
    done = (
        set(LectureCompletion.objects.filter(enrollment=enrollment).values_list("lecture_id", flat=True))
        if enrollment
        else set()
    )
    for lecture in lectures:
        lecture.done = lecture.pk in done
    return lectures


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
    if Role.DIRECTOR not in roles_in_program(actor, program.pk):
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


def get_lecture_for_user(user, pk: int) -> Lecture:
    lecture = Lecture.objects.filter(pk=pk).first() if user.is_authenticated else None
    if lecture is None or not roles_in_program(user, lecture.program_id):
        raise Http404("No such lecture.")
    return lecture


@transaction.atomic
def lecture_mark_done(*, actor, lecture: Lecture) -> LectureCompletion:
    """A trainee marks a recorded lecture done. Idempotent: a second click keeps the first completion."""
    enrollment = trainee_enrollment(actor, lecture.program_id)
    if enrollment is None:
        raise PermissionDenied("Only trainees of this program mark lectures done.")
    if lecture.kind != Lecture.Kind.RECORDED:
        raise ValidationError("Live lectures are counted from attendance, not marked done.")
    completion, created = LectureCompletion.objects.get_or_create(lecture=lecture, enrollment=enrollment)
    if created:
        log_action(actor=actor, action="lecture.done", obj=completion, after={"lecture": lecture.pk})
    return completion


# --- calendar feed -----------------------------------------------------------------------------------------------------


def active_calendar_token(user) -> CalendarFeedToken | None:
    return CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at").first()


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


def feed_sessions(user) -> QuerySet[TrainingSession]:
    """The sessions in a user's feed: those they lead or attend, and every session of the programs they direct."""
    directed = Membership.objects.filter(user=user, role=Role.DIRECTOR).values("program_id")
    since = timezone.now() - timedelta(days=90)
    return (
        TrainingSession.objects.filter(
            Q(mentor=user) | Q(attendances__enrollment__trainee=user) | Q(program_id__in=directed),
            starts_at__gte=since,
        )
        .select_related("program", "mentor")
        .distinct()
        .order_by("starts_at")
    )


def get_feed_user(token: str):
    found = CalendarFeedToken.objects.select_related("user").filter(token=token, revoked_at__isnull=True).first()
    if found is None or not found.user.is_active:
        raise Http404("No such calendar feed.")
    return found.user


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r", "").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets continue on the next line after a space."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)


def render_ics(user, sessions, *, host: str = "trainingportal") -> bytes:
    """The feed as iCalendar text, written by hand: the format is small and needs no extra package."""
    from datetime import UTC

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//trainingportal//training sessions//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ics_text('trainingportal sessions')}",
    ]
    for s in sessions:
        start = s.starts_at.astimezone(UTC)
        end = start + timedelta(minutes=s.duration_minutes)
        description = f"{s.get_type_display()} · {s.get_delivery_display()} · {s.program.name} · mentor {s.mentor}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:session-{s.pk}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{end:%Y%m%dT%H%M%SZ}",
            f"SUMMARY:{_ics_text(s.title)}",
            f"DESCRIPTION:{_ics_text(description)}",
        ]
        if s.link:
            lines += [f"URL:{s.link}", f"LOCATION:{_ics_text(s.link)}"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
