"""Who reads whose attendance (issue 11, item 8): join/leave times and the note on a trainee's input are that
trainee's record. A trainee reads their own row and the number attending; a mentor their trainees' rows; the session's
own mentor and the director every row; outsiders and reviewers nothing (404)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import api_as, login
from tests.factories import AttendanceFactory, SessionFactory

NOTE_OWN = "Chose the SSFP slice plan"
NOTE_OTHER = "Fixed the ECG trigger artefact"


@pytest.fixture
def session(program, enrollment, other_enrollment):
    session = SessionFactory(program=program, title="Planning clinic")  # led by the director
    joined = timezone.now() - datetime.timedelta(hours=1)
    AttendanceFactory(session=session, enrollment=enrollment, joined_at=joined, active_input_note=NOTE_OWN)
    AttendanceFactory(session=session, enrollment=other_enrollment, joined_at=joined, active_input_note=NOTE_OTHER)
    return session


def _api_trainees(user, session) -> tuple[set[str], int]:
    response = api_as(user).get(f"/api/v1/sessions/{session.pk}/")
    assert response.status_code == 200
    body = response.json()
    return {row["trainee"] for row in body["attendances"]}, body["attendee_count"]


@pytest.mark.parametrize(
    "who, expected",
    [
        ("trainee", {"Tess Trainee"}),
        ("other_trainee", {"Otto Other"}),
        ("mentor", {"Tess Trainee"}),  # mentors trainee, not other_trainee, and does not lead this session
        ("director", {"Tess Trainee", "Otto Other"}),
    ],
)
def test_api_session_detail_shows_only_the_attendance_the_user_may_read(request, session, who, expected):
    user = request.getfixturevalue(who)
    names, count = _api_trainees(user, session)
    assert names == expected
    assert count == 2


def test_sessions_own_mentor_reads_every_row(session, mentor):
    session.mentor = mentor
    session.save(update_fields=["mentor"])
    names, _ = _api_trainees(mentor, session)
    assert names == {"Tess Trainee", "Otto Other"}


@pytest.mark.parametrize("who", ["outsider", "reviewer"])
def test_api_session_detail_is_404_for_outsiders(request, session, who):
    response = api_as(request.getfixturevalue(who)).get(f"/api/v1/sessions/{session.pk}/")
    assert response.status_code == 404


def test_attend_answer_shows_only_the_trainees_own_row(session, program, trainee, enrollment):
    other_session = SessionFactory(program=program)
    AttendanceFactory(session=other_session, enrollment__program=program)
    response = api_as(trainee).post(f"/api/v1/sessions/{other_session.pk}/attend/")
    assert response.status_code == 200
    assert [row["trainee"] for row in response.json()["attendances"]] == ["Tess Trainee"]
    assert response.json()["attendee_count"] == 2


@pytest.mark.parametrize(
    "who, visible, hidden",
    [
        ("trainee", ["Tess Trainee"], [NOTE_OTHER, "Otto Other"]),
        ("other_trainee", ["Otto Other"], [NOTE_OWN, "Tess Trainee"]),
        ("mentor", ["Tess Trainee"], [NOTE_OTHER, "Otto Other"]),
        ("director", [NOTE_OWN, NOTE_OTHER, "Tess Trainee", "Otto Other"], []),
    ],
)
def test_session_page_shows_only_the_attendance_the_user_may_read(client, request, session, who, visible, hidden):
    response = login(client, request.getfixturevalue(who)).get(reverse("sessions:detail", args=[session.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Attending (2)" in html
    for text in visible:
        assert text in html
    for text in hidden:
        assert text not in html
