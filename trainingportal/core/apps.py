import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("trainingportal")


class CoreConfig(AppConfig):
    name = "trainingportal.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER and not settings.REDIS_URL:
            # Demo mode: say it once at start-up, as /healthz does.
            logger.warning("REDIS_URL is not set: background tasks (PDF dossiers) run eagerly in the web process.")
