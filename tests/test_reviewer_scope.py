"""SCMR reviewers read training data only once a dossier is put before them, and never of their own institution."""

import pytest
from django.urls import reverse

from .factories import EntryFactory, UserFactory, VerificationRequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_entry(enrollment, mentor):
    return EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)


def _pages(enrollment, entry):
    return [
        reverse("trainees:progress", args=[enrollment.pk]),
        reverse("cases:detail", args=[entry.pk]),
        f"/api/v1/enrollments/{enrollment.pk}/",
        f"/api/v1/case-logs/{entry.pk}/",
    ]


def test_reviewer_cannot_read_an_enrollment_without_a_submitted_dossier(client, reviewer, enrollment, signed_entry):
    VerificationRequestFactory(enrollment=enrollment, status="ready", sha256="0" * 64)
    client.force_login(reviewer)
    for url in _pages(enrollment, signed_entry):
        assert client.get(url).status_code == 404, url
    assert client.get("/api/v1/case-logs/").json()["count"] == 0
    assert client.get("/api/v1/enrollments/").json()["count"] == 0


def test_reviewer_reads_an_enrollment_once_its_dossier_is_submitted(client, reviewer, enrollment, signed_entry):
    VerificationRequestFactory(enrollment=enrollment, status="submitted", sha256="0" * 64)
    client.force_login(reviewer)
    for url in _pages(enrollment, signed_entry):
        assert client.get(url).status_code == 200, url
    assert client.get("/api/v1/case-logs/").json()["count"] == 1


def test_reviewer_of_the_same_institution_is_an_outsider(client, enrollment, signed_entry):
    from allauth.mfa.totp.internal.auth import TOTP

    from .conftest import TOTP_SECRET

    conflicted = UserFactory(is_reviewer=True, institution=enrollment.program.institution.upper())
    TOTP.activate(conflicted, TOTP_SECRET)
    VerificationRequestFactory(enrollment=enrollment, status="submitted", sha256="0" * 64)
    client.force_login(conflicted)
    for url in _pages(enrollment, signed_entry):
        assert client.get(url).status_code == 404, url
