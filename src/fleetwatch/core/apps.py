from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Running the hub: the ``serve``, ``worker`` and ``demo`` commands."""

    name = "fleetwatch.core"
    label = "core"
    verbose_name = "Fleetwatch"
