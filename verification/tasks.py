"""Celery tasks: ids in, call a service. PDF tasks run on the `pdf` queue (CELERY_TASK_ROUTES)."""

import logging

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_ready

from .services import dossiers as services

logger = logging.getLogger(__name__)


class DossierTask(DjangoTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Retries exhausted (or an error the service did not expect): leave a reason a person can read.
        pk = args[0] if args else kwargs.get("pk")
        services.verification_request_fail(
            pk=pk, reason=f"The dossier job stopped after repeated errors ({type(exc).__name__}). Try again later."
        )


@shared_task(
    base=DossierTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=services.TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_backoff_max=120,
    max_retries=5,
)
def verification_request_generate(pk: int) -> str:
    return services.verification_request_generate(pk=pk).status


@shared_task
def verification_requests_sweep_stuck() -> list[int]:
    return services.verification_requests_sweep_stuck()


@worker_ready.connect
def _sweep_when_a_worker_starts(sender, **kwargs) -> None:
    """Every worker start (and `make demo`'s embedded beat) sweeps: a job lost with a killed worker, or never sent
    while the broker was down, is taken up within seconds of a worker coming back, with or without beat."""
    try:
        verification_requests_sweep_stuck.delay()
    except Exception:  # noqa: BLE001 - a broker hiccup at start-up must not stop the worker; beat sweeps later
        logger.exception("Could not queue the stuck-dossier sweep at worker start")
