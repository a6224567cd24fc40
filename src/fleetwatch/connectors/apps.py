from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "fleetwatch.connectors"
    label = "connectors"
    verbose_name = "Connectors"
