from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "fleetwatch.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Connect the receivers: the profiles' defaults, and the events_recorded outbox.
        from fleetwatch.notifications import outbox, signals  # noqa: F401
