from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Request ids, structured logs, /metrics, and the worker's housekeeping (heartbeats and
    retention)."""

    name = "fleetwatch.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from fleetwatch.observability import tasks  # noqa: F401  (signal receivers)
