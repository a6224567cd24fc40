from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "fleetwatch.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from fleetwatch.incidents import filtersets

        # Connect the receivers: the profiles' defaults, and the events_recorded outbox.
        from fleetwatch.notifications import outbox, signals  # noqa: F401
        from fleetwatch.notifications.filtering import stored_filter_q

        # ?filter_pk= and ?notificationprofile_pk= on incident lists: the incidents domain
        # offers the hook and never imports notifications.
        filtersets.stored_filter_resolver = stored_filter_q
