from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "fleetwatch.incidents"
    label = "incidents"
    verbose_name = "Incidents"
