"""The dossier job's lease and outbox, without a worker: a dead claim is taken over, a live one is left alone, the
final write survives a dropped database connection, and a message never sent is sent by the sweeper."""

import datetime
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from verification.models import VerificationRequest
from verification.services import dossiers as services

from ..factories import EntryFactory, VerificationRequestFactory

Status = VerificationRequest.Status


@pytest.fixture
def signed(enrollment, mentor):
    return EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)


def _generating(enrollment, *, heartbeat_ago: float):
    now = timezone.now()
    return VerificationRequestFactory(
        enrollment=enrollment,
        status=Status.GENERATING,
        attempts=1,
        started_at=now - datetime.timedelta(seconds=heartbeat_ago + 1),
        heartbeat_at=now - datetime.timedelta(seconds=heartbeat_ago),
        dispatched_at=now,
    )


@pytest.mark.django_db
def test_a_redelivered_message_takes_over_a_dead_claim(enrollment, signed, settings):
    vr = _generating(enrollment, heartbeat_ago=settings.DOSSIER_LEASE_SECONDS + 5)  # its worker was killed

    services.verification_request_generate(pk=vr.pk)

    vr.refresh_from_db()
    assert vr.status == Status.READY and vr.sha256 and vr.attempts == 2


@pytest.mark.django_db
def test_a_redelivered_message_leaves_a_live_claim_alone(enrollment, signed, settings):
    vr = _generating(enrollment, heartbeat_ago=1)  # another worker is rendering it now

    services.verification_request_generate(pk=vr.pk)

    vr.refresh_from_db()
    assert vr.status == Status.GENERATING and vr.attempts == 1 and not vr.sha256


@pytest.mark.django_db(transaction=True)
def test_the_final_write_is_retried_on_a_fresh_connection(enrollment, signed):
    vr = VerificationRequestFactory(enrollment=enrollment)
    real = services._mark_ready
    calls = []

    def dropped_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    with mock.patch.object(services, "_mark_ready", dropped_once), mock.patch.object(services.time, "sleep"):
        services.verification_request_generate(pk=vr.pk)

    vr.refresh_from_db()
    assert len(calls) == 2
    assert vr.status == Status.READY and len(vr.sha256) == 64  # not "generating" without a hash


@pytest.mark.django_db
def test_the_sweeper_sends_a_message_that_never_reached_the_broker_and_a_dead_claim_at_once(
    enrollment, other_enrollment, settings, django_capture_on_commit_callbacks
):
    never_sent = VerificationRequestFactory(enrollment=enrollment)  # queued, dispatched_at empty
    dead = _generating(other_enrollment, heartbeat_ago=settings.DOSSIER_LEASE_SECONDS + 1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        swept = services.verification_requests_sweep_stuck()

    assert sorted(swept) == sorted([never_sent.pk, dead.pk])
    assert len(callbacks) == 2
    dead.refresh_from_db()
    assert dead.status == Status.QUEUED
