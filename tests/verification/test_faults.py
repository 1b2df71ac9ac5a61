"""Faults injected against real services: a Redis of the test's own that it stops and starts, a real worker it kills,
the broker down when a dossier is requested. Nothing stays "generating", nothing is lost, the worker survives.

Each test starts its own redis-server on a free port (never the shared one) and a real worker
(tests/test_worker_integration.py) against the test database. The render is slowed down (DOSSIER_RENDER_DELAY_SECONDS,
a test-only setting) so that the fault lands mid-render; the lease is short so that recovery takes seconds.
"""

import shutil
import signal
import socket
import subprocess
import time
from contextlib import closing

import pytest
import redis
from django.db import transaction

from trainingportal.celery import app as celery_app
from verification.models import VerificationRequest
from verification.services.dossiers import verification_request_create, verification_requests_sweep_stuck

from ..factories import EntryFactory
from ..test_worker_integration import _drop_producer_pool, celery_worker

Status = VerificationRequest.Status
RENDER_DELAY = 6  # seconds the worker pauses inside the render
LEASE = 3  # seconds without a heartbeat after which a claim is dead

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A redis-server for one test: no persistence, 127.0.0.1 only; stop() and start() on the same port."""

    def __init__(self, tmp_path):
        self.port, self.dir, self.process = _free_port(), tmp_path, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)  # as a crash: no goodbye to the clients
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path, settings, monkeypatch):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    server.start()
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("DOSSIER_RENDER_DELAY_SECONDS", str(RENDER_DELAY))  # the worker's environment
    monkeypatch.setenv("DOSSIER_LEASE_SECONDS", str(LEASE))
    settings.DOSSIER_LEASE_SECONDS = LEASE
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = server.url
    saved = {"task_always_eager": celery_app.conf.task_always_eager, "broker_url": celery_app.conf.broker_url}
    _drop_producer_pool()
    celery_app.conf.update(task_always_eager=False, broker_url=server.url)
    try:
        yield server
    finally:
        celery_app.conf.update(saved)
        _drop_producer_pool()
        server.stop()


def _wait(pk: int, statuses, *, timeout: float, process=None) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = VerificationRequest.objects.values_list("status", flat=True).get(pk=pk)
        if status in statuses:
            return status
        if process is not None:
            assert process.poll() is None, f"the worker exited with code {process.returncode}"
        assert time.monotonic() < deadline, f"the dossier is still {status} after {timeout} s"
        time.sleep(0.1)


def _ping(name: str) -> list:
    # A new connection: the app's pooled one may still point at the Redis that was killed.
    with celery_app.connection_for_write() as conn:
        return celery_app.control.ping(destination=[name], timeout=1, connection=conn)


@pytest.fixture
def signed_entries(enrollment, mentor):
    return [
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True) for _ in range(5)
    ]  # one part: see the report


def test_worker_survives_redis_dropping_mid_render_and_the_dossier_completes(
    own_redis, settings, director, enrollment, signed_entries, tmp_path
):
    # As docker compose runs it: prefork (the main process keeps the broker connection while a child renders), with
    # heartbeat, gossip and mingle.
    log_path = tmp_path / "w.log"
    with celery_worker(
        broker_url=own_redis.url, media_root=settings.MEDIA_ROOT, log_path=log_path, pool="prefork", without=()
    ) as (
        name,
        process,
    ):
        with transaction.atomic():
            vr = verification_request_create(actor=director, enrollment=enrollment)
        _wait(vr.pk, {Status.GENERATING}, timeout=30, process=process)

        own_redis.stop()
        time.sleep(2)
        own_redis.start()

        assert _wait(vr.pk, {Status.READY, Status.FAILED}, timeout=90, process=process) == Status.READY
        assert "Unrecoverable error" not in log_path.read_text(errors="replace")
        time.sleep(3)  # the worker reconnects after the render; it must still be there
        assert process.poll() is None, f"the worker exited with code {process.returncode}"
        deadline = time.monotonic() + 30
        while not _ping(name):
            assert process.poll() is None, f"the worker exited with code {process.returncode}"
            assert time.monotonic() < deadline, "the worker did not answer a ping after Redis came back"


def test_killed_worker_claim_is_taken_over_by_the_next_worker_at_once(
    own_redis, settings, director, enrollment, signed_entries, tmp_path
):
    with celery_worker(broker_url=own_redis.url, media_root=settings.MEDIA_ROOT, log_path=tmp_path / "a.log") as (
        _,
        process,
    ):
        with transaction.atomic():
            vr = verification_request_create(actor=director, enrollment=enrollment)
        _wait(vr.pk, {Status.GENERATING}, timeout=30, process=process)
        process.send_signal(signal.SIGKILL)  # mid-render: its message stays unacknowledged for visibility_timeout
        process.wait(timeout=10)
    assert VerificationRequest.objects.get(pk=vr.pk).status == Status.GENERATING
    time.sleep(LEASE + 1)

    started = time.monotonic()
    # The next worker sweeps at start (worker_ready): the dead claim is re-queued and rendered; no beat, no 15 minutes.
    with celery_worker(broker_url=own_redis.url, media_root=settings.MEDIA_ROOT, log_path=tmp_path / "b.log") as (
        _,
        process,
    ):
        assert _wait(vr.pk, {Status.READY, Status.FAILED}, timeout=90, process=process) == Status.READY
    print(f"taken over and ready {time.monotonic() - started:.1f} s after the second worker started")
    vr.refresh_from_db()
    assert vr.attempts == 2 and vr.sha256


def test_a_request_made_while_the_broker_is_down_is_sent_when_it_returns(
    own_redis, settings, director, enrollment, signed_entries, tmp_path
):
    own_redis.stop()

    with transaction.atomic():  # before the fix: the message was sent on commit and raised (HTTP 500, orphan row)
        vr = verification_request_create(actor=director, enrollment=enrollment)

    vr.refresh_from_db()
    assert vr.status == Status.QUEUED and vr.dispatched_at is None  # saved in the outbox, not lost

    own_redis.start()
    with celery_worker(broker_url=own_redis.url, media_root=settings.MEDIA_ROOT, log_path=tmp_path / "w.log") as (
        _,
        process,
    ):
        assert _wait(vr.pk, {Status.READY, Status.FAILED}, timeout=90, process=process) == Status.READY
    vr.refresh_from_db()
    assert vr.dispatched_at is not None
    assert verification_requests_sweep_stuck() == []


def test_healthz_tells_redis_up_at_once_after_it_restarts(own_redis, client):
    assert client.get("/healthz").json()["broker"] == "ok"  # the process has used (and pooled) a connection

    own_redis.stop()
    own_redis.start()  # restarted between two checks, as a deploy or a failover does

    data = client.get("/healthz").json()  # before the fix: "error: ConnectionError" once, from the stale connection
    assert data["broker"] == "ok", data
    assert data["database"] == "ok"

    own_redis.stop()
    assert client.get("/healthz").json()["broker"].startswith("error")  # a real outage is still told
