import logging

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


def _check_broker() -> str:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_worker() -> str:
    replies = app.control.ping(timeout=1.0)
    return "ok" if replies else "no worker answered"


@never_cache
def healthz(request):
    """Liveness for load balancers and people: database, broker, worker. 503 when the database or broker is down."""
    checks: dict[str, str] = {}
    try:
        checks["database"] = _check_database()
    except Exception as exc:  # noqa: BLE001 - any failure is "down", reported by type
        checks["database"] = f"error: {type(exc).__name__}"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = "eager: no REDIS_URL, tasks run in the web process"
        checks["worker"] = "eager: no worker needed"
    else:
        try:
            checks["broker"] = _check_broker()
            checks["worker"] = _check_worker()
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {type(exc).__name__}"
            checks["worker"] = "unknown: broker unreachable"
    down = any(v.startswith("error") for v in checks.values())
    degraded = checks["worker"] != "ok" and not checks["worker"].startswith("eager")
    status = "down" if down else ("degraded" if degraded else "ok")
    return JsonResponse({"status": status, **checks}, status=503 if down else 200)
