"""SCMR reviewers read a trainee's record only through the dossier put before them (the verification app), never
through the training-data pages and endpoints, and never of a program of their own institution."""

import pytest
from django.urls import reverse

from .factories import EntryFactory, UserFactory, VerificationRequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_entry(enrollment, mentor):
    return EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)


def _training_data(enrollment, entry):
    return [
        reverse("programs:detail", args=[enrollment.program_id]),
        reverse("trainees:progress", args=[enrollment.pk]),
        reverse("cases:detail", args=[entry.pk]),
        f"/api/v1/enrollments/{enrollment.pk}/",
        f"/api/v1/enrollments/{enrollment.pk}/progress/",
        f"/api/v1/case-logs/{entry.pk}/",
    ]


@pytest.mark.parametrize("status", ["ready", "submitted", "verified"])
def test_reviewer_never_reads_training_data_directly(client, reviewer, enrollment, signed_entry, status):
    VerificationRequestFactory(enrollment=enrollment, status=status, sha256="0" * 64)
    client.force_login(reviewer)
    for url in _training_data(enrollment, signed_entry):
        assert client.get(url).status_code == 404, url
    assert client.get("/api/v1/case-logs/").json()["count"] == 0
    assert client.get("/api/v1/enrollments/").json()["count"] == 0


def test_reviewer_reads_a_submitted_dossier(client, reviewer, enrollment, signed_entry):
    vr = VerificationRequestFactory(enrollment=enrollment, status="submitted", sha256="0" * 64)
    client.force_login(reviewer)
    assert client.get(reverse("dossiers:detail", args=[vr.pk])).status_code == 200
    assert [r["id"] for r in client.get("/api/v1/verification-requests/").json()["results"]] == [vr.pk]


def test_reviewer_of_the_same_institution_is_an_outsider(client, enrollment, signed_entry):
    from allauth.mfa.totp.internal.auth import TOTP

    from .conftest import TOTP_SECRET

    conflicted = UserFactory(is_reviewer=True, institution=enrollment.program.institution.upper())
    TOTP.activate(conflicted, TOTP_SECRET)
    vr = VerificationRequestFactory(enrollment=enrollment, status="submitted", sha256="0" * 64)
    client.force_login(conflicted)
    for url in [*_training_data(enrollment, signed_entry), reverse("dossiers:detail", args=[vr.pk])]:
        assert client.get(url).status_code == 404, url
