"""The dossier job through a real Celery worker process: commit → Redis → worker → PDF on disk → row marked ready.

Needs Redis (REDIS_URL, default redis://127.0.0.1:6379/0). Without it the test is skipped, except on CI (CI=true),
where it fails: CI must run it. The worker shares this process's test database (the SQLite file tmp/test-db-<pid>.sqlite3,
or test_<name> on PostgreSQL) and MEDIA_ROOT. Its broker is a Redis database of its own (TEST_REDIS_DB), held under
a lock and emptied before and after, so no other run's messages are consumed here and none are left behind.

The worker runs the test settings with CELERY_TASK_ALWAYS_EAGER=false: an eager worker would run retries inline
(Task.retry -> apply_async) instead of re-queueing them.
"""

import hashlib
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import kombu.pools
import pytest
import redis
from django.db import connection, transaction
from pypdf import PdfReader

from cases.models import CaseLogEntry
from trainingportal.celery import app as celery_app
from trainingportal.core.models import AuditEvent
from verification.models import VerificationRequest
from verification.services.dossiers import verification_request_create
from verification.tasks import verification_request_generate

from .factories import EntryFactory

BASE_DIR = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).with_name("celery")
TEST_REDIS_DB = 14
LOCK_KEY = "trainingportal:test-worker-integration:lock"
PDF_QUEUE = "pdf"  # CELERY_TASK_ROUTES sends assessments.tasks.* here
WORKER_START_TIMEOUT = 30
RENDER_TIMEOUT = 90

Status = VerificationRequest.Status


def _test_redis_url() -> str:
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this test must run on CI)")
    pytest.skip(reason)


def _database_url(db: dict) -> str:
    """The URL of the database this process uses now (the test database), for the worker's DATABASE_URL."""
    if db["ENGINE"].endswith("sqlite3"):
        name = str(db["NAME"])
        if not os.path.isabs(name):
            pytest.fail(f"the SQLite test database must be a file another process can open, not {name!r}")
        return f"sqlite:///{name}"
    if db["ENGINE"].endswith("postgresql"):
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = quote(db["HOST"] or "", safe="")  # a socket directory is percent-encoded
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"
    pytest.fail(f"no DATABASE_URL form for {db['ENGINE']}")


def _drop_producer_pool() -> None:
    # The broker connection pool keeps the URL it was made with; drop it whenever broker_url changes.
    # kombu keeps one pool per URL in a process-wide registry, and app.pool is that pool: closing it without clearing
    # the registry hands the closed pool to the next user of the same URL ("Acquire on closed pool").
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _empty_broker_db(client: redis.Redis) -> None:
    keys = [key for key in client.scan_iter() if key != LOCK_KEY.encode()]
    if keys:
        client.delete(*keys)


@pytest.fixture
def broker(settings, monkeypatch):
    """A Redis database for this test only; the in-process Celery app publishes there and not eagerly."""
    url = _test_redis_url()
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 6379}/{TEST_REDIS_DB}"  # no password in messages
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis is not reachable at {where} ({type(exc).__name__}: {exc}); start it or set REDIS_URL")

    token = uuid.uuid4().hex
    deadline = time.monotonic() + 30
    while not client.set(LOCK_KEY, token, nx=True, ex=180):
        if time.monotonic() > deadline:
            pytest.fail(f"another run of this test holds Redis db {where} ({LOCK_KEY})")
        time.sleep(0.5)
    _empty_broker_db(client)

    # celery.app.utils.Settings.broker_url prefers this variable over the configuration.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    saved = {"task_always_eager": celery_app.conf.task_always_eager, "broker_url": celery_app.conf.broker_url}
    _drop_producer_pool()
    celery_app.conf.update(task_always_eager=False, broker_url=url)
    try:
        yield client
    finally:
        celery_app.conf.update(saved)
        _drop_producer_pool()
        _empty_broker_db(client)
        if client.get(LOCK_KEY) == token.encode():
            client.delete(LOCK_KEY)
        client.close()


@contextmanager
def celery_worker(
    *, broker_url: str, media_root: str, log_path: Path, pool: str = "solo", without=("heartbeat", "gossip", "mingle")
):
    """Run `celery worker -Q pdf` against the test database; stop it on the way out, and show its log on failure."""
    name = f"worker-test-{uuid.uuid4().hex[:8]}@localhost"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    env.update(
        DJANGO_SETTINGS_MODULE="trainingportal.settings.test",
        CELERY_TASK_ALWAYS_EAGER="false",
        DATABASE_URL=_database_url(connection.settings_dict),
        REDIS_URL=broker_url,
        MEDIA_ROOT=media_root,
        PYTHONUNBUFFERED="1",
        # Small parts: the dossier's case log is laid out in parallel processes inside the worker, and joined.
        DOSSIER_LOG_PART_ROWS="6",
        PDF_WORKERS="2",
    )
    # solo: one process, so a ping is answered only between tasks, and nothing to reap on SIGTERM.
    command = [
        str(CELERY), "-A", "trainingportal", "worker", "-Q", PDF_QUEUE, "-c", "1", "-P", pool, "-n", name,
        *(f"--without-{feature}" for feature in without), "-l", "info",
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
        print(f"\nworker ready in {time.monotonic() - started:.1f} s")
        yield name, process
        failed = False
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if failed:
            print(f"\n---- worker log ({log_path}) ----\n{log_path.read_text(errors='replace')}\n---- end ----")


def _wait_for_status(pk: int, process: subprocess.Popen, *, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = VerificationRequest.objects.filter(pk=pk).values_list("status", flat=True).get()
        if status not in VerificationRequest.IN_PROGRESS:
            return status
        assert process.poll() is None, f"the worker exited with code {process.returncode}"
        assert time.monotonic() < deadline, f"the dossier is still {status} after {timeout} s"
        time.sleep(0.1)


def _pdf_text(path: Path) -> str:
    try:
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True).stdout.decode()
    except FileNotFoundError:  # poppler-utils missing: pypdf's extraction is good enough for these strings
        return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_renders_dossier_once(broker, settings, director, mentor, enrollment, tmp_path):
    signed = [
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, case__reference=f"WK-{i:03d}")
        for i in range(20)
    ]
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True, case__reference="WK-UNSIGNED")

    # prefork, as production runs it: the dossier's parts are rendered by child processes of a daemonic pool worker.
    with celery_worker(
        broker_url=_test_redis_url(), media_root=settings.MEDIA_ROOT, log_path=tmp_path / "worker.log", pool="prefork"
    ) as (worker_name, process):
        requested = time.monotonic()
        with transaction.atomic():
            # The service enqueues with delay_on_commit: the message leaves when this block commits.
            vr = verification_request_create(actor=director, enrollment=enrollment)
        status = _wait_for_status(vr.pk, process, timeout=RENDER_TIMEOUT)
        print(f"request -> ready through the worker in {time.monotonic() - requested:.2f} s")

        vr.refresh_from_db()
        assert status == Status.READY, vr.failure_reason
        assert vr.attempts == 1 and vr.failure_reason == ""
        path = Path(settings.MEDIA_ROOT) / vr.dossier.name
        assert path.is_file(), f"the worker did not write {path} under this test's MEDIA_ROOT"
        content = path.read_bytes()
        assert content.startswith(b"%PDF")
        assert hashlib.sha256(content).hexdigest() == vr.sha256
        assert vr.size_bytes == len(content)
        assert vr.page_count >= 2
        assert len(PdfReader(path).pages) == vr.page_count
        text = _pdf_text(path)
        assert vr.code in text
        assert all(entry.case.reference in text for entry in signed)
        assert f"Page {vr.page_count} of {vr.page_count}" in text  # numbered across the parts
        assert "WK-UNSIGNED" not in text  # only signed entries are evidence
        assert CaseLogEntry.objects.filter(enrollment=enrollment, status=CaseLogEntry.Status.SIGNED).count() == 20

        # A duplicate message (redelivery, a second click, the sweeper) must not render or write again.
        before = VerificationRequest.objects.values("sha256", "ready_at", "attempts", "render_ms", "dossier").get(
            pk=vr.pk
        )
        mtime = path.stat().st_mtime_ns
        sent = time.monotonic()
        task_id = verification_request_generate.delay(vr.pk).id
        log_path = tmp_path / "worker.log"
        deadline = time.monotonic() + 30
        while f"[{task_id}] succeeded" not in log_path.read_text(errors="replace"):
            assert process.poll() is None, f"the worker exited with code {process.returncode}"
            assert time.monotonic() < deadline, f"the worker did not finish task {task_id} within 30 s"
            time.sleep(0.05)
        print(f"duplicate task round trip {1000 * (time.monotonic() - sent):.0f} ms")
        # The message was acknowledged, not left for redelivery (acks_late keeps it in "unacked" until then).
        assert celery_app.control.ping(destination=[worker_name], timeout=2)
        assert broker.llen(PDF_QUEUE) == 0 and broker.hlen("unacked") == 0

        after = VerificationRequest.objects.values("sha256", "ready_at", "attempts", "render_ms", "dossier").get(
            pk=vr.pk
        )
        assert after == before
        assert VerificationRequest.objects.get(pk=vr.pk).status == Status.READY
        assert path.stat().st_mtime_ns == mtime and hashlib.sha256(path.read_bytes()).hexdigest() == vr.sha256
        assert AuditEvent.objects.filter(action="verification_request.ready", object_id=str(vr.pk)).count() == 1
