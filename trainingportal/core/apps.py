from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "trainingportal.core"
    label = "core"
    verbose_name = "Core"
