"""The SCMR reviewer's portal for trainee dossiers: the queue (oldest first, filtered in the database, paginated, the
same filters on the API), take, notes (reviewers only, PHI-checked, appended), the history, and the e-mails the
program gets at each step. Conflicted dossiers never appear, whatever the filter."""

import datetime
import logging

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from programs.models import Membership
from verification.models import ReviewNote, VerificationRequest
from verification.services import dossiers as dossier_services
from verification.services.notes import review_note_add

from ..conftest import TOTP_SECRET, api_as, login
from ..factories import EnrollmentFactory, MembershipFactory, ProgramFactory, UserFactory, VerificationRequestFactory
from ..queries import assert_query_count_flat
from .helpers import make_complete, sign_determination

pytestmark = pytest.mark.django_db

Status = VerificationRequest.Status
QUEUE = reverse("dossiers:queue")
API_LIST = reverse("verification-request-list")
NOTE = "Sampled entries agree with the mentor reads; LGE reads consistent."


def _ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def _dossier(enrollment, status: str = Status.SUBMITTED, *, days: int = 1, **fields) -> VerificationRequest:
    digits = "0123456789abcdef"
    return VerificationRequestFactory(
        enrollment=enrollment,
        status=status,
        sha256=digits[VerificationRequest.objects.count() % 16] * 64,
        ready_at=_ago(days + 1),
        submitted_at=_ago(days),
        **fields,
    )


def _reviewer(institution: str = "SCMR Verification Committee", **fields):
    user = UserFactory(is_reviewer=True, institution=institution, **fields)
    TOTP.activate(user, TOTP_SECRET)
    return user


@pytest.fixture
def dossiers(program, enrollment, reviewer):
    """Five dossiers in three programs; the cast's program (hybrid, Example Heart Center) has two."""
    north = ProgramFactory(name="North Valley Virtual CMR", institution="North Valley Imaging", mode="virtual")
    coast = ProgramFactory(name="Coastal In-person CMR", institution="Coastal MR", mode="in_person")
    other_reviewer = _reviewer(email="second.reviewer@example.test")
    level3 = EnrollmentFactory(program=north, target_level="III", ruleset="scmr-2018-level-3")
    return {
        "own_program": _dossier(enrollment, days=10),  # submitted, nobody has taken it
        "north_taken": _dossier(level3, Status.UNDER_REVIEW, days=5, reviewer=reviewer),
        "coast_returned": _dossier(
            EnrollmentFactory(program=coast),
            Status.RETURNED,
            days=20,
            reviewer=other_reviewer,
            decided_at=_ago(2),
            decision_reasons="Fewer than 50 performed cases.",
        ),
        "north_verified": _dossier(
            EnrollmentFactory(program=north), Status.VERIFIED, days=30, reviewer=reviewer, decided_at=_ago(25)
        ),
        "ready": VerificationRequestFactory(
            enrollment=EnrollmentFactory(program=coast), status="ready", sha256="f" * 64
        ),
    }


def _listed_codes(client, params: dict | None = None) -> list[str]:
    content = client.get(QUEUE, params or {}).content.decode()
    codes = [vr.code for vr in VerificationRequest.objects.order_by("submitted_at")]
    # In the order the page shows them.
    return sorted((code for code in codes if code in content), key=content.index)


def _api_ids(user, params: dict | None = None) -> list[int]:
    response = api_as(user).get(API_LIST, {"ordering": "submitted_at", **(params or {})})
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- the queue: oldest first, filters, pagination, waiting time


def test_queue_lists_waiting_dossiers_oldest_first(client, reviewer, dossiers):
    login(client, reviewer)
    assert _listed_codes(client) == [dossiers["own_program"].code, dossiers["north_taken"].code]
    assert _listed_codes(client, {"status": ""}) == [
        dossiers[name].code for name in ("north_verified", "coast_returned", "own_program", "north_taken")
    ]


def test_api_lists_oldest_submission_first_when_asked(reviewer, dossiers):
    expected = [dossiers[name].pk for name in ("north_verified", "coast_returned", "own_program", "north_taken")]
    assert _api_ids(reviewer) == expected


def test_queue_shows_how_long_each_dossier_has_waited(client, reviewer, dossiers):
    content = login(client, reviewer).get(QUEUE, {"status": ""}).content.decode()
    assert "1\xa0week, 3\xa0days" in content  # own_program, submitted 10 days ago, still waiting
    # coast_returned: submitted 20 days ago, decided 2 days ago (18 days, less the microseconds between the two)
    assert "2\xa0weeks, 3\xa0days until decided" in content or "2\xa0weeks, 4\xa0days until decided" in content


FILTERS = [
    ({"status": "submitted"}, ["own_program"]),
    ({"status": "under_review"}, ["north_taken"]),
    ({"status": "decided"}, ["north_verified", "coast_returned"]),
    ({"status": "open"}, ["own_program", "north_taken"]),
    ({"status": "", "assigned": "mine"}, ["north_verified", "north_taken"]),
    ({"status": "", "assigned": "unassigned"}, ["own_program"]),
    ({"status": "", "assigned": ""}, ["north_verified", "coast_returned", "own_program", "north_taken"]),
    ({"status": "", "level": "III"}, ["north_taken"]),
    ({"status": "", "ruleset": "scmr-2018-level-3"}, ["north_taken"]),
    ({"status": "", "mode": "virtual"}, ["north_verified", "north_taken"]),
    ({"status": "", "mode": "in_person"}, ["coast_returned"]),
    ({"status": "", "mode": "hybrid"}, ["own_program"]),
    ({"status": "", "submitted_after": "DAYS_AGO_12"}, ["own_program", "north_taken"]),
    ({"status": "", "submitted_before": "DAYS_AGO_12"}, ["north_verified", "coast_returned"]),
    ({"status": "", "q": "north valley"}, ["north_verified", "north_taken"]),
    ({"status": "", "q": "CODE_OF_own_program"}, ["own_program"]),
]


def _params(params: dict, dossiers) -> dict:
    resolved = {}
    for key, value in params.items():
        if value == "DAYS_AGO_12":
            value = timezone.localdate() - datetime.timedelta(days=12)
        elif value.startswith("CODE_OF_"):
            value = dossiers[value.removeprefix("CODE_OF_")].code.lower()  # codes match in any case
        resolved[key] = value
    return resolved


@pytest.mark.parametrize("params,expected", FILTERS, ids=[str(p) for p, _ in FILTERS])
def test_each_filter_on_the_page_and_the_api(client, reviewer, dossiers, params, expected):
    params = _params(params, dossiers)
    login(client, reviewer)
    assert _listed_codes(client, params) == [dossiers[name].code for name in expected]
    api_params = {k: v for k, v in params.items() if v != ""}
    assert _api_ids(reviewer, api_params) == [dossiers[name].pk for name in expected]


def test_an_unknown_filter_value_is_refused_by_the_api(reviewer, dossiers):
    assert api_as(reviewer).get(API_LIST, {"status": "pending"}).status_code == 400
    assert api_as(reviewer).get(API_LIST, {"submitted_after": "yesterday"}).status_code == 400


def test_queue_pages_by_25(client, reviewer, program):
    for i in range(27):
        _dossier(EnrollmentFactory(program=program), days=40 - i)
    outsider_reviewer = _reviewer()
    login(client, outsider_reviewer)
    first = client.get(QUEUE).content.decode()
    assert "Page 1 of 2" in first and "27 dossiers" in first
    second = client.get(QUEUE, {"status": "open", "page": 2}).content.decode()
    assert "Page 2 of 2" in second
    newest = VerificationRequest.objects.order_by("-submitted_at").first()
    assert newest.code in second and newest.code not in first


CONFLICTS = ["mentor", "institution:  example HEART\tcenter ", "institution:EXAMPLE HEART CENTER"]


def _conflicted(kind: str, program):
    if kind.startswith("institution:"):
        return _reviewer(institution=kind.split(":", 1)[1])
    user = _reviewer()
    MembershipFactory(user=user, program=program, role=Membership.Role.MENTOR)
    return user


@pytest.mark.parametrize("kind", CONFLICTS)
def test_conflicted_dossiers_never_appear_whatever_the_filter(client, program, dossiers, kind):
    user = _conflicted(kind, program)
    own = dossiers["own_program"]
    login(client, user)
    for params, _ in [*FILTERS, ({"status": ""}, None), ({"status": "", "q": program.name}, None)]:
        params = _params(params, dossiers)
        assert own.code not in client.get(QUEUE, params).content.decode(), params
        assert own.pk not in _api_ids(user, {k: v for k, v in params.items() if v != ""}), params
    # The control: another program's dossier is listed for the same reviewer.
    assert dossiers["north_taken"].code in client.get(QUEUE).content.decode()


def test_queue_query_count_does_not_grow_with_the_dossiers(client, reviewer, dossiers):
    def grow():
        for i in range(5):
            program = ProgramFactory(institution=f"Grow Clinic {i}", mode="virtual")
            _dossier(EnrollmentFactory(program=program), days=3 + i)

    login(client, reviewer)
    # session, user, MFA authenticator (the MFA gate), count, the user's program roles (navigation), the page of
    # dossiers with trainee, program, requester and reviewer joined; the conflict-of-interest rule is a subquery of
    # both the count and the page: 6 queries.
    assert_query_count_flat(client, QUEUE + "?status=&mode=virtual", grow, expected=6)


# --- take


def test_taking_a_dossier_makes_it_under_review_by_the_reviewer(client, reviewer, dossiers):
    vr = dossiers["own_program"]
    login(client, reviewer)
    assert "Take for review" in client.get(reverse("dossiers:detail", args=[vr.pk])).content.decode()
    assert client.post(reverse("dossiers:take", args=[vr.pk])).status_code == 302
    vr.refresh_from_db()
    assert vr.status == Status.UNDER_REVIEW and vr.reviewer_id == reviewer.pk
    assert vr.code in client.get(QUEUE, {"assigned": "mine"}).content.decode()


def test_another_reviewer_cannot_decide_a_dossier_someone_has_taken(dossiers):
    vr = dossiers["north_taken"]
    with pytest.raises(PermissionDenied):
        dossier_services.verification_request_decide(
            actor=_reviewer(), vr=vr, verified=False, reasons="Missing sessions."
        )
    vr.refresh_from_db()
    assert vr.status == Status.UNDER_REVIEW


# --- notes


def test_a_note_is_added_and_shown_to_reviewers(client, reviewer, dossiers):
    vr = dossiers["own_program"]
    login(client, reviewer)
    response = client.post(reverse("dossiers:note_add", args=[vr.pk]), {"text": NOTE})
    assert response.status_code == 302
    note = ReviewNote.objects.get(request=vr)
    assert note.author == reviewer and note.text == NOTE
    assert NOTE in client.get(reverse("dossiers:detail", args=[vr.pk])).content.decode()
    notes = api_as(reviewer).get(reverse("verification-request-notes", args=[vr.pk])).json()
    assert [n["text"] for n in notes] == [NOTE]


@pytest.mark.parametrize(
    "text", ["Patient: Smith had a dilated LV.", "MRN 12345678 reads differently.", "DOB 03/04/1961"]
)
def test_a_note_with_patient_identifiers_is_refused(client, reviewer, dossiers, text):
    vr = dossiers["own_program"]
    with pytest.raises(ValidationError):
        review_note_add(actor=reviewer, vr=vr, text=text)
    login(client, reviewer)
    response = client.post(reverse("dossiers:note_add", args=[vr.pk]), {"text": text})
    assert response.status_code == 400 and "patient identifiers" in response.content.decode()
    response = api_as(reviewer).post(reverse("verification-request-notes", args=[vr.pk]), {"text": text}, format="json")
    assert response.status_code == 400 and "text" in response.json()
    assert not ReviewNote.objects.exists()


def test_notes_are_never_shown_to_the_director_mentor_or_trainee(client, reviewer, director, mentor, trainee, dossiers):
    vr = dossiers["own_program"]
    review_note_add(actor=reviewer, vr=vr, text=NOTE)
    url = reverse("verification-request-notes", args=[vr.pk])
    for user in (director, trainee):
        page = login(client, user).get(reverse("dossiers:detail", args=[vr.pk]))
        assert page.status_code == 200
        assert NOTE not in page.content.decode() and "Reviewers' notes" not in page.content.decode()
        assert NOTE not in api_as(user).get(reverse("verification-request-detail", args=[vr.pk])).content.decode()
        assert api_as(user).get(url).status_code == 403
        assert api_as(user).post(url, {"text": "A director's note."}, format="json").status_code == 403
    assert login(client, mentor).get(reverse("dossiers:detail", args=[vr.pk])).status_code == 403
    assert api_as(mentor).get(url).status_code == 403
    assert ReviewNote.objects.count() == 1


def test_notes_are_appended_never_edited(client, reviewer, dossiers):
    vr = dossiers["own_program"]
    first = review_note_add(actor=reviewer, vr=vr, text=NOTE)
    login(client, reviewer).post(reverse("dossiers:note_add", args=[vr.pk]), {"text": "Second look: agreed."})
    url = reverse("verification-request-notes", args=[vr.pk])
    api = api_as(reviewer)
    assert api.post(url, {"id": first.pk, "text": "Overwritten."}, format="json").status_code == 201
    for method in ("put", "patch", "delete"):
        assert getattr(api, method)(url, {"text": "Overwritten."}, format="json").status_code == 405
    first.refresh_from_db()
    assert first.text == NOTE
    assert list(ReviewNote.objects.filter(request=vr).values_list("text", flat=True)) == [
        NOTE,
        "Second look: agreed.",
        "Overwritten.",
    ]


def test_a_conflicted_reviewer_cannot_add_a_note(program, dossiers):
    vr = dossiers["own_program"]
    for kind in CONFLICTS:
        user = _conflicted(kind, program)
        with pytest.raises(PermissionDenied):
            review_note_add(actor=user, vr=vr, text=NOTE)
        assert api_as(user).post(
            reverse("verification-request-notes", args=[vr.pk]), {"text": NOTE}, format="json"
        ).status_code in (403, 404)
    assert not ReviewNote.objects.exists()


# --- history


def test_the_reviewer_page_shows_the_history_oldest_first(client, reviewer, dossiers):
    vr = dossiers["own_program"]
    login(client, reviewer)
    client.post(reverse("dossiers:take", args=[vr.pk]))
    client.post(reverse("dossiers:note_add", args=[vr.pk]), {"text": NOTE})
    client.post(reverse("dossiers:decide", args=[vr.pk]), {"decision": "returned", "decision_reasons": "Add sessions."})
    content = client.get(reverse("dossiers:detail", args=[vr.pk])).content.decode()
    history = content[content.index('id="history-heading"') :]
    steps = ["Dossier generated", "Submitted to SCMR", "Taken under review", "Note added", "Returned to the program"]
    positions = [history.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Add sessions." in history and f"by {reviewer}" in history
    assert NOTE not in history  # the note itself is in the notes card, the history only says one was added


def test_the_history_is_not_on_the_directors_page(client, director, reviewer, dossiers):
    vr = dossiers["own_program"]
    dossier_services.verification_request_take(actor=reviewer, vr=vr)
    content = login(client, director).get(reverse("dossiers:detail", args=[vr.pk])).content.decode()
    assert "Taken under review" not in content


# --- e-mails


@pytest.fixture
def open_gate(enrollment, mentor, director):
    """A trainee who meets every requirement with every competency signed off, and the director's signed
    determination: the real gate opens (each of its conditions is tested in test_gate.py)."""
    make_complete(enrollment, mentor)
    sign_determination(director, enrollment)


def _mails_for(mailoutbox, address: str) -> list:
    return [m for m in mailoutbox if address in m.to]


def test_the_director_gets_one_mail_per_step_and_none_carries_a_note(
    reviewer, director, trainee, enrollment, open_gate, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://portal.example.test"
    vr = VerificationRequestFactory(enrollment=enrollment, status="ready", sha256="a" * 64)
    with django_capture_on_commit_callbacks(execute=True):
        vr = dossier_services.verification_request_submit(actor=director, vr=vr)
    with django_capture_on_commit_callbacks(execute=True):
        vr = dossier_services.verification_request_take(actor=reviewer, vr=vr)
        review_note_add(actor=reviewer, vr=vr, text=NOTE)
    with django_capture_on_commit_callbacks(execute=True):
        vr = dossier_services.verification_request_decide(
            actor=reviewer, vr=vr, verified=True, reasons="All requirements evidenced."
        )
    with django_capture_on_commit_callbacks(execute=True):
        dossier_services.verification_request_revoke(actor=reviewer, vr=vr, reason="Sign-offs found back-dated.")

    to_director = _mails_for(mailoutbox, director.email)
    assert [m.subject for m in to_director] == [
        f"[trainingportal] Tess Trainee, Level II: {label}"
        for label in ("Submitted to SCMR", "Under review", "Verified", "Verification revoked")
    ]
    link = f"https://portal.example.test/dossiers/{vr.pk}/"
    assert all(link in m.body for m in to_director)
    assert "All requirements evidenced." in to_director[2].body
    assert "Sign-offs found back-dated." in to_director[3].body
    # The trainee hears of the decision only.
    assert [m.subject for m in _mails_for(mailoutbox, trainee.email)] == [
        "[trainingportal] Tess Trainee, Level II: Verified"
    ]
    assert all(NOTE not in m.body and NOTE not in m.subject for m in mailoutbox)
    assert all(not m.alternatives for m in mailoutbox)  # plain text


def test_a_returned_dossier_mails_the_reasons_to_the_director_and_the_trainee(
    reviewer, director, trainee, dossiers, mailoutbox, django_capture_on_commit_callbacks
):
    vr = dossiers["own_program"]
    review_note_add(actor=reviewer, vr=vr, text=NOTE)
    with django_capture_on_commit_callbacks(execute=True):
        dossier_services.verification_request_decide(actor=reviewer, vr=vr, verified=False, reasons="Log 5 more.")
    assert sorted(m.to[0] for m in mailoutbox) == sorted([director.email, trainee.email])
    for message in mailoutbox:
        assert message.subject == "[trainingportal] Tess Trainee, Level II: Returned"
        assert "Log 5 more." in message.body and NOTE not in message.body


def test_mail_goes_out_only_after_commit(reviewer, dossiers, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dossier_services.verification_request_take(actor=reviewer, vr=dossiers["own_program"])
    assert not mailoutbox and len(callbacks) == 1


def test_a_mail_failure_is_logged_and_the_step_stands(
    reviewer, dossiers, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise ConnectionRefusedError("SMTP is down")

    monkeypatch.setattr(dossier_services, "send_mail", broken)
    vr = dossiers["own_program"]
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        dossier_services.verification_request_take(actor=reviewer, vr=vr)
    vr.refresh_from_db()
    assert vr.status == Status.UNDER_REVIEW
    assert f"dossier {vr.code} could not be sent" in caplog.text
