"""GET /healthz: database, broker and worker, in eager mode, against a real Redis without a worker, and with the broker
down. The Celery app reads its broker from `app.conf`, so the tests point it elsewhere and put it back afterwards."""

import socket

import kombu.pools
import pytest

from trainingportal.celery import app

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/15"
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


def _redis_is_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def broker(settings):
    """Use a real broker URL: no eager tasks, and the Celery app's connection pool rebuilt for the new URL."""
    saved = app.conf.broker_url

    def use(url: str) -> None:
        settings.CELERY_TASK_ALWAYS_EAGER = False
        settings.REDIS_URL = url
        settings.CELERY_BROKER_URL = url
        app.conf.broker_url = url
        app._pool = None

    yield use
    # A pool built for the test URL must not outlive the test; kombu's registry would hand it, closed, to the next
    # user of the same URL ("Acquire on closed pool"), so reset the registry rather than close app._pool alone.
    kombu.pools.reset()
    app.conf.broker_url = saved
    app._pool = None
    app.amqp._producer_pool = None


def test_healthz_reports_database_broker_and_worker(client):
    response = client.get("/healthz")

    assert response["Content-Type"] == "application/json"
    assert {"status", "database", "broker", "worker"} <= set(response.json())
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_in_eager_mode_is_ok_and_says_eager(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    response = client.get("/healthz")

    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok"
    assert data["database"] == "ok"
    assert data["broker"].startswith("eager")
    assert data["worker"].startswith("eager")


def test_healthz_needs_no_login(client, director):
    client.logout()

    assert client.get("/healthz").status_code == 200


@pytest.mark.skipif(not _redis_is_up(), reason="needs Redis on 127.0.0.1:6379")
def test_healthz_with_redis_and_no_worker_is_degraded(client, broker):
    broker(REDIS_URL)

    response = client.get("/healthz")

    assert response.status_code == 200
    data = response.json()
    assert data["database"] == "ok"
    assert data["broker"] == "ok"
    assert data["worker"] == "no worker answered"
    assert data["status"] == "degraded"


def test_healthz_with_the_broker_down_is_503(client, broker):
    broker(CLOSED_PORT_URL)

    response = client.get("/healthz")

    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "down"
    assert data["database"] == "ok"
    assert data["broker"].startswith("error")
    assert data["worker"].startswith("unknown")
