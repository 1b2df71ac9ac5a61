"""Fast entry: the create form starts from the trainee's last entry; "log another like this" copies one of the
trainee's entries except its reference and read; "submit and log another" leads to that copy."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseLogEntry
from curriculum.models import Category

from ..factories import EntryFactory, SessionFactory
from .helpers import _entry_form_data, web

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status


@pytest.fixture
def session(program, mentor):
    return SessionFactory(
        program=program,
        title="Cardiomyopathy case review",
        mentor=mentor,
        starts_at=timezone.now() - datetime.timedelta(days=2),
    )


@pytest.fixture
def last_entry(enrollment, mentor, session):
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, case__reference="OLD-0001")
    return EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        case__reference="LAST-0001",
        case__source=Case.Source.REGISTRY,
        case__complete_study=False,
        case__indication="Palpitations",
        case__sequences=["cine", "t1_mapping"],
        case__field_strength="3T",
        case__categories=["cardiomyopathy", "fibrosis-edema"],
        interpreted=False,
        observed_in_room=True,
        protocolled=True,
        delivery=CaseLogEntry.Delivery.ASYNCHRONOUS,
        session=session,
        lvef=61,
        lv_edvi=77,
        lge_pattern="mid_wall",
        final_diagnosis="Myocarditis",
        key_measurements="T1 1080 ms",
    )


def test_create_form_starts_from_the_trainees_last_entry(last_entry, trainee, mentor, session):
    response = web(trainee).get(reverse("cases:create"))

    assert response.status_code == 200
    form = response.context["form"]
    assert form["supervising_mentor"].value() == mentor.pk
    assert form["delivery"].value() == "asynchronous"
    assert form["session"].value() == session.pk
    assert form["source"].value() == "registry"
    assert form["roles"].value() == ["observed_in_room", "protocolled"]
    assert form["reference"].value() is None
    assert form["lvef"].value() is None


def test_create_form_without_a_previous_entry_uses_the_plain_defaults(enrollment, trainee):
    form = web(trainee).get(reverse("cases:create")).context["form"]

    assert form["roles"].value() == ["interpreted"] and form["delivery"].value() == "in_person"


def test_log_another_like_this_prefills_all_but_the_reference_and_the_read(last_entry, trainee, mentor, session):
    response = web(trainee).get(reverse("cases:create") + f"?like={last_entry.pk}")

    assert response.status_code == 200
    form = response.context["form"]
    assert form["source"].value() == "registry"
    assert form["complete_study"].value() is False
    assert form["indication"].value() == "Palpitations"
    chosen = Category.objects.filter(pk__in=[getattr(c, "pk", c) for c in form["categories"].value()])
    assert sorted(chosen.values_list("slug", flat=True)) == ["cardiomyopathy", "fibrosis-edema"]
    assert form["sequences"].value() == ["cine", "t1_mapping"]
    assert form["field_strength"].value() == "3T"
    assert form["roles"].value() == ["observed_in_room", "protocolled"]
    assert form["delivery"].value() == "asynchronous"
    assert form["supervising_mentor"].value() == mentor.pk
    assert form["session"].value() == session.pk
    assert form["performed_on"].value() == last_entry.performed_on
    for blank in ("reference", "findings", "impression", "key_measurements", *CaseLogEntry.READ_FIELDS):
        assert form[blank].value() is None, blank
    reference_input = re.search(r'<input[^>]*name="reference"[^>]*>', response.content.decode()).group(0)
    assert "value=" not in reference_input


def test_log_another_like_another_trainees_entry_is_refused(enrollment, trainee, other_enrollment, mentor, outsider):
    theirs = EntryFactory(enrollment=other_enrollment, supervising_mentor=mentor, case__indication="Their indication")
    elsewhere = EntryFactory(case__indication="Elsewhere indication")

    response = web(trainee).get(reverse("cases:create") + f"?like={theirs.pk}")
    assert response.status_code in (403, 404)
    assert b"Their indication" not in response.content
    response = web(trainee).get(reverse("cases:create") + f"?like={elsewhere.pk}")
    assert response.status_code == 404
    assert b"Elsewhere indication" not in response.content


def test_submit_and_log_another_like_this_redirects_to_a_prefilled_form(enrollment, trainee, mentor):
    client = web(trainee)

    response = client.post(reverse("cases:create"), _entry_form_data(mentor, action="submit_another"))

    entry = CaseLogEntry.objects.get(case__reference="WEB-0001")
    assert entry.status == Status.SUBMITTED
    assert response.status_code == 302 and response.url == f"{reverse('cases:create')}?like={entry.pk}"
    form = client.get(response.url).context["form"]
    assert form["indication"].value() == "Breathlessness" and form["reference"].value() is None
