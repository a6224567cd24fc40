"""Who wants to hear about what, when, and where: Argus's ``argus.notificationprofile`` models.

Differences from Argus, on purpose:

* A ``TimeRecurrence`` whose ``end`` is not after its ``start`` runs past midnight into the next
  day (Argus refuses it, so a night shift needs two recurrences; Argus issue #272).
* A profile has its own primary key; in Argus API v1 the pk was the time slot's and changed with
  it.
* ``delay_minutes``: notify only if the incident is still open and unacknowledged that long after
  the event (Argus issues #166, #359).
* Planned maintenance may recur (an RFC 5545 RRULE with a window ``duration``).
"""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q

ALL_DAY_START = time.min
ALL_DAY_END = time.max  # 23:59:59.999999, as Argus
DEFAULT_TIMESLOT_NAME = "All the time"


class Timeslot(models.Model):
    """A named set of weekly recurrences in which a profile's notifications are sent."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="timeslots"
    )
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="notif_timeslot_user_name")
        ]

    def __str__(self) -> str:
        return self.name


class TimeRecurrence(models.Model):
    """Weekdays (1 = Monday … 7 = Sunday) and a local time range, in the owner's time zone.

    ``end <= start`` means the range runs past midnight: ``22:00``–``06:00`` on Monday covers
    Monday 22:00 to Tuesday 06:00.
    """

    timeslot = models.ForeignKey(
        Timeslot, on_delete=models.CASCADE, related_name="time_recurrences"
    )
    days = models.JSONField(default=list)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.days} {self.start}-{self.end}"

    def clean(self) -> None:
        from fleetwatch.notifications.validation import clean_days

        self.days = clean_days(self.days)

    @property
    def all_day(self) -> bool:
        return self.start == ALL_DAY_START and self.end == ALL_DAY_END


class Filter(models.Model):
    """A stored filter blob (see ``fleetwatch.incidents.filterblob``); ``public`` ones may be
    used, not edited, by every user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_filters"
    )
    name = models.CharField(max_length=40)
    filter = models.JSONField(default=dict)
    public = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="notif_filter_user_name")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from fleetwatch.incidents.filterblob import parse_filter

        try:
            parse_filter(self.filter)
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise ValidationError({"filter": exc.messages}) from None
            raise ValidationError(
                {"filter": [f"{k}: {m}" for k, ms in exc.message_dict.items() for m in ms]}
            ) from None


class Destination(models.Model):
    """Where a message goes: a medium (slug from ``FLEETWATCH_MEDIA``) and its settings.

    ``managed`` destinations are kept in step with something else and cannot be edited or
    deleted through the destinations API: the user's own e-mail address, and (API v1) each of
    the user's phone numbers (``phone_number`` links it).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="destinations"
    )
    media = models.CharField(max_length=20)
    label = models.CharField(max_length=50, blank=True, default="")
    settings = models.JSONField(default=dict)
    managed = models.BooleanField(default=False)
    phone_number = models.OneToOneField(
        "accounts.PhoneNumber",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="destination",
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "media", "label"],
                condition=~Q(label=""),
                name="notif_destination_user_media_label",
            )
        ]

    def __str__(self) -> str:
        return self.label or f"{self.media} #{self.pk}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from fleetwatch.notifications import services

        try:
            self.settings = services.prepare_destination_settings(self.media, self.settings, self)
            if self.user_id is not None:
                services.check_destination(self.user, self.media, self.settings, self.label, self)
        except ValidationError as exc:
            # A medium names keys inside ``settings``; a form knows only the model's fields.
            errors: dict[str, list[str]] = {}
            for key, messages in exc.message_dict.items():
                if key in ("media", "label", "settings"):
                    errors.setdefault(key, []).extend(messages)
                else:
                    errors.setdefault("settings", []).extend(f"{key}: {m}" for m in messages)
            raise ValidationError(errors) from None


class NotificationProfile(models.Model):
    """Send ``destinations`` the events of incidents matching ``filters`` during ``timeslot``.

    Several filters are a union (an incident matching any of them matches the profile), as
    Argus's listing (``<pk>/incidents/``, ``?notificationprofile_pk=``) always did; a profile
    with no filters matches nothing. ``name`` is null for profiles made through API v1.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_profiles"
    )
    name = models.CharField(max_length=40, null=True, blank=True)
    timeslot = models.ForeignKey(
        Timeslot, on_delete=models.CASCADE, related_name="notification_profiles"
    )
    filters = models.ManyToManyField(Filter, related_name="notification_profiles", blank=True)
    destinations = models.ManyToManyField(
        Destination, related_name="notification_profiles", blank=True
    )
    active = models.BooleanField(default=True)
    delay_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="notif_profile_user_name")
        ]

    def __str__(self) -> str:
        return self.name or f"Profile #{self.pk} ({self.timeslot})"


class PlannedMaintenance(models.Model):
    """A window in which events of incidents matching ``filters`` (all of them) notify nobody.

    One-off: ``start_time`` to ``end_time`` (null = no end). Recurring: ``recurrence`` is an
    RFC 5545 RRULE (``FREQ=WEEKLY;BYDAY=SU``) whose occurrences, starting at ``start_time``,
    each open a window of ``duration``; ``end_time`` then bounds the occurrences.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="planned_maintenances",
    )
    created = models.DateTimeField(auto_now_add=True)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)
    recurrence = models.TextField(blank=True, default="")
    duration = models.DurationField(null=True, blank=True)
    description = models.CharField(max_length=255, blank=True, default="")
    filters = models.ManyToManyField(Filter, related_name="planned_maintenances", blank=True)

    class Meta:
        ordering = ["-start_time", "-pk"]
        verbose_name_plural = "planned maintenance"

    def __str__(self) -> str:
        return self.description or f"Maintenance from {self.start_time:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        from fleetwatch.notifications.validation import clean_maintenance

        if self.start_time is not None:
            clean_maintenance(self.start_time, self.end_time, self.recurrence, self.duration)
