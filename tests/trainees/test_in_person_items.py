"""The trainee's page lists the in-person-required competencies with their status (issue 5, item 7)."""

import datetime

import pytest
from django.urls import reverse

from assessments.models import Competency, SignOff
from assessments.selectors import in_person_items

pytestmark = pytest.mark.django_db


def _status(enrollment) -> dict[str, str]:
    return {item["competency"].code: item["status"] for item in in_person_items(enrollment)}


def test_the_seeded_in_person_competencies_start_as_not_yet(enrollment):
    assert _status(enrollment) == {"cied-scanning": "not_yet", "stress-testing": "not_yet"}


def test_a_virtual_sign_off_does_not_count_an_in_person_one_does(enrollment, mentor, client):
    stress = Competency.objects.get(code="stress-testing")
    cied = Competency.objects.get(code="cied-scanning")
    today = datetime.date.today()
    SignOff.objects.create(enrollment=enrollment, competency=stress, signer=mentor, signed_on=today, delivery="virtual")
    SignOff.objects.create(enrollment=enrollment, competency=cied, signer=mentor, signed_on=today, delivery="in_person")
    assert _status(enrollment) == {"cied-scanning": "in_person", "stress-testing": "virtual_only"}
    client.force_login(enrollment.trainee)
    page = client.get(reverse("trainees:progress", args=[enrollment.pk])).content.decode()
    assert "signed virtually only" in page and "signed in person" in page
