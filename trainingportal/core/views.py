import logging
import os

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from trainingportal.celery import app

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _uses_filesystem_broker() -> bool:
    return app.conf.broker_url.startswith("filesystem:")


def _check_broker() -> str:
    if _uses_filesystem_broker():
        # The embedded broker (DEMO_BROKER_DIR): "connecting" always succeeds, so check what it really needs, its
        # folders, there and writable by this process.
        options = app.conf.broker_transport_options
        for key in ("data_folder_out", "data_folder_in", "control_folder", "processed_folder"):
            folder = options.get(key)
            if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
                raise FileNotFoundError(f"{key} is missing or not writable")
        return "ok"
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_worker() -> str:
    # One answer is enough (limit=1 returns as soon as it comes). A worker on the embedded broker looks at its folder
    # every polling_interval (0.2 s), so allow it a round trip or two more.
    with app.connection_for_write() as conn:
        replies = app.control.ping(timeout=2.0 if _uses_filesystem_broker() else 1.0, limit=1, connection=conn)
    return "ok" if replies else "no worker answered"


def _broker_kind() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    return "filesystem" if _uses_filesystem_broker() else app.conf.broker_url.partition(":")[0]


@never_cache
def healthz(request):
    """Liveness for load balancers and people: database, broker, worker. 503 when the database or broker is down."""
    checks: dict[str, str] = {}
    try:
        checks["database"] = _check_database()
    except Exception as exc:  # noqa: BLE001 - any failure is "down", reported by type
        checks["database"] = f"error: {type(exc).__name__}"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = "eager: no REDIS_URL or DEMO_BROKER_DIR, tasks run in the web process"
        checks["worker"] = "eager: no worker needed"
    else:
        # Twice before "down": the ping publishes through Celery's pooled producer, whose connection still points at
        # a Redis that has restarted since; its first use fails, and the pool replaces it ("down" once per process
        # although Redis is up). A real outage fails both times.
        for _attempt in range(2):
            try:
                checks["broker"] = _check_broker()
                checks["worker"] = _check_worker()
                break
            except Exception as exc:  # noqa: BLE001
                checks["broker"] = f"error: {type(exc).__name__}"
                checks["worker"] = "unknown: broker unreachable"
    down = any(v.startswith("error") for v in checks.values())
    degraded = checks["worker"] != "ok" and not checks["worker"].startswith("eager")
    status = "down" if down else ("degraded" if degraded else "ok")
    # broker_transport says which broker was checked: redis, or filesystem (the demo's embedded broker), or eager.
    return JsonResponse({"status": status, **checks, "broker_transport": _broker_kind()}, status=503 if down else 200)
