"""The domain rules of notification settings, shared by the API, the admin and signals."""

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from fleetwatch.notifications.media import get_medium
from fleetwatch.notifications.media.base import SECRET_MASK
from fleetwatch.notifications.models import (
    Destination,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)
from fleetwatch.notifications.models.profiles import (
    ALL_DAY_END,
    ALL_DAY_START,
    DEFAULT_TIMESLOT_NAME,
)
from fleetwatch.notifications.validation import clean_destination_settings

EMAIL = "email"
SMS = "sms"


def create_default_timeslot(user) -> Timeslot:
    """Every user starts with "All the time" (every day, all day), as in Argus."""
    timeslot, created = Timeslot.objects.get_or_create(user=user, name=DEFAULT_TIMESLOT_NAME)
    if created:
        TimeRecurrence.objects.create(
            timeslot=timeslot, days=[1, 2, 3, 4, 5, 6, 7], start=ALL_DAY_START, end=ALL_DAY_END
        )
    return timeslot


def sync_email_destination(user) -> Destination | None:
    """Keep the user's managed e-mail destination equal to ``user.email``.

    No address: the managed destination goes (and with it from any profile). A user who
    already has an unmanaged destination for the same address gets it adopted as managed.
    """
    managed = Destination.objects.filter(user=user, media=EMAIL, managed=True).first()
    if not user.email:
        if managed is not None:
            managed.delete()
        return None
    settings = {"email_address": user.email}
    if managed is not None:
        if managed.settings != settings:
            # The user already had the new address as a destination of their own: the managed
            # one takes its place in every profile.
            for twin in Destination.objects.filter(user=user, media=EMAIL, settings=settings):
                for profile in twin.notification_profiles.all():
                    profile.destinations.add(managed)
                twin.delete()
            managed.settings = settings
            managed.save(update_fields=["settings"])
        return managed
    existing = Destination.objects.filter(user=user, media=EMAIL, settings=settings).first()
    if existing is not None:
        existing.managed = True
        existing.save(update_fields=["managed"])
        return existing
    return Destination.objects.create(user=user, media=EMAIL, settings=settings, managed=True)


def sync_phone_destination(phone_number) -> Destination:
    """Each of a user's phone numbers (API v1 ``auth/phone-number/``) is a managed SMS
    destination, so that v1's ``"SM"`` and ``phone_number`` are destinations underneath."""
    destination, _ = Destination.objects.update_or_create(
        phone_number=phone_number,
        defaults={
            "user_id": phone_number.user_id,
            "media": SMS,
            "managed": True,
            "settings": {"phone_number": phone_number.phone_number},
        },
    )
    return destination


def ensure_user_defaults(user) -> None:
    with transaction.atomic():
        create_default_timeslot(user)
        sync_email_destination(user)


def prepare_destination_settings(
    media: str, settings: Any, instance: Destination | None = None
) -> dict[str, Any]:
    """Validated settings for a new or changed destination.

    A write-only secret the client did not resend (absent, or the mask the API shows) keeps
    its stored value; ``""`` removes it.
    """
    medium = get_medium(media)
    if (
        instance is not None
        and medium is not None
        and isinstance(settings, dict)
        and medium.secret_fields
    ):
        settings = dict(settings)
        for key in medium.secret_fields:
            if settings.get(key) in (None, SECRET_MASK) and instance.settings.get(key):
                settings[key] = instance.settings[key]
    return clean_destination_settings(media, settings)


def check_destination(
    user, media: str, settings: dict[str, Any], label: str, instance: Destination | None = None
) -> None:
    """One destination per address and medium, and one label per medium, for each user."""
    medium = get_medium(media)
    others = Destination.objects.filter(user=user, media=media)
    if instance is not None:
        others = others.exclude(pk=instance.pk)
    if medium is not None:
        address = medium.address(settings)
        for other in others:
            if medium.address(other.settings) == address:
                raise ValidationError(
                    {"settings": [f"You already have a {media} destination for {address}."]}
                )
    if label and others.filter(label=label).exists():
        raise ValidationError({"label": [f"You already have a {media} destination named {label}."]})


def delete_destination(destination: Destination) -> None:
    """Delete unless it is managed (synced) or used by a profile (Argus's rule)."""
    if destination.managed:
        raise ValidationError(
            {"detail": ["This destination is synced from your account and cannot be deleted."]}
        )
    profiles = list(destination.notification_profiles.values_list("pk", flat=True))
    if profiles:
        raise ValidationError(
            {
                "detail": [
                    "This destination is used by notification profile(s) "
                    f"{', '.join(map(str, profiles))} and cannot be deleted."
                ]
            }
        )
    destination.delete()


def is_duplicate(destination: Destination) -> bool:
    """Another user has a destination with the same medium and address."""
    medium = get_medium(destination.media)
    if medium is None:
        return False
    address = medium.address(destination.settings)
    others = Destination.objects.filter(media=destination.media).exclude(user=destination.user_id)
    return any(medium.address(other.settings) == address for other in others.iterator())


def delete_filter(stored_filter) -> None:
    """Refused while a profile uses the filter (Argus answers 400 too)."""
    profiles = list(stored_filter.notification_profiles.values_list("pk", flat=True))
    if profiles:
        raise ValidationError(
            {
                "detail": [
                    "This filter is used by notification profile(s) "
                    f"{', '.join(map(str, profiles))} and cannot be deleted."
                ]
            }
        )
    stored_filter.delete()


#: What "already have one named …" says for each kind of named, per-user object.
NAME_KINDS = {"Timeslot": "a time slot", "Filter": "a filter", "NotificationProfile": "a profile"}
#: As Argus: a maintenance is history (read-only) 12 hours after it ended.
FROZEN_AFTER_END = timedelta(hours=12)


def check_unique_name(model: type[Model], user, name: str | None, instance=None) -> None:
    """One time slot, filter or profile of each name per user (the API's and the console's
    check, before the database's constraint would refuse it as an IntegrityError)."""
    if not name:
        return
    others = model._default_manager.filter(user=user, name=name)
    if instance is not None and instance.pk is not None:
        others = others.exclude(pk=instance.pk)
    if others.exists():
        kind = NAME_KINDS.get(model.__name__, "one")
        raise ValidationError({"name": [f'You already have {kind} named "{name}".']})


def check_maintenance_change(
    instance: PlannedMaintenance, start_time: datetime | None, now: datetime | None = None
) -> None:
    """A started maintenance keeps its start; one that ended over 12 hours ago is history."""
    now = now or timezone.now()
    if start_time is not None and start_time != instance.start_time and instance.start_time <= now:
        raise ValidationError(
            {"start_time": ["Cannot be changed once the maintenance has started."]}
        )
    if instance.end_time is not None and instance.end_time < now - FROZEN_AFTER_END:
        raise ValidationError(
            {"end_time": ["A maintenance that ended over 12 hours ago cannot change."]}
        )
