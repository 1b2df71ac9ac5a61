"""Idempotency-Key on API creates, on real PostgreSQL commits (transactional tests): a retry with the same key returns
the first answer and stores nothing new, also when the first answer was lost after the commit; another body → 422."""

import datetime
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.views import APIView

from cases.models import CaseLogEntry
from trainingportal.core.models import IdempotencyKey

from ..conftest import api_as

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/case-logs/"


@pytest.fixture
def payload(enrollment, mentor):
    return {
        "reference": "IDEM-1",
        "categories": ["cardiomyopathy"],
        "performed_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "roles": ["interpreted"],
        "delivery": "in_person",
        "supervising_mentor": mentor.pk,
        "impression": "Amyloid pattern.",
    }


def test_a_retry_with_the_same_key_returns_the_first_answer_and_stores_one_entry(trainee, payload):
    client = api_as(trainee)

    first = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201, first.content
    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert CaseLogEntry.objects.filter(enrollment__trainee=trainee).count() == 1


def test_the_same_key_with_another_body_is_refused(trainee, payload):
    client = api_as(trainee)
    assert client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201

    response = client.post(URL, {**payload, "impression": "Other."}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert response.status_code == 422
    assert CaseLogEntry.objects.filter(enrollment__trainee=trainee).count() == 1


def test_without_a_key_each_post_creates(trainee, payload):
    client = api_as(trainee)
    assert client.post(URL, payload, format="json").status_code == 201
    assert client.post(URL, {**payload, "reference": "IDEM-2"}, format="json").status_code == 201
    assert CaseLogEntry.objects.filter(enrollment__trainee=trainee).count() == 2


def test_an_answer_lost_after_the_commit_is_returned_on_retry(trainee, payload):
    """The fault: the entry is committed, then the response never reaches the client (here: the response path
    raises, as a dropped connection would). Before: the retry stored a second entry that counted twice."""
    client = api_as(trainee)
    original = APIView.finalize_response

    def lost(self, request, response, *args, **kwargs):
        raise ConnectionResetError("connection dropped after commit")

    with mock.patch.object(APIView, "finalize_response", lost), pytest.raises(ConnectionResetError):
        client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert CaseLogEntry.objects.filter(enrollment__trainee=trainee).count() == 1  # it was saved

    retry = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-3")

    assert APIView.finalize_response is original
    assert retry.status_code == 201, retry.content
    entry = CaseLogEntry.objects.get(enrollment__trainee=trainee)
    assert retry.json()["id"] == entry.pk


def test_a_refused_create_is_not_remembered(trainee, payload):
    client = api_as(trainee)
    bad = client.post(URL, {**payload, "roles": []}, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.filter(key="k-4").exists()

    assert client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-4").status_code == 201


def test_keys_are_per_user_and_expire(trainee, director, payload, settings):
    client = api_as(trainee)
    assert client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-5").status_code == 201
    IdempotencyKey.objects.filter(key="k-5").update(
        created_at=timezone.now() - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS, minutes=1)
    )

    assert client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-5").status_code == 201  # expired: new
    assert CaseLogEntry.objects.filter(enrollment__trainee=trainee).count() == 2


def test_the_case_entry_form_sent_twice_creates_once(enrollment, trainee, mentor):
    from django.urls import reverse

    from ..cases.helpers import _entry_form_data, web

    client = web(trainee)
    token = client.get(reverse("cases:create")).context["form_token"]
    data = {**_entry_form_data(mentor), "form_token": token}

    first = client.post(reverse("cases:create"), data)
    second = client.post(reverse("cases:create"), data)  # the back button, a double click, a retry

    assert first.status_code == 302 and second.status_code == 302
    assert second.url == first.url
    assert CaseLogEntry.objects.filter(enrollment=enrollment).count() == 1
    assert client.get(reverse("cases:create")).context["form_token"] != token  # the next form gets a new one


def test_the_dossier_request_form_sent_twice_requests_once(enrollment, director, settings):
    from django.test import Client
    from django.urls import reverse

    from verification.models import VerificationRequest

    from ..conftest import login

    settings.CELERY_TASK_ALWAYS_EAGER = False  # keep it queued: the second send would else be refused only by chance
    client = login(Client(), director)
    page = client.get(reverse("dossiers:for_enrollment", args=[enrollment.pk]))
    token = page.context["form_token"]
    url = reverse("dossiers:create", args=[enrollment.pk])

    with mock.patch("verification.services.dossiers._dispatch"):
        first = client.post(url, {"form_token": token})
        VerificationRequest.objects.update(status=VerificationRequest.Status.FAILED)  # no longer "in progress"
        second = client.post(url, {"form_token": token})

    assert first.status_code == second.status_code == 302 and second.url == first.url
    assert VerificationRequest.objects.filter(enrollment=enrollment).count() == 1
