from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "fleetwatch.inventory"
    label = "inventory"
    verbose_name = "Device inventory"

    def ready(self) -> None:
        # Connect the receivers of the incident domain's signals (linking, counters).
        from fleetwatch.inventory import receivers  # noqa: F401
