from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "fleetwatch.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from fleetwatch.notifications import signals  # noqa: F401  (connects the receivers)
