from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the hub: the ``serve``, ``worker`` and ``demo`` commands.

    The package was ``fleetwatch.core``; its app label stays ``core`` so that anything Django
    keys by label — migrations, content types, permissions — made under the old name keeps
    applying (the app has no models today, so the label is the only thing to keep)."""

    name = "fleetwatch.operations"
    label = "core"
    verbose_name = "Fleetwatch operations"
