"""The trainee's page lists the in-person-required competencies with their status: signed in person, signed only
virtually (which does not count), or not yet."""

import datetime

import pytest
from django.urls import reverse

from assessments.selectors import in_person_items

from ..factories import SignOffFactory

pytestmark = pytest.mark.django_db


def _status(enrollment) -> dict[str, str]:
    return {item["competency"].code: item["status"] for item in in_person_items(enrollment)}


def test_the_seeded_in_person_competencies_start_as_not_yet(enrollment):
    assert _status(enrollment) == {"cied-scanning": "not_yet", "stress-testing": "not_yet"}


def test_a_virtual_sign_off_does_not_count_an_in_person_one_does(enrollment, mentor, client):
    today = datetime.date.today()
    SignOffFactory(
        enrollment=enrollment, competency_code="stress-testing", signer=mentor, signed_on=today, delivery="virtual"
    )
    SignOffFactory(
        enrollment=enrollment, competency_code="cied-scanning", signer=mentor, signed_on=today, delivery="in_person"
    )
    assert _status(enrollment) == {"cied-scanning": "in_person", "stress-testing": "virtual_only"}
    client.force_login(enrollment.trainee)
    page = client.get(reverse("trainees:progress", args=[enrollment.pk])).content.decode()
    assert "signed virtually only" in page and "signed in person" in page
