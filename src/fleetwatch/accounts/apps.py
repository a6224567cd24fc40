from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "fleetwatch.accounts"
    label = "accounts"
    verbose_name = "Accounts"
