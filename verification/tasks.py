"""Celery tasks: ids in, call a service. PDF tasks run on the `pdf` queue (CELERY_TASK_ROUTES)."""

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from .services import dossiers as services


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
