from django.apps import AppConfig


class TraineesConfig(AppConfig):
    name = "trainees"
