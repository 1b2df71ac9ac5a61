"""The demo's embedded broker (DEMO_BROKER_DIR: kombu's filesystem transport) with a real Celery worker process.

`make demo` without REDIS_URL runs exactly this: the web process and a worker share a folder of message files. Here the
folder is under tmp_path, the worker runs the test settings against this process's test database (PostgreSQL or the
SQLite file) and MEDIA_ROOT, and nothing is shared with other runs, so the test needs no lock and no Redis.

The worker uses the prefork pool, as the demo does: its main process answers pings (/healthz) while a child renders.
"""

import hashlib
import os
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse

from trainingportal.celery import app as celery_app
from trainingportal.settings.base import filesystem_broker_options
from verification.models import VerificationRequest
from verification.services.dossiers import verification_request_create

from ..factories import EntryFactory
from ..test_worker_integration import BASE_DIR, CELERY, _database_url, _drop_producer_pool

WORKER_START_TIMEOUT = 45
RENDER_TIMEOUT = 120
FILESYSTEM_URL = "filesystem://localhost/"

Status = VerificationRequest.Status


@pytest.fixture
def embedded_broker(settings, monkeypatch, tmp_path):
    """A filesystem broker in tmp_path; the in-process Celery app publishes there, not eagerly. Yields its folder."""
    # Saved first: the Celery app reads (copies) the Django settings on first use, which may be now; after the
    # overrides below it would save, and leave behind, this test's values.
    keys = ("task_always_eager", "broker_url", "broker_transport_options")
    saved = {key: celery_app.conf[key] for key in keys}
    directory = tmp_path / "broker"
    options = filesystem_broker_options(directory)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it over the configuration
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = FILESYSTEM_URL
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    _drop_producer_pool()
    celery_app.conf.update(task_always_eager=False, broker_url=FILESYSTEM_URL, broker_transport_options=options)
    try:
        yield directory
    finally:
        celery_app.conf.update(saved)
        _drop_producer_pool()


@contextmanager
def embedded_worker(*, broker_dir: Path, media_root: str, log_path: Path):
    """`celery worker -Q celery,pdf` on the embedded broker, as `make demo` starts it; stopped on the way out."""
    from django.db import connection

    name = f"embedded-test-{uuid.uuid4().hex[:8]}@localhost"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_") and k != "REDIS_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="trainingportal.settings.test",
        CELERY_TASK_ALWAYS_EAGER="false",
        DATABASE_URL=_database_url(connection.settings_dict),
        DEMO_BROKER_DIR=str(broker_dir),
        MEDIA_ROOT=media_root,
        PYTHONUNBUFFERED="1",
    )
    command = [
        str(CELERY), "-A", "trainingportal", "worker", "-Q", "celery,pdf", "-c", "1", "-n", name,
        "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "info",
    ]  # fmt: skip
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    failed = True
    try:
        while not celery_app.control.ping(destination=[name], timeout=0.5):
            if process.poll() is not None:
                pytest.fail(f"the worker exited with code {process.returncode} before answering a ping")
            if time.monotonic() - started > WORKER_START_TIMEOUT:
                pytest.fail(f"the worker did not answer a ping within {WORKER_START_TIMEOUT} s")
        print(f"\nworker on the embedded broker answered a ping {time.monotonic() - started:.1f} s after start")
        yield process
        failed = False
    finally:
        if process.poll() is None:
            process.terminate()  # warm shutdown, as `make demo` stops it
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if failed:
            print(f"\n---- worker log ({log_path}) ----\n{log_path.read_text(errors='replace')}\n---- end ----")


def _messages(folder: Path, queue: str) -> list[Path]:
    return sorted(folder.glob(f"*.{queue}.msg"))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_dossier_through_a_real_worker_on_the_embedded_broker(
    embedded_broker, settings, client, director, mentor, enrollment, tmp_path
):
    for i in range(20):
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, case__reference=f"FS-{i:03d}")
    client.force_login(director)
    queue = embedded_broker / "queue"

    # Requested before any worker runs: the job waits as a file in the broker's folder, and the page says "queued".
    requested = time.monotonic()
    with transaction.atomic():
        vr = verification_request_create(actor=director, enrollment=enrollment)  # enqueued when this block commits
    assert len(_messages(queue, "pdf")) == 1
    status_url = reverse("dossiers:status", args=[vr.pk])
    first = client.get(status_url).json()
    assert first["status"] == Status.QUEUED and first["in_progress"]
    assert first["queued_seconds"] is None and first["generating_seconds"] is None
    assert first["elapsed_seconds"] >= 0
    page = client.get(reverse("dossiers:detail", args=[vr.pk])).content.decode()
    assert f'data-poll="{status_url}"' in page and 'id="vr-progress"' in page and "waiting for the worker" in page

    health = client.get("/healthz").json()
    assert health["broker_transport"] == "filesystem"
    assert (health["status"], health["broker"], health["worker"]) == ("degraded", "ok", "no worker answered")

    with embedded_worker(
        broker_dir=embedded_broker, media_root=settings.MEDIA_ROOT, log_path=tmp_path / "worker.log"
    ) as process:
        phases, health_while_generating = [first["status"]], None
        deadline = time.monotonic() + RENDER_TIMEOUT
        while True:
            data = client.get(status_url).json()
            if data["status"] != phases[-1]:
                phases.append(data["status"])
                print(f"{data['status']} at {time.monotonic() - requested:.2f} s")
            if data["status"] == Status.GENERATING:
                assert data["generating_seconds"] is not None and data["queued_seconds"] is not None
                if health_while_generating is None:
                    health_while_generating = client.get("/healthz").json()
            if not data["in_progress"]:
                break
            assert process.poll() is None, f"the worker exited with code {process.returncode}"
            assert time.monotonic() < deadline, f"the dossier is still {data['status']} after {RENDER_TIMEOUT} s"
            time.sleep(0.1)
        total = time.monotonic() - requested

        vr.refresh_from_db()
        assert phases == [Status.QUEUED, Status.GENERATING, Status.READY], (phases, vr.failure_reason)
        print(f"requested -> ready in {total:.2f} s (render {vr.render_ms} ms); phases seen: {phases}")
        assert data["render_seconds"] == round(vr.render_ms / 1000, 1)
        assert data["elapsed_seconds"] == round((vr.ready_at - vr.created_at).total_seconds(), 1)
        # The worker's main process answers pings while its pool child renders: /healthz is truthful meanwhile.
        if health_while_generating is not None:  # None only if the render was quicker than one poll
            assert health_while_generating["worker"] == "ok", health_while_generating
        assert client.get("/healthz").json()["status"] == "ok"

        # The PDF is where the web process serves it from, and the message was acknowledged (not left to redeliver).
        path = Path(settings.MEDIA_ROOT) / vr.dossier.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == vr.sha256
        download = client.get(reverse("dossiers:download", args=[vr.pk]))
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == vr.sha256
        assert _messages(queue, "pdf") == []
        assert vr.attempts == 1

    assert process.returncode is not None
    assert client.get("/healthz").json()["worker"] == "no worker answered"


@pytest.mark.django_db
def test_healthz_reports_a_missing_embedded_broker_folder(embedded_broker, client):
    (embedded_broker / "control").rmdir()

    response = client.get("/healthz")

    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "down" and data["broker_transport"] == "filesystem"
    assert data["broker"].startswith("error") and data["worker"].startswith("unknown")
