from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "fleetwatch.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from fleetwatch.incidents import filtersets
        from fleetwatch.notifications import signals  # noqa: F401  (connects the receivers)
        from fleetwatch.notifications.filtering import stored_filter_q

        # ?filter_pk= and ?notificationprofile_pk= on incident lists: the incidents domain
        # offers the hook and never imports notifications.
        filtersets.stored_filter_resolver = stored_filter_q
