"""Training sessions: the group cap (also under concurrent sign-ups), the MR-safety gate, attendance
evidence, console sharing in the requirement engine, lectures done, the ICS feed and the API."""

import datetime
import threading
from decimal import Decimal

import icalendar
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from curriculum.models import Category
from progress.selectors.reports import report_for
from training import selectors as session_selectors
from training import services as svc
from training.models import Attendance, Lecture, LectureCompletion, TrainingSession
from trainingportal.core.models import AuditEvent

from ..conftest import login
from ..factories import (
    AttendanceFactory,
    EnrollmentFactory,
    EntryFactory,
    LectureCompletionFactory,
    LectureFactory,
    MembershipFactory,
    SessionFactory,
    UserFactory,
)
from ..queries import assert_query_count_flat

pytestmark = pytest.mark.django_db

Type = TrainingSession.Type


def make_session(program, mentor, *, type=Type.CASE_REVIEW, days=2, **fields) -> TrainingSession:
    """A session of `type` led by `mentor`, starting in `days` days (in the past if negative)."""
    return SessionFactory(
        program=program,
        mentor=mentor,
        type=type,
        starts_at=(timezone.now() + datetime.timedelta(days=days)).replace(microsecond=0),
        **fields,
    )


def safety_lecture(program) -> Lecture:
    return LectureFactory(
        program=program,
        title="MR safety for remote trainees",
        topic_slug="safety",
        hours=Decimal("1.5"),
        is_mr_safety_module=True,
    )


def trainees_of(program, n: int, *, safe_lecture: Lecture | None = None):
    enrollments = [EnrollmentFactory(program=program) for _ in range(n)]
    if safe_lecture:
        for e in enrollments:
            LectureCompletionFactory(lecture=safe_lecture, enrollment=e)
    return enrollments


# --- the group cap ------------------------------------------------------------------------------------------------


def test_interactive_session_refuses_trainees_over_the_group_cap_with_a_clear_message(program, mentor):
    session = make_session(program, mentor, type=Type.PROTOCOL_SELECTION)
    *four, fifth = trainees_of(program, 5)
    for e in four:
        svc.attendance_add(actor=mentor, session=session, enrollment=e)
    with pytest.raises(ValidationError) as exc:
        svc.attendance_add(actor=mentor, session=session, enrollment=fifth)
    message = " ".join(exc.value.messages)
    assert "at most 4 trainees per mentor" in message and "4 are already attending" in message
    assert session.attendances.count() == 4


def test_the_cap_follows_the_program_setting(program, mentor):
    program.interactive_group_cap = 2
    program.save(update_fields=["interactive_group_cap"])
    session = make_session(program, mentor, type=Type.PLANNING_TROUBLESHOOTING)
    a, b, c = trainees_of(program, 3)
    svc.attendance_add(actor=mentor, session=session, enrollment=a)
    svc.attendance_add(actor=mentor, session=session, enrollment=b)
    with pytest.raises(ValidationError, match="at most 2 trainees per mentor"):
        svc.attendance_add(actor=mentor, session=session, enrollment=c)


@pytest.mark.parametrize("kind", [Type.DIDACTIC_LIVE, Type.DIDACTIC_RECORDED])
def test_didactics_have_no_cap(program, mentor, kind):
    session = make_session(program, mentor, type=kind)
    for e in trainees_of(program, 12):
        svc.attendance_add(actor=mentor, session=session, enrollment=e)
    assert session.attendances.count() == 12
    assert session_selectors.group_limit(session) is None


def test_a_didactic_capacity_is_respected_when_set(program, mentor):
    session = make_session(program, mentor, type=Type.DIDACTIC_LIVE, capacity=2)
    a, b, c = trainees_of(program, 3)
    svc.attendance_add(actor=mentor, session=session, enrollment=a)
    svc.attendance_add(actor=mentor, session=session, enrollment=b)
    with pytest.raises(ValidationError, match=r"it is full \(2 places\)"):
        svc.attendance_add(actor=mentor, session=session, enrollment=c)


def test_signing_up_twice_keeps_one_attendance(program, mentor, trainee, enrollment):
    session = make_session(program, mentor)
    first = svc.attendance_add(actor=trainee, session=session, enrollment=enrollment)
    again = svc.attendance_add(actor=trainee, session=session, enrollment=enrollment)
    assert first.pk == again.pk and session.attendances.count() == 1


def test_a_trainee_of_another_program_cannot_be_added(program, mentor, outsider):
    session = make_session(program, mentor)
    stranger = EnrollmentFactory(program=outsider.directed_programs.get())
    with pytest.raises(ValidationError, match="active enrollment in this program"):
        svc.attendance_add(actor=mentor, session=session, enrollment=stranger)


@pytest.mark.django_db(transaction=True)
def test_two_sign_ups_racing_for_the_last_place_exactly_one_wins(program, mentor):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite locks the whole database, so it cannot show the race; CI runs this on PostgreSQL")
    session = make_session(program, mentor, type=Type.LIVE_ACQUISITION)
    lecture = safety_lecture(program)
    *three, a, b = trainees_of(program, 5, safe_lecture=lecture)
    for e in three:
        svc.attendance_add(actor=mentor, session=session, enrollment=e)

    barrier = threading.Barrier(2)
    results: dict[int, str] = {}

    def sign_up(enrollment):
        try:
            barrier.wait()
            svc.attendance_add(actor=enrollment.trainee, session=session, enrollment=enrollment)
            results[enrollment.pk] = "joined"
        except ValidationError as exc:
            results[enrollment.pk] = " ".join(exc.messages)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign_up, args=(e,)) for e in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(r == "joined" for r in results.values()) == [False, True], results
    assert Attendance.objects.filter(session=session).count() == 4
    refused = next(r for r in results.values() if r != "joined")
    assert "at most 4 trainees per mentor" in refused


# --- the MR-safety gate -------------------------------------------------------------------------------------------


def test_live_acquisition_needs_the_mr_safety_module(program, mentor, trainee, enrollment):
    session = make_session(program, mentor, type=Type.LIVE_ACQUISITION)
    with pytest.raises(ValidationError, match="has not completed the MR-safety module"):
        svc.attendance_add(actor=trainee, session=session, enrollment=enrollment)
    lecture = safety_lecture(program)
    svc.lecture_mark_done(actor=trainee, lecture=lecture)
    assert svc.attendance_add(actor=trainee, session=session, enrollment=enrollment).pk


def test_other_lectures_do_not_open_the_gate(program, mentor, trainee, enrollment):
    session = make_session(program, mentor, type=Type.LIVE_ACQUISITION)
    other = LectureFactory(program=program, title="T1 mapping", topic_slug="safety", hours=1)
    svc.lecture_mark_done(actor=trainee, lecture=other)
    with pytest.raises(ValidationError, match="MR-safety"):
        svc.attendance_add(actor=trainee, session=session, enrollment=enrollment)


def test_other_session_types_need_no_safety_module(program, mentor, trainee, enrollment):
    session = make_session(program, mentor, type=Type.PROTOCOL_SELECTION)
    assert svc.attendance_add(actor=trainee, session=session, enrollment=enrollment).pk


# --- evidence ------------------------------------------------------------------------------------------------------


def test_the_mentor_records_joined_left_and_active_input(program, mentor, trainee, enrollment):
    session = make_session(program, mentor)
    attendance = svc.attendance_add(actor=mentor, session=session, enrollment=enrollment)
    joined = session.starts_at
    svc.attendance_record(
        actor=mentor,
        attendance=attendance,
        joined_at=joined,
        left_at=joined + datetime.timedelta(minutes=55),
        active_input=True,
        active_input_note="Chose the LGE inversion time and re-planned the short axis.",
    )
    attendance.refresh_from_db()
    assert attendance.active_input and attendance.left_at - attendance.joined_at == datetime.timedelta(minutes=55)
    assert AuditEvent.objects.filter(action="attendance.record", object_id=str(attendance.pk)).exists()


def test_the_input_note_is_phi_guarded(program, mentor, enrollment):
    attendance = svc.attendance_add(actor=mentor, session=make_session(program, mentor), enrollment=enrollment)
    with pytest.raises(ValidationError) as exc:
        svc.attendance_record(
            actor=mentor,
            attendance=attendance,
            joined_at=None,
            left_at=None,
            active_input=True,
            active_input_note="Patient: Smith, MRN 12345678",
        )
    assert "active_input_note" in exc.value.error_dict


def test_leaving_before_joining_is_refused(program, mentor, enrollment):
    attendance = svc.attendance_add(actor=mentor, session=make_session(program, mentor), enrollment=enrollment)
    now = timezone.now()
    with pytest.raises(ValidationError, match="cannot leave before joining"):
        svc.attendance_record(
            actor=mentor,
            attendance=attendance,
            joined_at=now,
            left_at=now - datetime.timedelta(minutes=1),
            active_input=False,
        )


def test_console_sharing_is_recorded_with_who_and_when(program, mentor):
    session = make_session(program, mentor, type=Type.LIVE_ACQUISITION)
    svc.session_set_console_shared(actor=mentor, session=session, shared=True)
    session.refresh_from_db()
    assert session.console_shared and session.console_shared_by == mentor and session.console_shared_at
    with pytest.raises(ValidationError, match="live acquisition sessions only"):
        svc.session_set_console_shared(actor=mentor, session=make_session(program, mentor), shared=True)


@pytest.mark.parametrize("shared, active_input, counted", [(True, True, 1), (False, True, 0), (True, False, 0)])
def test_virtual_hands_on_counts_only_with_the_console_shared_and_input(
    program, mentor, enrollment, shared, active_input, counted
):
    session = make_session(program, mentor, type=Type.LIVE_ACQUISITION, days=-3, console_shared=shared)
    AttendanceFactory(session=session, enrollment=enrollment, active_input=active_input)
    EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        signed=True,
        interpreted=False,
        assisted_console=True,
        delivery="virtual_live_two_way",
        session=session,
    )
    hands_on = next(r for r in report_for(enrollment).requirements if r.key == "hands_on")
    assert hands_on.achieved == counted


# --- lectures ------------------------------------------------------------------------------------------------------


def test_marking_a_lecture_done_is_idempotent(program, trainee, enrollment):
    lecture = safety_lecture(program)
    first = svc.lecture_mark_done(actor=trainee, lecture=lecture)
    again = svc.lecture_mark_done(actor=trainee, lecture=lecture)
    assert first.pk == again.pk and LectureCompletion.objects.count() == 1
    client = login(APIClient(), trainee)
    response = client.post(reverse("sessions:lecture_done", args=[lecture.pk]))
    assert response.status_code == 302 and LectureCompletion.objects.count() == 1


def test_only_trainees_mark_lectures_done(program, mentor):
    with pytest.raises(PermissionDenied):
        svc.lecture_mark_done(actor=mentor, lecture=safety_lecture(program))


def test_the_director_adds_a_lecture_and_a_trainee_sees_it(client, director, program, trainee, enrollment):
    topic = Category.objects.first()
    login(client, director)
    response = client.post(
        reverse("sessions:lectures", args=[program.pk]),
        {"title": "MR safety", "topic": topic.pk, "kind": "recorded", "hours": "1.0", "is_mr_safety_module": "on"},
    )
    assert response.status_code == 302
    assert Lecture.objects.get(title="MR safety").is_mr_safety_module
    login(client, trainee)
    page = client.get(reverse("sessions:lectures", args=[program.pk])).content.decode()
    assert "MR safety" in page and "Mark done" in page


# --- calendar ------------------------------------------------------------------------------------------------------


def test_the_feed_parses_and_lists_only_the_users_sessions(client, program, mentor, trainee, enrollment, director):
    mine = make_session(program, mentor, title="Mine, with; commas \\ and a long title " + "x" * 80)
    svc.attendance_add(actor=mentor, session=mine, enrollment=enrollment)
    make_session(program, mentor, title="Not mine")
    token = svc.calendar_token_replace(actor=trainee)

    response = client.get(reverse("sessions:feed", args=[token.token]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == [mine.title]
    assert events[0].decoded("DTSTART") == mine.starts_at
    assert events[0].decoded("DTEND") == mine.starts_at + datetime.timedelta(minutes=60)

    # The mentor leads both; the director sees every session of the program.
    for user in (mentor, director):
        feed = client.get(reverse("sessions:feed", args=[svc.calendar_token_replace(actor=user).token]))
        assert len(icalendar.Calendar.from_ical(feed.content).walk("VEVENT")) == 2


def test_a_revoked_or_replaced_token_is_404(client, trainee, enrollment):
    old = svc.calendar_token_replace(actor=trainee)
    new = svc.calendar_token_replace(actor=trainee)
    assert client.get(reverse("sessions:feed", args=[old.token])).status_code == 404
    assert client.get(reverse("sessions:feed", args=[new.token])).status_code == 200
    svc.calendar_token_revoke(actor=trainee)
    assert client.get(reverse("sessions:feed", args=[new.token])).status_code == 404
    assert client.get(reverse("sessions:feed", args=["unknown"])).status_code == 404


def test_the_calendar_page_creates_replaces_and_revokes(client, trainee):
    login(client, trainee)
    client.post(reverse("sessions:calendar"), {"action": "replace"})
    token = session_selectors.active_calendar_token(trainee)
    assert token.token in client.get(reverse("sessions:calendar")).content.decode()
    client.post(reverse("sessions:calendar"), {"action": "revoke"})
    assert session_selectors.active_calendar_token(trainee) is None


# --- views and permissions -----------------------------------------------------------------------------------------


def test_a_mentor_creates_a_session_on_the_page(client, program, mentor):
    login(client, mentor)
    starts = (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("sessions:create", args=[program.pk]),
        {
            "title": "Scanning a cardiomyopathy protocol",
            "type": Type.LIVE_ACQUISITION,
            "delivery": "virtual_two_way",
            "mentor": mentor.pk,
            "starts_at": starts,
            "duration_minutes": 90,
            "link": "https://video.example.test/room/1",
        },
    )
    session = TrainingSession.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("sessions:detail", args=[session.pk])
    assert session.mentor == mentor and session.duration_minutes == 90


def test_the_session_mentor_must_lead_in_the_program(program, mentor, director, trainee, enrollment):
    start = timezone.now() + datetime.timedelta(days=1)
    fields = {"type": Type.CASE_REVIEW, "delivery": "in_person", "title": "T", "starts_at": start}
    with pytest.raises(ValidationError, match="mentor of this program"):
        svc.session_create(actor=director, program=program, mentor=trainee, duration_minutes=30, **fields)
    assert svc.session_create(actor=director, program=program, mentor=director, duration_minutes=30, **fields).pk


def test_the_page_refuses_the_fifth_trainee_with_the_message(client, program, mentor):
    session = make_session(program, mentor, type=Type.CASE_REVIEW)
    *four, fifth = trainees_of(program, 5)
    for e in four:
        svc.attendance_add(actor=mentor, session=session, enrollment=e)
    login(client, mentor)
    response = client.post(reverse("sessions:add_attendee", args=[session.pk]), {"enrollment": fifth.pk}, follow=True)
    assert "at most 4 trainees per mentor" in response.content.decode()


def test_outsiders_get_404_and_trainees_cannot_create_sessions(client, program, mentor, trainee, enrollment, outsider):
    session = make_session(program, mentor)
    login(client, outsider)
    assert client.get(reverse("sessions:detail", args=[session.pk])).status_code == 404
    assert client.get(reverse("sessions:list", args=[program.pk])).status_code == 404
    login(client, trainee)
    assert client.get(reverse("sessions:create", args=[program.pk])).status_code == 403
    api = login(APIClient(), trainee)
    data = {
        "program": program.pk,
        "type": "case_review",
        "delivery": "in_person",
        "title": "x",
        "mentor": mentor.pk,
        "starts_at": timezone.now().isoformat(),
        "duration_minutes": 30,
    }
    assert api.post(reverse("session-list"), data, format="json").status_code == 403
    assert login(APIClient(), outsider).post(reverse("session-list"), data, format="json").status_code == 404


def test_another_mentor_of_the_program_cannot_run_someone_elses_session(client, program, mentor, enrollment):
    colleague = UserFactory()
    MembershipFactory(user=colleague, program=program, role="mentor")
    session = make_session(program, mentor)
    login(client, colleague)
    assert client.get(reverse("sessions:detail", args=[session.pk])).status_code == 200
    assert client.post(reverse("sessions:add_attendee", args=[session.pk]), {}).status_code == 403


def _sessions_with_one_attendee(program, mentor, first: int, last: int) -> None:
    """Sessions number `first` to `last` - 1, from two days ago to in two days, each with one trainee attending."""
    for i in range(first, last):
        session = make_session(program, mentor, days=(i % 5) - 2, title=f"S{i}")
        AttendanceFactory(session=session)


def test_the_session_list_page_takes_a_constant_number_of_queries(client, program, mentor):
    login(client, mentor)
    _sessions_with_one_attendee(program, mentor, 0, 3)
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. the program  5. the user's roles in it
    # 6. upcoming sessions (with counts)  7. past sessions  8. the nav's roles
    assert_query_count_flat(
        client,
        reverse("sessions:list", args=[program.pk]),
        lambda: _sessions_with_one_attendee(program, mentor, 3, 20),
        expected=8,
    )


# --- API -----------------------------------------------------------------------------------------------------------


def test_the_api_lists_scoped_sessions_and_shows_attendance(program, mentor, trainee, enrollment, outsider):
    session = make_session(program, mentor)
    svc.attendance_add(actor=mentor, session=session, enrollment=enrollment)
    make_session(outsider.directed_programs.get(), outsider)
    api = login(APIClient(), trainee)
    listed = api.get(reverse("session-list")).json()["results"]
    assert [s["id"] for s in listed] == [session.pk]
    detail = api.get(reverse("session-detail", args=[session.pk])).json()
    assert detail["attendances"][0]["enrollment"] == enrollment.pk and detail["group_limit"] == 4
    assert login(APIClient(), outsider).get(reverse("session-detail", args=[session.pk])).status_code == 404


def test_the_api_attend_action_enforces_the_cap_and_the_safety_gate(program, mentor, trainee, enrollment):
    live = make_session(program, mentor, type=Type.LIVE_ACQUISITION)
    api = login(APIClient(), trainee)
    refused = api.post(reverse("session-attend", args=[live.pk]))
    assert refused.status_code == 400 and "MR-safety" in str(refused.json())
    svc.lecture_mark_done(actor=trainee, lecture=safety_lecture(program))
    assert api.post(reverse("session-attend", args=[live.pk])).status_code == 200

    full = make_session(program, mentor)
    for e in trainees_of(program, 4):
        svc.attendance_add(actor=mentor, session=full, enrollment=e)
    refused = api.post(reverse("session-attend", args=[full.pk]))
    assert refused.status_code == 400 and "at most 4 trainees per mentor" in str(refused.json())


def test_the_api_creates_a_session(program, mentor):
    api = login(APIClient(), mentor)
    response = api.post(
        reverse("session-list"),
        {
            "program": program.pk,
            "type": "didactic_live",
            "delivery": "virtual_two_way",
            "title": "Tissue characterisation",
            "mentor": mentor.pk,
            "starts_at": (timezone.now() + datetime.timedelta(days=3)).isoformat(),
            "duration_minutes": 45,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["group_limit"] is None and response.json()["attendances"] == []


def test_the_sessions_api_is_in_the_openapi_schema(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    assert "/api/v1/sessions/" in schema["paths"] and "/api/v1/sessions/{id}/attend/" in schema["paths"]


def test_session_and_lecture_titles_go_through_the_phi_guard(program, director):
    from django.core.exceptions import ValidationError

    from curriculum.models import Category
    from training import services as session_services
    from training.models import Lecture, TrainingSession

    before = (TrainingSession.objects.count(), Lecture.objects.count())
    with pytest.raises(ValidationError, match="patient identifiers"):
        session_services.session_create(
            actor=director,
            program=program,
            type="case_review",
            delivery="virtual_two_way",
            title="Review of Mr Smith, MRN 12345678",
            mentor=director,
            starts_at=timezone.now(),
            duration_minutes=60,
        )
    with pytest.raises(ValidationError, match="patient identifiers"):
        session_services.lecture_create(
            actor=director,
            program=program,
            title="Teaching case: patient: Jones",
            topic=Category.objects.get(slug="safety"),
            kind="recorded",
            hours=1,
        )
    assert (TrainingSession.objects.count(), Lecture.objects.count()) == before
