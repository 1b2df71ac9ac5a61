from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "trainingportal.accounts"
    label = "accounts"
    verbose_name = "Accounts"
