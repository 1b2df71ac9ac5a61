"""Competency sign-offs: the framework as versioned data, the sign-off page and API, the in-person rule, amendments
with a reason, and what a sign-off changes downstream (the engine's in-person requirement, a signed determination)."""

import datetime
import hashlib
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from assessments import services
from assessments.framework import FRAMEWORK_DIR, FrameworkError, current_framework, load_framework, parse_framework
from assessments.models import Competency, SignOff, SignOffAmendment
from assessments.selectors import competency_board
from cases.models import CaseLogEntry
from progress.selectors.determinations import determination_state
from progress.selectors.reports import report_for
from training.models import TrainingSession
from trainingportal.core.models import AuditEvent

from ..factories import AttendanceFactory, EnrollmentFactory, EntryFactory, SessionFactory, UserFactory
from ..verification.helpers import make_complete, sign_determination

pytestmark = pytest.mark.django_db

# A released framework file is never edited in place: a change is a new file with the next version.
RELEASED_SHA = {"scmr-level-2.v1.yaml": "65a655cddf7599db5835decd10c177ac7258924041a62368337b1c2aefeba825"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_released_framework_files_are_not_edited():
    for name, sha in RELEASED_SHA.items():
        assert _sha(FRAMEWORK_DIR / name) == sha, f"{name} changed: ship the change as a new version instead"
    assert {p.name for p in FRAMEWORK_DIR.glob("*.yaml")} >= set(RELEASED_SHA)


def test_the_level_2_framework_lists_the_competencies_with_their_delivery_and_source():
    framework = current_framework()
    assert (framework.id, framework.version, framework.sign_off_level) == ("scmr-level-2", 1, 4)
    assert [n for n, _ in framework.levels] == [1, 2, 3, 4, 5]
    codes = {c.code: c for c in framework.competencies}
    assert {"acquisition-planning", "protocol-selection", "artefact-troubleshooting", "ventricular-function",
            "flow-valves", "lge-viability", "stress-testing", "parametric-mapping", "congenital", "vascular",
            "mr-safety-screening", "cied-scanning", "report-writing"} <= set(codes)  # fmt: skip
    assert {c for c, d in codes.items() if d.in_person_required} == {"stress-testing", "cied-scanning"}
    for item in framework.competencies:
        assert item.cites and framework.citation(item.source) != item.source


def test_migrate_writes_the_framework_rows_with_stable_codes():
    framework = current_framework()
    rows = Competency.objects.filter(framework=framework.id, version=framework.version).order_by("position")
    assert [(r.code, r.title, r.in_person_required) for r in rows] == [
        (c.code, c.title, c.in_person_required) for c in framework.competencies
    ]


def _data(**changes):
    data = yaml.safe_load((FRAMEWORK_DIR / "scmr-level-2.v1.yaml").read_text())
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["competencies"].append(dict(d["competencies"][0])), "appears twice"),
        (lambda d: d["competencies"][0].update(source="nowhere"), "sources without a citation"),
        (lambda d: d["citations"].update(extra="Unused 2020."), "citations nothing uses"),
        (lambda d: d["entrustment"].update(sign_off_level=9), "above the scale"),
        (lambda d: d["competencies"][0].update(delivery="virtual"), "competencies/0/delivery"),
        (lambda d: d["competencies"][0].pop("cites"), "'cites' is a required property"),
        (lambda d: d["entrustment"]["levels"].pop(3), "numbered 1..n"),
    ],
)
def test_a_broken_framework_file_is_refused(mutate, message):
    data = _data()
    mutate(data)
    with pytest.raises(FrameworkError, match=message):
        parse_framework(data)


def test_a_repeated_key_or_a_misnamed_file_is_refused(tmp_path):
    text = (FRAMEWORK_DIR / "scmr-level-2.v1.yaml").read_text()
    twice = tmp_path / "scmr-level-2.v1.yaml"
    twice.write_text(text.replace("version: 1\n", "version: 1\nversion: 2\n"))
    with pytest.raises(FrameworkError, match="appears twice"):
        load_framework(twice)
    misnamed = tmp_path / "scmr-level-2.yaml"
    misnamed.write_text(text)
    with pytest.raises(FrameworkError, match="must be named scmr-level-2.v1.yaml"):
        load_framework(misnamed)


# --- signing off -------------------------------------------------------------------------------------------------


def _entry(enrollment, mentor, *, delivery=CaseLogEntry.Delivery.IN_PERSON, **kwargs):
    return EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        signed=True,
        assisted_console=True,
        delivery=delivery,
        **kwargs,
    )


def _session(program, enrollment, *, delivery=TrainingSession.Delivery.IN_PERSON):
    session = SessionFactory(program=program, delivery=delivery, starts_at=timezone.now() - datetime.timedelta(days=2))
    AttendanceFactory(session=session, enrollment=enrollment)
    return session


def _sign(actor, enrollment, code="lge-viability", **overrides):
    values = {
        "signed_on": timezone.localdate(),
        "delivery": "in_person",
        "entrustment_level": 4,
        "entry_ids": (),
        "session_ids": (),
        "note": "",
        **overrides,
    }
    return services.sign_off_create(actor=actor, enrollment=enrollment, competency_code=code, **values)


def _form(entries=(), sessions=(), **overrides):
    data = {
        "signed_on": timezone.localdate().isoformat(),
        "delivery": "in_person",
        "entrustment_level": "4",
        "evidence_entries": [str(e.pk) for e in entries],
        "evidence_sessions": [str(s.pk) for s in sessions],
        "note": "Planned and ran the LGE inversion time scout unaided.",
        **overrides,
    }
    return data


def test_the_mentor_signs_off_a_competency_on_the_page(client, enrollment, mentor):
    entry = _entry(enrollment, mentor)
    client.force_login(mentor)
    url = reverse("trainees:sign_off", args=[enrollment.pk, "lge-viability"])
    assert client.get(url).status_code == 200

    response = client.post(url, _form([entry]))

    assert response.status_code == 302
    sign_off = SignOff.objects.get(enrollment=enrollment, competency__code="lge-viability")
    assert (sign_off.signer, sign_off.delivery, sign_off.entrustment_level) == (mentor, "in_person", 4)
    assert list(sign_off.evidence_entries.all()) == [entry]
    assert AuditEvent.objects.filter(action="sign_off.create", object_id=str(sign_off.pk)).exists()
    board = {item["competency"].code: item["status"] for item in competency_board(enrollment)}
    assert board["lge-viability"] == "signed"
    page = client.get(reverse("trainees:competencies", args=[enrollment.pk]))
    assert b"Signed off" in page.content and b"1 of 14" in page.content


def test_an_in_person_competency_refuses_a_virtual_sign_off_and_virtual_evidence(client, enrollment, mentor, program):
    virtual_entry = _entry(enrollment, mentor, delivery=CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY)
    virtual_session = _session(program, enrollment, delivery=TrainingSession.Delivery.VIRTUAL_TWO_WAY)
    in_person_entry = _entry(enrollment, mentor)

    with pytest.raises(ValidationError) as refused:
        _sign(mentor, enrollment, "stress-testing", delivery="virtual", entry_ids=[in_person_entry.pk])
    assert "needs in-person experience" in str(refused.value.message_dict["delivery"])
    with pytest.raises(ValidationError) as refused:
        _sign(mentor, enrollment, "stress-testing", entry_ids=[in_person_entry.pk, virtual_entry.pk])
    assert "were not in person" in str(refused.value.message_dict["evidence_entries"])
    with pytest.raises(ValidationError) as refused:
        _sign(mentor, enrollment, "cied-scanning", session_ids=[virtual_session.pk])
    assert "were not in person" in str(refused.value.message_dict["evidence_sessions"])

    # The page and the API give the same answer, and nothing is saved.
    client.force_login(mentor)
    page = client.post(
        reverse("trainees:sign_off", args=[enrollment.pk, "stress-testing"]),
        _form([virtual_entry], delivery="in_person"),
    )
    assert page.status_code == 400
    api = APIClient()
    api.force_authenticate(mentor)
    response = api.post(
        "/api/v1/sign-offs/",
        {"enrollment": enrollment.pk, "competency": "stress-testing", "signed_on": str(timezone.localdate()),
         "delivery": "virtual", "entrustment_level": 4, "evidence_entries": [in_person_entry.pk]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400 and "delivery" in response.json()
    assert not SignOff.objects.exists()

    _sign(mentor, enrollment, "stress-testing", entry_ids=[in_person_entry.pk])
    assert SignOff.objects.get().competency.code == "stress-testing"


def test_an_in_person_sign_off_of_any_competency_rests_on_in_person_evidence(enrollment, mentor):
    virtual_entry = _entry(enrollment, mentor, delivery=CaseLogEntry.Delivery.ASYNCHRONOUS)
    with pytest.raises(ValidationError, match="not in person"):
        _sign(mentor, enrollment, "report-writing", entry_ids=[virtual_entry.pk])
    sign_off = _sign(mentor, enrollment, "report-writing", delivery="virtual", entry_ids=[virtual_entry.pk])
    assert sign_off.delivery == "virtual"


def test_evidence_must_be_the_trainees_own_signed_entries_and_attended_sessions(
    enrollment, mentor, program, other_trainee, outsider
):
    other = EnrollmentFactory(trainee=other_trainee, program=program, mentors=[mentor])
    foreign_entry = _entry(other, mentor)
    draft = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    not_attended = SessionFactory(program=program, delivery=TrainingSession.Delivery.IN_PERSON)
    AttendanceFactory(session=not_attended, enrollment=other)
    other_program_session = SessionFactory(delivery=TrainingSession.Delivery.IN_PERSON)

    for kwargs, field in [
        ({}, "evidence_entries"),
        ({"entry_ids": [foreign_entry.pk]}, "evidence_entries"),
        ({"entry_ids": [draft.pk]}, "evidence_entries"),
        ({"entry_ids": [10**9]}, "evidence_entries"),
        ({"session_ids": [not_attended.pk]}, "evidence_sessions"),
        ({"session_ids": [other_program_session.pk]}, "evidence_sessions"),
    ]:
        with pytest.raises(ValidationError) as refused:
            _sign(mentor, enrollment, **kwargs)
        assert field in refused.value.message_dict, kwargs
    assert not SignOff.objects.exists()


def test_who_may_sign_off(client, enrollment, mentor, director, trainee, other_trainee, program, outsider, reviewer):
    entry = _entry(enrollment, mentor)
    url = reverse("trainees:sign_off", args=[enrollment.pk, "lge-viability"])
    other_mentor = UserFactory()
    from programs.models import Membership

    from ..factories import MembershipFactory

    MembershipFactory(user=other_mentor, program=program, role=Membership.Role.MENTOR)
    for user, get_status, post_status in [
        (trainee, 200, 403),  # reads their own, never signs
        (other_mentor, 403, 403),  # a mentor of the program who does not supervise this trainee
        (outsider, 404, 404),
        (reviewer, 404, 404),  # reviewers see trainee data only through a submitted dossier
    ]:
        client.force_login(user)
        assert client.get(url).status_code == get_status, user
        assert client.post(url, _form([entry])).status_code == post_status, user
        with pytest.raises(PermissionDenied):
            _sign(user, enrollment, entry_ids=[entry.pk])
    assert not SignOff.objects.exists()
    client.force_login(director)
    assert client.post(url, _form([entry])).status_code == 302
    assert SignOff.objects.get().signer == director


def test_a_sign_off_is_made_once_and_amended_with_a_reason(client, enrollment, mentor, director):
    first, second = _entry(enrollment, mentor), _entry(enrollment, mentor)
    sign_off = _sign(mentor, enrollment, entry_ids=[first.pk], entrustment_level=3)
    with pytest.raises(ValidationError, match="amend it with a reason"):
        _sign(director, enrollment, entry_ids=[first.pk])

    client.force_login(director)
    url = reverse("trainees:sign_off", args=[enrollment.pk, "lge-viability"])
    no_reason = client.post(url, _form([first, second], entrustment_level="4"))
    assert no_reason.status_code == 400 and b"reason" in no_reason.content.lower()
    sign_off.refresh_from_db()
    assert sign_off.entrustment_level == 3

    response = client.post(
        url, _form([first, second], entrustment_level="4", reason="Re-assessed after 20 more LGE cases.")
    )

    assert response.status_code == 302
    sign_off.refresh_from_db()
    assert (sign_off.entrustment_level, sign_off.signer) == (4, director)
    assert sorted(sign_off.evidence_entries.values_list("pk", flat=True)) == sorted([first.pk, second.pk])
    amendment = SignOffAmendment.objects.get(sign_off=sign_off)
    assert amendment.before["entrustment_level"] == 3 and amendment.before["evidence_entries"] == [first.pk]
    assert amendment.after["entrustment_level"] == 4 and amendment.amended_by == director
    assert SignOff.objects.count() == 1
    page = client.get(url)
    assert b"Re-assessed after 20 more LGE cases." in page.content
    with pytest.raises(ValidationError, match="Nothing was changed"):
        services.sign_off_amend(
            actor=director, sign_off=sign_off, reason="Same again, no change at all.",
            signed_on=sign_off.signed_on, delivery="in_person", entrustment_level=4,
            entry_ids=[first.pk, second.pk], session_ids=[], note=sign_off.note,
        )  # fmt: skip


def test_a_level_below_the_sign_off_level_is_progress_not_a_sign_off(enrollment, mentor):
    make_complete(enrollment, mentor)
    SignOff.objects.filter(enrollment=enrollment).delete()
    entry = _entry(enrollment, mentor)
    _sign(mentor, enrollment, "cied-scanning", entry_ids=[entry.pk])
    stress = _sign(mentor, enrollment, "stress-testing", entry_ids=[entry.pk], entrustment_level=3)

    report = report_for(enrollment)
    in_person = report.requirement("in_person_competencies")
    assert not in_person.met and in_person.achieved == 1
    board = {item["competency"].code: item["status"] for item in competency_board(enrollment)}
    assert board["stress-testing"] == "in_progress" and board["cied-scanning"] == "signed"

    services.sign_off_amend(
        actor=mentor, sign_off=stress, reason="Supervised five more dobutamine studies.",
        signed_on=stress.signed_on, delivery="in_person", entrustment_level=4, entry_ids=[entry.pk],
    )  # fmt: skip
    assert report_for(enrollment).requirement("in_person_competencies").met


def test_amending_a_sign_off_marks_the_signed_determination_stale(enrollment, mentor, director):
    make_complete(enrollment, mentor)
    entry = _entry(enrollment, mentor)
    sign_off = SignOff.objects.get(enrollment=enrollment, competency__code="stress-testing")
    sign_determination(director, enrollment)
    assert determination_state(enrollment)["stale"] is False

    services.sign_off_amend(
        actor=director, sign_off=sign_off, reason="Evidence linked: the supervised stress study.",
        signed_on=sign_off.signed_on, delivery="in_person", entrustment_level=4, entry_ids=[entry.pk],
    )  # fmt: skip

    assert determination_state(enrollment)["stale"] is True


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"note": "Patient John Smith, DOB 14/03/1961, MRN 12345678"}, "note"),
        ({"signed_on": timezone.localdate() + datetime.timedelta(days=1)}, "signed_on"),
        ({"signed_on": datetime.date(2000, 1, 1)}, "signed_on"),
        ({"entrustment_level": 6}, "entrustment_level"),
        ({"delivery": "telepathy"}, "delivery"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(enrollment, mentor, overrides, field):
    entry = _entry(enrollment, mentor)
    with pytest.raises(ValidationError) as refused:
        _sign(mentor, enrollment, entry_ids=[entry.pk], **overrides)
    assert field in refused.value.message_dict
    assert not SignOff.objects.exists()


def test_an_unknown_competency_is_404_on_the_page_and_400_in_the_api(client, enrollment, mentor):
    client.force_login(mentor)
    assert client.get(reverse("trainees:sign_off", args=[enrollment.pk, "telepathy"])).status_code == 404
    api = APIClient()
    api.force_authenticate(mentor)
    response = api.post(
        "/api/v1/sign-offs/",
        {"enrollment": enrollment.pk, "competency": "telepathy", "signed_on": str(timezone.localdate()),
         "delivery": "in_person", "entrustment_level": 4},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400 and "competency" in response.json()


def test_the_api_signs_off_amends_and_lists_only_what_the_user_may_see(
    enrollment, mentor, trainee, director, outsider, reviewer, program, other_trainee
):
    entry = _entry(enrollment, mentor)
    session = _session(program, enrollment)
    api = APIClient()
    api.force_authenticate(mentor)
    created = api.post(
        "/api/v1/sign-offs/",
        {"enrollment": enrollment.pk, "competency": "cied-scanning", "signed_on": str(timezone.localdate()),
         "delivery": "in_person", "entrustment_level": 4, "evidence_entries": [entry.pk],
         "evidence_sessions": [session.pk], "note": "Screened and scanned a conditional pacemaker patient."},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["competency"], body["entrusted"], body["in_person_required"]) == ("cied-scanning", True, True)
    assert body["evidence_entries"] == [entry.pk] and body["evidence_sessions"] == [session.pk]

    amend = api.post(
        f"/api/v1/sign-offs/{body['id']}/amend/",
        {"signed_on": str(timezone.localdate()), "delivery": "in_person", "entrustment_level": 5,
         "evidence_entries": [entry.pk], "reason": "Now teaches the device checklist to juniors."},
        format="json",
    )  # fmt: skip
    assert amend.status_code == 200 and amend.json()["amendments"] == 1

    other = EnrollmentFactory(trainee=other_trainee, program=program)
    SignOff.objects.create(
        enrollment=other, competency=Competency.objects.get(code="congenital"), signer=director,
        signed_on=timezone.localdate(), delivery="in_person",
    )  # fmt: skip
    for user, expected in [(trainee, 1), (mentor, 1), (director, 2), (outsider, 0), (reviewer, 0)]:
        api.force_authenticate(user)
        listed = api.get("/api/v1/sign-offs/").json()
        rows = listed["results"] if isinstance(listed, dict) else listed
        assert len(rows) == expected, user
        assert api.get(f"/api/v1/sign-offs/?enrollment={other.pk}").status_code == 200
    api.force_authenticate(trainee)
    assert api.post(f"/api/v1/sign-offs/{body['id']}/amend/", {"reason": "x" * 20}, format="json").status_code == 403
    api.force_authenticate(outsider)
    assert api.get(f"/api/v1/sign-offs/{body['id']}/").status_code == 404
    assert (
        api.post(
            "/api/v1/sign-offs/",
            {"enrollment": enrollment.pk, "competency": "congenital", "signed_on": str(timezone.localdate()),
             "delivery": "in_person", "entrustment_level": 4, "evidence_entries": [entry.pk]},
            format="json",
        ).status_code
        == 404
    )  # fmt: skip


def test_the_api_describes_the_framework(trainee):
    api = APIClient()
    api.force_authenticate(trainee)
    body = api.get("/api/v1/sign-offs/framework/").json()
    assert (body["id"], body["version"], body["sign_off_level"]) == ("scmr-level-2", 1, 4)
    assert {c["code"] for c in body["competencies"] if c["delivery"] == "in_person"} == {
        "stress-testing",
        "cied-scanning",
    }


def test_the_competency_page_costs_the_same_for_many_sign_offs(
    client, enrollment, mentor, django_assert_max_num_queries
):
    entry = _entry(enrollment, mentor)
    client.force_login(mentor)
    url = reverse("trainees:competencies", args=[enrollment.pk])
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    for code in ("lge-viability", "congenital", "vascular", "flow-valves", "report-writing"):
        _sign(mentor, enrollment, code, entry_ids=[entry.pk])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert b"5 of 14" in response.content


def test_a_sign_off_form_sent_twice_signs_once(client, enrollment, mentor):
    entry = _entry(enrollment, mentor)
    client.force_login(mentor)
    url = reverse("trainees:sign_off", args=[enrollment.pk, "lge-viability"])
    page = client.get(url).content.decode()
    token = page.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    data = {**_form([entry]), "form_token": token}

    first = client.post(url, data)
    again = client.post(url, data)  # a double click, or the browser re-sending after a lost response

    assert first.status_code == again.status_code == 302
    assert again["Location"] == first["Location"]
    assert SignOff.objects.filter(enrollment=enrollment).count() == 1
    assert not SignOffAmendment.objects.exists()


def test_the_api_list_costs_the_same_for_many_sign_offs(enrollment, mentor, director, django_assert_max_num_queries):
    entry = _entry(enrollment, mentor)
    api = APIClient()
    api.force_authenticate(director)
    _sign(mentor, enrollment, "congenital", entry_ids=[entry.pk])
    with django_assert_max_num_queries(50) as one:
        assert api.get("/api/v1/sign-offs/").status_code == 200
    for code in ("lge-viability", "vascular", "flow-valves", "report-writing", "parametric-mapping"):
        _sign(mentor, enrollment, code, entry_ids=[entry.pk])
    with django_assert_max_num_queries(len(one.captured_queries)):
        rows = api.get("/api/v1/sign-offs/").json()["results"]
    assert len(rows) == 6 and {row["amendments"] for row in rows} == {0}
    detail = api.get(f"/api/v1/sign-offs/{rows[0]['id']}/")
    assert detail.status_code == 200 and detail.json()["amendments"] == 0
