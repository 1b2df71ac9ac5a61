"""Every id a user can send that belongs to another program is refused — 400 or 404, and nothing saved.

The cases are generated, not listed by hand: from the OpenAPI schema (every integer or integer-list property of every
write request that is not a plain number) and from the HTML forms (every ModelChoiceField of every form the three
roles use). A new id field fails `test_every_id_field_is_covered` until it has a case here. Each case is checked
twice: with the user's own id the same request is accepted (so the refusal is about the id, not about the rest of
the payload), and with the other program's id it is refused and the database is unchanged.
"""

import datetime
import importlib
import inspect
from dataclasses import dataclass

import pytest
from django import forms
from django.apps import apps
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from assessments.models import Competency, SignOff
from cases import importing
from programs.models import Membership
from training.models import Attendance, TrainingSession

from .factories import EnrollmentFactory, EntryFactory, MembershipFactory, ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db

# Integer properties that are quantities, not ids.
NUMBERS = {
    "lvef",
    "lv_edvi",
    "onsite_training_years",
    "onsite_trainees_trained",
    "max_virtual_share",
    "interactive_group_cap",
    "duration_minutes",
    "capacity",
    "entrustment_level",
}
# Related fields whose objects are the same for every program: there is no "other program's" one to send.
SHARED = {
    "categories": "the SCMR curriculum topics are one list for everyone",
    "topic": "the SCMR curriculum topics are one list for everyone",
}
# The apps whose rows must not change when a request is refused.
DOMAIN_APPS = ["curriculum", "programs", "trainees", "training", "cases", "assessments", "verification", "core"]
FORM_MODULES = ["programs.forms", "cases.forms", "training.views", "verification.forms", "cases.views.io"]


@dataclass
class Side:
    """One program with its people and objects."""

    program: object
    director: object
    mentor: object
    enrollment: object
    session: object
    review_session: object
    draft: object
    signed: object
    submitted: object
    sign_off: object


def _side(program, director, mentor, enrollment) -> Side:
    session = TrainingSession.objects.create(
        program=program,
        type="live_acquisition",
        delivery="virtual_two_way",
        title="Live acquisition, console shared",
        mentor=mentor,
        starts_at=timezone.now() - datetime.timedelta(days=1),
        duration_minutes=60,
        console_shared=True,
    )
    Attendance.objects.create(session=session, enrollment=enrollment, active_input=True)
    review_session = TrainingSession.objects.create(
        program=program,
        type="case_review",
        delivery="in_person",
        title="Case review",
        mentor=mentor,
        starts_at=timezone.now() + datetime.timedelta(days=1),
        duration_minutes=60,
    )
    entry = {"enrollment": enrollment, "supervising_mentor": mentor}
    signed = EntryFactory(**entry, signed=True)
    sign_off = SignOff.objects.create(
        enrollment=enrollment,
        competency=Competency.objects.get(code="report-writing"),
        signer=director,
        signed_on=timezone.localdate(),
        delivery="virtual",
        entrustment_level=3,
    )
    sign_off.evidence_entries.add(signed)
    return Side(
        program=program,
        director=director,
        mentor=mentor,
        enrollment=enrollment,
        session=session,
        review_session=review_session,
        draft=EntryFactory(**entry),
        signed=signed,
        submitted=EntryFactory(**entry, submitted=True),
        sign_off=sign_off,
    )


@pytest.fixture
def sides(director, program, mentor, enrollment):
    mine = _side(program, director, mentor, enrollment)
    other_director = UserFactory(institution="Elsewhere Clinic")
    other_program = ProgramFactory(director=other_director, institution="Elsewhere Clinic")
    other_mentor = UserFactory(institution="Elsewhere Clinic")
    MembershipFactory(user=other_mentor, program=other_program, role=Membership.Role.MENTOR)
    other_enrollment = EnrollmentFactory(program=other_program, mentors=[other_mentor])
    theirs = _side(other_program, other_director, other_mentor, other_enrollment)
    return mine, theirs


def _entry_body(side: Side, **override) -> dict:
    body = {
        "reference": "FOREIGN-ID-1",
        "performed_on": (timezone.localdate() - datetime.timedelta(days=2)).isoformat(),
        "roles": ["interpreted", "assisted_console"],
        "delivery": "virtual_live_two_way",
        "categories": ["cardiomyopathy"],
        "supervising_mentor": side.mentor.pk,
        "session": side.session.pk,
        "impression": "Dilated cardiomyopathy.",
    }
    return {**body, **override}


# --- the API: one case per write operation that carries ids -----------------------------------------------------------

# (method, path template) -> (who sends it, the path's id, the valid body with the sender's own ids). `ids` is a
# function of (mine, theirs-or-None): with `theirs`, the field under test takes the other program's id.
API_ID_VALUES = {
    "session": lambda s: s.session.pk,
    "supervising_mentor": lambda s: s.mentor.pk,
    "mentor": lambda s: s.mentor.pk,
    "program": lambda s: s.program.pk,
    "enrollment": lambda s: s.enrollment.pk,
    "ids": lambda s: [s.submitted.pk],
    # Who supervised a stress study in person: a mentor or the director of the entry's program.
    "stress_supervisor": lambda s: s.director.pk,
    # A sign-off's evidence: the trainee's signed entries and the sessions they attended.
    "evidence_entries": lambda s: [s.signed.pk],
    "evidence_sessions": lambda s: [s.session.pk],
}
API_CASES = {
    ("POST", "/api/v1/case-logs/"): ("trainee", None, lambda s: _entry_body(s)),
    ("PUT", "/api/v1/case-logs/{id}/"): ("trainee", "draft", lambda s: _entry_body(s)),
    ("PATCH", "/api/v1/case-logs/{id}/"): ("trainee", "draft", lambda s: _entry_body(s)),
    ("POST", "/api/v1/case-logs/{id}/amend/"): (
        "trainee",
        "signed",
        lambda s: {**_entry_body(s), "roles": ["interpreted"], "reason": "Wrong roles."},
    ),
    ("POST", "/api/v1/case-logs/sign-batch/"): ("mentor", None, lambda s: {"ids": [s.submitted.pk], "feedback": "OK"}),
    ("POST", "/api/v1/sessions/"): (
        "director",
        None,
        lambda s: {
            "program": s.program.pk,
            "type": "case_review",
            "delivery": "in_person",
            "title": "Case review",
            "mentor": s.mentor.pk,
            "starts_at": (timezone.now() + datetime.timedelta(days=2)).isoformat(),
            "duration_minutes": 30,
        },
    ),
    ("POST", "/api/v1/verification-requests/"): ("director", None, lambda s: {"enrollment": s.enrollment.pk}),
    ("POST", "/api/v1/sign-offs/"): ("mentor", None, lambda s: _sign_off_body(s, enrollment=s.enrollment.pk)),
    ("POST", "/api/v1/sign-offs/{id}/amend/"): (
        "mentor",
        "sign_off",
        lambda s: _sign_off_body(s, entrustment_level=4, reason="Observed twenty more reports."),
    ),
}


def _sign_off_body(side: Side, **extra) -> dict:
    body = {
        "competency": "vascular",
        "signed_on": timezone.localdate().isoformat(),
        "delivery": "virtual",
        "entrustment_level": 3,
        "evidence_entries": [side.signed.pk],
        "evidence_sessions": [side.session.pk],
    }
    return {**body, **extra}


def _write_operations() -> list[tuple[str, str, set[str]]]:
    """(method, path, id fields) of every write operation of the API, from its OpenAPI schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            body = next(iter(content.values()), {}).get("schema", {})
            if "$ref" in body:
                body = components[body["$ref"].split("/")[-1]]
            ids = set()
            for name, prop in body.get("properties", {}).items():
                integer = prop.get("type") == "integer"
                integers = prop.get("type") == "array" and prop.get("items", {}).get("type") == "integer"
                if (integer or integers) and name not in NUMBERS:
                    ids.add(name)
            found.append((method.upper(), path, ids))
    return found


def _api_params():
    return [
        pytest.param(method, path, field, id=f"{method} {path} {field}")
        for method, path, fields in _write_operations()
        for field in sorted(fields)
    ]


def _users(sides) -> dict:
    mine, _ = sides
    return {"trainee": mine.enrollment.trainee, "mentor": mine.mentor, "director": mine.director}


def _state() -> dict:
    """Every row of the domain apps: what 'nothing saved' is compared against."""
    state = {}
    for label in DOMAIN_APPS:
        for model in apps.get_app_config(label).get_models():
            state[model._meta.label] = sorted(map(repr, model.objects.order_by().values_list()))
    return state


class _Rollback(Exception):
    pass


def _accepted_then_rolled_back(send) -> int:
    """Send the request inside a savepoint and undo whatever it saved; return its status."""
    status = None
    try:
        with transaction.atomic():
            status = send().status_code
            raise _Rollback
    except _Rollback:
        pass
    return status


@pytest.mark.parametrize("method,path,field", _api_params())
def test_api_refuses_an_id_of_another_program(sides, method, path, field):
    mine, theirs = sides
    role, target, body = API_CASES[(method, path)]
    client = APIClient()
    client.force_login(_users(sides)[role])
    url = path.replace("{id}", str(getattr(mine, target).pk)) if target else path

    def send(payload):
        return getattr(client, method.lower())(url, payload, format="json")

    valid = body(mine)
    own = _accepted_then_rolled_back(lambda: send(valid))
    assert own in (200, 201, 202), f"the request with the user's own ids must be accepted (got {own})"

    before = _state()
    foreign = {**valid, field: API_ID_VALUES[field](theirs)}
    response = send(foreign)
    assert response.status_code in (400, 404) or _nothing_done(response), (response.status_code, response.content)
    assert _state() == before, "a refused request saved something"


def _nothing_done(response) -> bool:
    """sign-batch answers 200 with every id listed as not in the caller's inbox: nothing signed."""
    data = response.json() if response.status_code == 200 else {}
    return data.get("signed") == [] and bool(data.get("skipped") or data.get("not_reviewable"))


def test_every_id_field_is_covered():
    for method, path, fields in _write_operations():
        uncovered = fields - set(API_ID_VALUES)
        assert not uncovered, f"{method} {path}: add a foreign-id case for {sorted(uncovered)}"
        if fields:
            assert (method, path) in API_CASES, f"{method} {path} sends ids {sorted(fields)}: add it to API_CASES"
    for form_class, field in _form_fields():
        key = f"{form_class.__name__}.{field}"
        assert key in FORM_CASES or field in SHARED, f"{key}: add a foreign-id case for this form field"


# --- the HTML forms ----------------------------------------------------------------------------------------------------


def _form_fields() -> list[tuple[type, str]]:
    """(form class, field) for every ModelChoiceField (single or multiple) of the forms the three roles use."""
    found = []
    for module_name in FORM_MODULES:
        module = importlib.import_module(module_name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, forms.BaseForm) and obj.__module__ == module_name:
                for name, field in obj.base_fields.items():
                    if isinstance(field, forms.ModelChoiceField):
                        found.append((obj, name))
    return found


def _entry_form(s: Side) -> dict:
    body = _entry_body(s)
    return {
        **body,
        "categories": [_topic_id("cardiomyopathy")],
        "source": "center_archive",
        "complete_study": "on",
        "field_strength": "1.5T",
    }


def _topic_id(slug: str) -> int:
    return apps.get_model("curriculum", "Category").objects.get(slug=slug).pk


# "Form.field" -> [(who, url of the side, valid form data of the side, the field's value on a side)]
FORM_CASES = {
    "EntryForm.session": [
        ("trainee", lambda s: reverse("cases:create"), _entry_form, lambda s: s.session.pk),
        ("trainee", lambda s: reverse("cases:edit", args=[s.draft.pk]), _entry_form, lambda s: s.session.pk),
    ],
    "EntryForm.supervising_mentor": [
        ("trainee", lambda s: reverse("cases:create"), _entry_form, lambda s: s.mentor.pk),
        (
            "trainee",
            lambda s: reverse("cases:amend", args=[s.signed.pk]),
            lambda s: {**_entry_form(s), "roles": ["interpreted"], "reason": "Wrong roles."},
            lambda s: s.mentor.pk,
        ),
    ],
    "EntryForm.stress_supervisor": [
        ("trainee", lambda s: reverse("cases:create"), _entry_form, lambda s: s.director.pk),
    ],
    "InvitationForm.mentor": [
        (
            "director",
            lambda s: reverse("programs:invitation_create", args=[s.program.pk]),
            lambda s: {"email": "new.trainee@example.test", "role": "trainee", "mentor": s.mentor.pk},
            lambda s: s.mentor.pk,
        )
    ],
    "AssignMentorForm.mentor": [
        (
            "director",
            lambda s: reverse("programs:assign_mentor", args=[s.program.pk, s.enrollment.pk]),
            lambda s: {"mentor": s.mentor.pk},
            lambda s: s.mentor.pk,
        )
    ],
    "BatchSignForm.entries": [
        (
            "mentor",
            lambda s: reverse("cases:sign_batch"),
            lambda s: {"entries": [s.submitted.pk], "mentor_feedback": "OK", "confirm": "yes"},
            lambda s: [s.submitted.pk],
        )
    ],
    "GroupReviewForm.enrollments": [
        (
            "mentor",
            lambda s: reverse("cases:group_review_create"),
            lambda s: {
                "reference": "GROUP-1",
                "performed_on": timezone.localdate().isoformat(),
                "source": "center_archive",
                "delivery": "in_person",
                "categories": [_topic_id("cardiomyopathy")],
                "enrollments": [s.enrollment.pk],
            },
            lambda s: [s.enrollment.pk],
        )
    ],
    "SessionForm.mentor": [
        (
            "director",
            lambda s: reverse("sessions:create", args=[s.program.pk]),
            lambda s: {
                "title": "Case review",
                "type": "case_review",
                "delivery": "in_person",
                "mentor": s.mentor.pk,
                "starts_at": (timezone.localtime() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
                "duration_minutes": 30,
            },
            lambda s: s.mentor.pk,
        )
    ],
    "AddAttendeeForm.enrollment": [
        (
            "mentor",
            lambda s: reverse("sessions:add_attendee", args=[s.review_session.pk]),
            lambda s: {"enrollment": _new_active_enrollment(s).pk},
            lambda s: s.enrollment.pk,
        )
    ],
}


def _new_active_enrollment(s: Side):
    """A trainee of the side's program who is not attending the side's session yet."""
    return EnrollmentFactory(program=s.program)


def _form_params():
    return [
        pytest.param(key, index, id=f"{key}[{index}]")
        for key, cases in FORM_CASES.items()
        for index in range(len(cases))
    ]


@pytest.mark.parametrize("key,index", _form_params())
def test_form_refuses_an_id_of_another_program(client, sides, key, index):
    mine, theirs = sides
    role, url, data, value = FORM_CASES[key][index]
    field = key.split(".")[1]
    client.force_login(_users(sides)[role])

    own = _accepted_then_rolled_back(lambda: client.post(url(mine), data(mine)))
    assert own == 302, f"the form with the user's own ids must be accepted (got {own})"

    valid = data(mine)
    before = _state()
    response = client.post(url(mine), {**valid, field: value(theirs)})
    assert response.status_code in (400, 404), response.status_code
    assert _state() == before, "a refused form saved something"


# --- the CSV import ------------------------------------------------------------------------------------------------


def test_import_refuses_a_mentor_of_another_program(sides):
    mine, theirs = sides
    header = "date,reference,categories,roles,delivery,supervising_mentor,impression\n"
    row = f"{timezone.localdate().isoformat()},IMPORT-1,cardiomyopathy,interpreted,in_person,{{mentor}},Normal.\n"
    before = _state()
    for mentor, ok in ((theirs.mentor, False), (mine.mentor, True)):
        parsed = importing.read_csv((header + row.format(mentor=mentor.email)).encode())
        report = importing.run_import(
            actor=mine.enrollment.trainee, enrollment=mine.enrollment, parsed=parsed, dry_run=True
        )
        assert report.ok is ok, [r.errors for r in report.rows]
        if not ok:
            assert any(name == "supervising_mentor" for r in report.rows for name, _ in r.errors)
    assert _state() == before  # a dry run saves nothing either way


# --- the services themselves, called as a script or a future view would -----------------------------------------------


def test_entry_service_refuses_another_programs_session_and_mentor(sides):
    from django.core.exceptions import ValidationError

    from cases import services

    mine, theirs = sides
    trainee = mine.enrollment.trainee
    fields = {
        "performed_on": timezone.localdate(),
        "interpreted": True,
        "delivery": "virtual_live_two_way",
        "impression": "Normal.",
        "reference": "SERVICE-1",
        "source": "center_archive",
        "complete_study": True,
        "indication": "",
        "categories": list(apps.get_model("curriculum", "Category").objects.filter(slug="cardiomyopathy")),
    }
    before = _state()
    with pytest.raises(ValidationError) as refused:
        services.entry_create(
            actor=trainee, enrollment=mine.enrollment, supervising_mentor=mine.mentor, session=theirs.session, **fields
        )
    assert "session" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.entry_create(
            actor=trainee, enrollment=mine.enrollment, supervising_mentor=theirs.mentor.pk, session=None, **fields
        )
    assert "supervising_mentor" in refused.value.message_dict
    assert _state() == before
