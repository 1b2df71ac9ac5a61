import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from assessments.selectors import review_queue
from cases.selectors import review_inbox
from programs.selectors import programs_for_user
from trainees.progress import report_for
from trainees.selectors import active_enrollment_for_trainee

logger = logging.getLogger(__name__)


def home(request):
    if not request.user.is_authenticated:
        return render(request, "core/landing.html")
    return dashboard(request)


@login_required
def dashboard(request):
    user = request.user
    enrollment = active_enrollment_for_trainee(user)
    context = {
        "programs": programs_for_user(user)[:20] if not user.is_reviewer else None,
        "enrollment": enrollment,
        "report": report_for(enrollment) if enrollment else None,
        "inbox_count": review_inbox(user).count(),
        "queue_count": review_queue(user).count() if user.is_reviewer else None,
    }
    if not (enrollment or context["programs"] or user.is_reviewer):
        context["empty"] = True
    return render(request, "core/dashboard.html", context)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:
    from trainingportal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_worker() -> str:
    from trainingportal.celery import app

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
