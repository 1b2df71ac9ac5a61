"""Reads for training sessions, attendance, lectures and calendar feeds, scoped by the user asking.

Sessions are training data: program members only (SCMR reviewers are outsiders here). A program's session pages go
through programs.selectors.get_program_for_user; a single session, attendance or lecture through the functions below.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from programs.models import Membership, Program
from programs.selectors import directed_program_ids, member_program_ids, program_users, roles_in_program
from trainees.selectors import enrollments_for_user
from trainingportal.core.access import Access

from .models import Attendance, CalendarFeedToken, Lecture, LectureCompletion, TrainingSession

Role = Membership.Role
Type = TrainingSession.Type

# Which program roles may do what with a session.
SESSION_ACTIONS: dict[str, set[str]] = {
    "view": {Role.DIRECTOR, Role.MENTOR, Role.TRAINEE},
    "lead": {Role.DIRECTOR, Role.MENTOR},  # add trainees, record evidence (the session's mentor or the director)
    "attend": {Role.TRAINEE},
}


def can_lead(user, session: TrainingSession, roles: frozenset[str]) -> bool:
    """Leading a session needs the program's director or the session's own mentor (another mentor of the program
    can see it but not change it)."""
    return Role.DIRECTOR in roles or (Role.MENTOR in roles and session.mentor_id == user.pk)


def get_session_for_user(user, pk: int, *, action: str = "view") -> Access[TrainingSession]:
    """The one access point for a session. Outsiders 404, members without the role 403."""
    session = (
        TrainingSession.objects.select_related("program", "mentor", "console_shared_by").filter(pk=pk).first()
        if user.is_authenticated
        else None
    )
    roles = roles_in_program(user, session.program_id) if session else frozenset()
    if not roles:
        raise Http404("No such session.")
    if not roles & SESSION_ACTIONS[action]:
        raise PermissionDenied("You do not have the role needed for this.")
    if action == "lead" and not can_lead(user, session, roles):
        raise PermissionDenied("Only the session's mentor or the program director can do this.")
    return Access(session, roles)


def session_for_entry(enrollment, session_id: int | None) -> TrainingSession | None:
    """Resolve the session a trainee links to a case-log entry: a session the trainee can see, of the entry's own
    program. Anything else is a field error (the same answer for the form, the API and the import)."""
    if session_id is None:
        return None
    try:
        session = get_session_for_user(enrollment.trainee, int(session_id), action="view").obj
    except (Http404, PermissionDenied, TypeError, ValueError):
        session = None
    if session is None or session.program_id != enrollment.program_id:
        raise ValidationError({"session": "Choose a training session of your own program."})
    return session


def sessions_for_user(user) -> QuerySet[TrainingSession]:
    """Sessions of the programs the user belongs to, with their attendee counts."""
    if not user.is_authenticated:
        return TrainingSession.objects.none()
    return _with_counts(TrainingSession.objects.filter(program_id__in=member_program_ids(user)))


def _with_counts(qs: QuerySet[TrainingSession]) -> QuerySet[TrainingSession]:
    return qs.select_related("program", "mentor").annotate(attendee_count=Count("attendances"))


def program_sessions(program: Program, *, now: datetime | None = None) -> tuple[list, list]:
    """(upcoming soonest first, past latest first) for a program the caller may view. Two queries."""
    now = now or timezone.now()
    qs = _with_counts(program.sessions.all())
    upcoming = list(qs.filter(starts_at__gte=now).order_by("starts_at"))
    past = list(qs.filter(starts_at__lt=now).order_by("-starts_at")[:50])
    return upcoming, past


def session_choices_for_trainee(enrollment) -> QuerySet[TrainingSession]:
    """The sessions a trainee may link an entry to (see session_for_entry): those of their program, newest first."""
    return TrainingSession.objects.filter(program_id=enrollment.program_id).order_by("-starts_at")


def attendance_scope(user) -> Q:
    """The attendance rows `user` may read, as a filter on Attendance. Join and leave times and the note on a
    trainee's input are that trainee's training record: the trainee reads their own rows, a mentor those of the
    trainees they supervise, the director all of the program's, and a session's own mentor every row of it (they
    record them)."""
    return (
        Q(enrollment_id__in=enrollments_for_user(user).values("pk"))
        | Q(session__mentor=user, session__program_id__in=member_program_ids(user).filter(role=Role.MENTOR))
        | Q(session__program_id__in=directed_program_ids(user))
    )


def visible_attendances(user) -> QuerySet[Attendance]:
    """Attendance rows the user may read, trainee loaded, in name order (for a Prefetch or a single session)."""
    return (
        Attendance.objects.filter(attendance_scope(user))
        .select_related("enrollment__trainee")
        .order_by("enrollment__trainee__full_name", "enrollment__trainee__email")
    )


def session_attendances(user, session: TrainingSession) -> tuple[list[Attendance], int]:
    """(the session's attendance rows the user may read, how many trainees attend in all). Two queries."""
    return list(visible_attendances(user).filter(session=session)), session.attendances.count()


def next_sessions(session: TrainingSession, *, limit: int = 5) -> list[TrainingSession]:
    return list(
        _with_counts(session.program.sessions.filter(starts_at__gte=timezone.now()).exclude(pk=session.pk)).order_by(
            "starts_at"
        )[:limit]
    )


def program_session_leaders(program: Program):
    """Who may lead a session: the program's mentors and its director."""
    return program_users(program, Role.MENTOR, Role.DIRECTOR)


def has_completed_safety_module(enrollment) -> bool:
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


def get_attendance_for_user(user, pk: int) -> Attendance:
    """An attendance row, for the session's mentor or the program director (outsiders 404, others 403)."""
    attendance = Attendance.objects.select_related("session", "enrollment__trainee").filter(pk=pk).first()
    if attendance is None:
        raise Http404("No such attendance.")
    get_session_for_user(user, attendance.session_id, action="lead")
    return attendance


def attendance_rows(enrollment_ids) -> QuerySet:
    """Attendance of the given enrollments with their session's facts and attendee counts (the requirement facts)."""
    return (
        Attendance.objects.filter(enrollment_id__in=enrollment_ids)
        .values_list(
            "enrollment_id", "session_id", "session__type", "session__delivery", "session__starts_at",
            "session__duration_minutes", "session__mentor_id", "session__console_shared", "active_input",
        )
        .annotate(attendees=Count("session__attendances"))
        .order_by()
    )  # fmt: skip


def lecture_completion_rows(enrollment_ids) -> QuerySet:
    """(enrollment id, lecture id, completed at, hours, topic slug) of the given enrollments."""
    return LectureCompletion.objects.filter(enrollment_id__in=enrollment_ids).values_list(
        "enrollment_id", "lecture_id", "completed_at", "lecture__hours", "lecture__topic__slug"
    )


# --- lectures ---------------------------------------------------------------------------------------------------------


def program_lectures(program: Program, *, enrollment=None) -> list[tuple[Lecture, bool]]:
    """The program's lectures with whether the enrollment (if any) has completed each. Two queries."""
    lectures = list(program.lectures.select_related("topic"))
    done = (
        set(LectureCompletion.objects.filter(enrollment=enrollment).values_list("lecture_id", flat=True))
        if enrollment
        else set()
    )
    return [(lecture, lecture.pk in done) for lecture in lectures]


def get_lecture_for_user(user, pk: int) -> Access[Lecture]:
    lecture = Lecture.objects.filter(pk=pk).first() if user.is_authenticated else None
    roles = roles_in_program(user, lecture.program_id) if lecture else frozenset()
    if not roles:
        raise Http404("No such lecture.")
    return Access(lecture, roles)


@dataclass(frozen=True)
class ProgramTrainingTotals:
    lecture_count: int
    lecture_hours: float
    safety_module_count: int
    console_shared_sessions: int
    input_sessions: int
    active_input_attendances: int


def program_training_totals(program: Program) -> ProgramTrainingTotals:
    """What the S1–S15 checklist needs of a program's training: three queries, whatever its size."""
    lectures = Lecture.objects.filter(program=program).aggregate(
        count=Count("id"), hours=Sum("hours"), safety=Count("id", filter=Q(is_mr_safety_module=True))
    )
    input_types = [Type.PROTOCOL_SELECTION, Type.PLANNING_TROUBLESHOOTING]
    sessions = TrainingSession.objects.filter(program=program).aggregate(
        console=Count("id", filter=Q(type=Type.LIVE_ACQUISITION, console_shared=True)),
        inputs=Count("id", filter=Q(type__in=input_types)),
    )
    return ProgramTrainingTotals(
        lecture_count=lectures["count"],
        lecture_hours=float(lectures["hours"] or 0),
        safety_module_count=lectures["safety"],
        console_shared_sessions=sessions["console"],
        input_sessions=sessions["inputs"],
        active_input_attendances=Attendance.objects.filter(session__program=program, active_input=True).count(),
    )


# --- calendar feed -----------------------------------------------------------------------------------------------------


def active_calendar_token(user) -> CalendarFeedToken | None:
    return CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at").first()


def feed_sessions(user) -> QuerySet[TrainingSession]:
    """The sessions in a user's feed: those they lead or attend, and every session of the programs they direct."""
    since = timezone.now() - timedelta(days=90)
    return (
        TrainingSession.objects.filter(
            Q(mentor=user) | Q(attendances__enrollment__trainee=user) | Q(program_id__in=directed_program_ids(user)),
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


def attended_sessions(enrollment) -> list[Attendance]:
    """The enrollment's attendance, oldest first, with the session (the dossier's participation evidence)."""
    return list(
        Attendance.objects.filter(enrollment=enrollment)
        .select_related("session")
        .order_by("session__starts_at", "session_id")
    )
