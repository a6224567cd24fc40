"""Shapes of the notification endpoints: API v1 as the Argus v1 document, v2 as Argus 2.10.

Inputs name objects by pk; responses nest them (as Argus). Every serializer refuses unknown
keys (``StrictFieldsMixin``). Domain checks live in ``notifications.validation`` and
``notifications.services``; their Django ``ValidationError`` dicts become 400s here.
"""

import json
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fleetwatch.accounts.api.serializers import PhoneNumberSerializer
from fleetwatch.accounts.models import PhoneNumber, validate_time_zone
from fleetwatch.api.serializers import StrictFieldsMixin
from fleetwatch.notifications import services
from fleetwatch.notifications.filtering import parse_blob, usable_filters
from fleetwatch.notifications.media import get_medium
from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)
from fleetwatch.notifications.models.profiles import ALL_DAY_END, ALL_DAY_START
from fleetwatch.notifications.validation import MAX_DELAY_MINUTES, clean_days, clean_maintenance

V1_FILTER_KEYS = {"sourceSystemIds", "tags"}


def drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    )


class OwnedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A pk among the requesting user's objects (``queryset_for(user)``); others' are
    "does not exist", exactly as a pk that does not exist."""

    def __init__(self, queryset_for, **kwargs) -> None:
        self.queryset_for = queryset_for
        super().__init__(queryset=queryset_for(None), **kwargs)

    def get_queryset(self):
        return self.queryset_for(self.context["request"].user)


def own(model):
    def queryset_for(user):
        return model.objects.filter(user=user) if user is not None else model.objects.none()

    return queryset_for


def filters_for(user):
    return usable_filters(user) if user is not None else Filter.objects.none()


def unique_name(serializer, model, name):
    """``services.check_unique_name`` for the requesting user, as a field error."""
    try:
        services.check_unique_name(
            model, serializer.context["request"].user, name, serializer.instance
        )
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict["name"]) from None
    return name


# --- time slots --------------------------------------------------------------------------------


_UTC_OFFSET = re.compile(r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
        "example": "08:00:00",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the owner's time zone: ``"HH:MM[:SS[.ffffff]]"``, no UTC offset.

    OpenAPI's ``format: time`` is RFC 3339's, which requires an offset, so the schema names the
    shape by a pattern instead; a time sent with an offset is a 400 naming the field (the
    database cannot store one, and a slot is evaluated in the owner's zone anyway).
    """

    default_error_messages = {
        "offset": "Give a time without a UTC offset; time slots are in your time zone.",
    }

    def to_internal_value(self, value):
        # Django's parse_time drops an offset silently: "12:00+05:00" was stored as 12:00.
        if isinstance(value, str) and _UTC_OFFSET.search(value.strip()):
            self.fail("offset")
        return super().to_internal_value(value)


class TimeRecurrenceSerializer(StrictFieldsMixin, serializers.Serializer):
    """``{"days", "start", "end"}``, or ``{"days", "all_day": true}`` (00:00–23:59:59.999999).

    ``end`` at or before ``start`` runs past midnight (Argus refuses it).
    """

    days = serializers.JSONField()
    start = LocalTimeField(required=False)
    end = LocalTimeField(required=False)
    all_day = serializers.BooleanField(required=False, default=False)

    def validate_days(self, value):
        try:
            return clean_days(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["days"]) from None

    def validate(self, attrs: dict) -> dict:
        if attrs.pop("all_day", False):
            attrs["start"], attrs["end"] = ALL_DAY_START, ALL_DAY_END
            return attrs
        missing = {k: ["This field is required."] for k in ("start", "end") if k not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs

    def to_representation(self, instance: TimeRecurrence) -> dict:
        data: dict[str, object] = {
            "days": sorted(instance.days),
            "start": instance.start.isoformat(),
            "end": instance.end.isoformat(),
        }
        if instance.all_day:
            data["all_day"] = True
        return data


class TimeslotSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    time_recurrences = TimeRecurrenceSerializer(many=True)

    class Meta:
        model = Timeslot
        fields = ["pk", "name", "time_recurrences"]

    def validate_name(self, name: str) -> str:
        return unique_name(self, Timeslot, name)

    @transaction.atomic
    def create(self, validated_data: dict) -> Timeslot:
        recurrences = validated_data.pop("time_recurrences")
        timeslot = Timeslot.objects.create(user=self.context["request"].user, **validated_data)
        TimeRecurrence.objects.bulk_create(
            TimeRecurrence(timeslot=timeslot, **r) for r in recurrences
        )
        return timeslot

    @transaction.atomic
    def update(self, timeslot: Timeslot, validated_data: dict) -> Timeslot:
        recurrences = validated_data.pop("time_recurrences", None)
        if "name" in validated_data:
            timeslot.name = validated_data["name"]
            timeslot.save(update_fields=["name"])
        if recurrences is not None:
            timeslot.time_recurrences.all().delete()
            TimeRecurrence.objects.bulk_create(
                TimeRecurrence(timeslot=timeslot, **r) for r in recurrences
            )
        return timeslot


# --- filters -----------------------------------------------------------------------------------


def unique_filter_name(serializer, name: str) -> str:
    return unique_name(serializer, Filter, name)


class FilterSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """v2: ``{"pk", "name", "filter", "public"}``; the blob is validated by the filter engine."""

    filter = serializers.JSONField()

    class Meta:
        model = Filter
        fields = ["pk", "name", "filter", "public"]

    def validate_name(self, name: str) -> str:
        return unique_filter_name(self, name)

    def validate_filter(self, blob: Any) -> Any:
        if not isinstance(blob, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        try:
            parse_blob(blob)
        except DjangoValidationError as exc:
            raise drf_error(exc) from None
        return blob

    def create(self, validated_data: dict) -> Filter:
        return Filter.objects.create(user=self.context["request"].user, **validated_data)


class FilterV1Serializer(StrictFieldsMixin, serializers.ModelSerializer):
    """v1: ``{"pk", "name", "filter_string"}``, ``filter_string`` a JSON *string* with exactly
    the keys ``sourceSystemIds`` and ``tags``; the parsed blob is also shown as ``filter``."""

    filter_string = serializers.CharField()
    filter = serializers.JSONField(read_only=True)

    class Meta:
        model = Filter
        fields = ["pk", "name", "filter_string", "filter"]

    def validate_name(self, name: str) -> str:
        return unique_filter_name(self, name)

    def validate_filter_string(self, text: str) -> dict:
        try:
            blob = json.loads(text)
        except ValueError:
            raise serializers.ValidationError("Not valid JSON.") from None
        if not isinstance(blob, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        missing = sorted(V1_FILTER_KEYS - set(blob))
        if missing:
            raise serializers.ValidationError(
                f"Filterstring is missing fieldname(s): {', '.join(missing)}"
            )
        unknown = sorted(set(blob) - V1_FILTER_KEYS)
        if unknown:
            raise serializers.ValidationError(
                f"Unknown fieldname(s) in filterstring: {', '.join(unknown)}"
            )
        try:
            parse_blob(blob)
        except DjangoValidationError as exc:
            raise drf_error(exc) from None
        return blob

    def to_representation(self, instance: Filter) -> dict:
        return {
            "pk": instance.pk,
            "name": instance.name,
            "filter_string": json.dumps(instance.filter),
            "filter": instance.filter,
        }

    def create(self, validated_data: dict) -> Filter:
        blob = validated_data.pop("filter_string")
        return Filter.objects.create(
            user=self.context["request"].user, filter=blob, **validated_data
        )

    def update(self, instance: Filter, validated_data: dict) -> Filter:
        if "filter_string" in validated_data:
            instance.filter = validated_data.pop("filter_string")
        return super().update(instance, validated_data)


# --- media and destinations --------------------------------------------------------------------


def render_medium(medium) -> dict:
    return {"slug": medium.slug, "name": medium.name, "installed": True}


def render_media_slug(slug: str) -> dict:
    medium = get_medium(slug)
    if medium is None:  # a plug-in removed from FLEETWATCH_MEDIA
        return {"slug": slug, "name": slug, "installed": False}
    return render_medium(medium)


class DestinationSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """Input ``{"media": slug, "label"?, "settings"}``; output as Argus 2.10 (``media`` nested,
    ``suggested_label``) plus ``managed``. Secrets (webhook ``secret``) are never returned."""

    media = serializers.CharField(max_length=20)
    # django-stubs types Field.label (the field's own label) as a str: a field named ``label``
    # is a declared field here, collected by the serializer's metaclass.
    label = serializers.CharField(max_length=50, required=False, allow_blank=True, allow_null=True)  # type: ignore[assignment]
    settings = serializers.JSONField()

    class Meta:
        model = Destination
        fields = ["pk", "media", "label", "settings"]

    def validate(self, attrs: dict) -> dict:
        instance: Destination | None = self.instance
        # Both fields are required on create (no instance), so ``attrs`` holds them then.
        media: str = attrs["media"] if instance is None else attrs.get("media", instance.media)
        if instance is not None and media != instance.media:
            raise serializers.ValidationError(
                {"media": ["Media cannot be updated, only settings."]}
            )
        if attrs.get("label") is None:
            attrs["label"] = instance.label if instance is not None else ""
        if instance is not None and instance.managed and "settings" in attrs:
            raise serializers.ValidationError(
                {"settings": ["This destination is synced from your account; change it there."]}
            )
        settings: Any = (
            attrs["settings"] if instance is None else attrs.get("settings", instance.settings)
        )
        user = self.context["request"].user
        try:
            if "settings" in attrs:
                settings = services.prepare_destination_settings(media, settings, instance)
                attrs["settings"] = settings
            elif get_medium(media) is None:
                raise DjangoValidationError(
                    {"media": [f'Invalid pk "{media}" - object does not exist.']}
                )
            services.check_destination(user, media, settings, attrs["label"], instance)
        except DjangoValidationError as exc:
            raise drf_error(exc) from None
        return attrs

    def create(self, validated_data: dict) -> Destination:
        return Destination.objects.create(user=self.context["request"].user, **validated_data)

    def to_representation(self, instance: Destination) -> dict:
        medium = get_medium(instance.media)
        settings = medium.public_settings(instance.settings) if medium else {}
        address = medium.address(instance.settings) if medium else ""
        media = render_media_slug(instance.media)
        return {
            "pk": instance.pk,
            "media": media,
            "label": instance.label or None,
            "suggested_label": f"{media['name']}: {address}",
            "settings": settings,
            "managed": instance.managed,
        }


# --- notification profiles ---------------------------------------------------------------------


class NotificationProfileSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """v2: ``{"pk", "name", "timeslot", "filters", "destinations", "active", "delay_minutes"}``."""

    name = serializers.CharField(max_length=40, required=False, allow_null=True)
    timeslot = OwnedPrimaryKeyField(own(Timeslot))
    filters = OwnedPrimaryKeyField(filters_for, many=True)
    destinations = OwnedPrimaryKeyField(own(Destination), many=True, required=False)
    delay_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_DELAY_MINUTES
    )

    class Meta:
        model = NotificationProfile
        fields = ["pk", "name", "timeslot", "filters", "destinations", "active", "delay_minutes"]

    def validate_name(self, name: str | None) -> str | None:
        return unique_name(self, NotificationProfile, name)

    def create(self, validated_data: dict) -> NotificationProfile:
        validated_data["user"] = self.context["request"].user
        return super().create(validated_data)

    def to_representation(self, instance: NotificationProfile) -> dict:
        context = self.context
        return {
            "pk": instance.pk,
            "name": instance.name,
            "timeslot": TimeslotSerializer(instance.timeslot, context=context).data,
            "filters": FilterSerializer(instance.filters.all(), many=True, context=context).data,
            "destinations": DestinationSerializer(
                instance.destinations.all(), many=True, context=context
            ).data,
            "active": instance.active,
            "delay_minutes": instance.delay_minutes,
        }


class NotificationProfileV1Serializer(StrictFieldsMixin, serializers.ModelSerializer):
    """v1: ``{"pk", "timeslot", "filters", "media": ["EM", "SM"], "phone_number", "active"}``.

    Underneath, ``"EM"`` is the user's managed e-mail destination and ``"SM"`` the managed SMS
    destination of ``phone_number``; the profile's other (v2) destinations are left alone.
    ``phone_number`` is only kept while ``"SM"`` is among the media.
    """

    timeslot = OwnedPrimaryKeyField(own(Timeslot))
    filters = OwnedPrimaryKeyField(filters_for, many=True)
    media = serializers.MultipleChoiceField(choices=["EM", "SM"])
    phone_number = OwnedPrimaryKeyField(own(PhoneNumber), required=False, allow_null=True)

    class Meta:
        model = NotificationProfile
        fields = ["pk", "timeslot", "filters", "media", "phone_number", "active"]

    def validate(self, attrs: dict) -> dict:
        user = self.context["request"].user
        media = attrs.get("media")
        if media is None and self.instance is not None:
            media = set(self.media_of(self.instance))
        phone = attrs.get("phone_number", None)
        if "phone_number" not in attrs and self.instance is not None:
            phone = self.phone_of(self.instance)
        if "EM" in (media or ()) and not user.email:
            raise serializers.ValidationError(
                {"media": ['"EM" needs an e-mail address on your account.']}
            )
        if "SM" in (media or ()) and phone is None:
            raise serializers.ValidationError({"phone_number": ['"SM" needs a phone number.']})
        attrs["_media"], attrs["_phone"] = media or set(), phone
        attrs.pop("media", None)
        attrs.pop("phone_number", None)
        return attrs

    @staticmethod
    def media_of(profile: NotificationProfile) -> list[str]:
        destinations = list(profile.destinations.all())
        media = []
        if any(d.managed and d.media == "email" for d in destinations):
            media.append("EM")
        if any(d.phone_number_id for d in destinations):
            media.append("SM")
        return media

    @staticmethod
    def phone_of(profile: NotificationProfile) -> PhoneNumber | None:
        for destination in profile.destinations.all():
            if destination.phone_number_id:
                return destination.phone_number
        return None

    def _apply_media(self, profile: NotificationProfile, media: set, phone) -> None:
        keep = [
            d
            for d in profile.destinations.all()
            if not (d.managed and d.media == "email") and not d.phone_number_id
        ]
        if "EM" in media:
            email = services.sync_email_destination(profile.user)
            if email is not None:
                keep.append(email)
        if "SM" in media and phone is not None:
            keep.append(services.sync_phone_destination(phone))
        profile.destinations.set(keep)

    @transaction.atomic
    def create(self, validated_data: dict) -> NotificationProfile:
        media, phone = validated_data.pop("_media"), validated_data.pop("_phone")
        filters = validated_data.pop("filters")
        profile = NotificationProfile.objects.create(
            user=self.context["request"].user, **validated_data
        )
        profile.filters.set(filters)
        self._apply_media(profile, media, phone)
        return profile

    @transaction.atomic
    def update(self, profile: NotificationProfile, validated_data: dict) -> NotificationProfile:
        media, phone = validated_data.pop("_media"), validated_data.pop("_phone")
        profile = super().update(profile, validated_data)
        self._apply_media(profile, media, phone)
        return profile

    def to_representation(self, instance: NotificationProfile) -> dict:
        context = self.context
        phone = self.phone_of(instance)
        return {
            "pk": instance.pk,
            "timeslot": TimeslotSerializer(instance.timeslot, context=context).data,
            "filters": FilterV1Serializer(instance.filters.all(), many=True, context=context).data,
            "media": self.media_of(instance),
            "phone_number": PhoneNumberSerializer(phone).data if phone is not None else None,
            "active": instance.active,
        }


# --- planned maintenance -----------------------------------------------------------------------


class PlannedMaintenanceSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """``{"pk", "created_by", "created", "start_time", "end_time", "recurrence", "duration",
    "description", "filters"}``; ``end_time`` null = no end; ``recurrence`` an RRULE."""

    # Maintenance is hub-wide and written by staff: any stored filter may be named.
    filters = serializers.PrimaryKeyRelatedField(
        queryset=Filter.objects.all(), many=True, required=False
    )
    end_time = serializers.DateTimeField(required=False, allow_null=True)
    recurrence = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    duration = serializers.DurationField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)

    class Meta:
        model = PlannedMaintenance
        fields = [
            "pk",
            "created_by",
            "created",
            "start_time",
            "end_time",
            "recurrence",
            "duration",
            "description",
            "filters",
        ]
        read_only_fields = ["pk", "created_by", "created"]

    def validate(self, attrs: dict) -> dict:
        instance = self.instance

        def value(name, default=None):
            return attrs.get(name, getattr(instance, name) if instance else default)

        try:
            if instance is not None:
                services.check_maintenance_change(instance, attrs.get("start_time"))
            clean_maintenance(
                value("start_time"),
                value("end_time"),
                value("recurrence", ""),
                value("duration"),
            )
        except DjangoValidationError as exc:
            raise drf_error(exc) from None
        return attrs

    def create(self, validated_data: dict) -> PlannedMaintenance:
        validated_data["created_by"] = self.context["request"].user
        return super().create(validated_data)


# --- the user's notification settings ----------------------------------------------------------


class UserSettingsSerializer(StrictFieldsMixin, serializers.Serializer):
    """``{"time_zone"}`` (IANA name; ``""`` = the hub's ``FLEETWATCH_TIME_ZONE``) and the
    read-only ``effective_time_zone`` the user's time slots are evaluated in."""

    time_zone = serializers.CharField(max_length=64, allow_blank=True)
    effective_time_zone = serializers.SerializerMethodField()

    def get_effective_time_zone(self, user) -> str:
        return str(user.tzinfo)

    def validate_time_zone(self, value: str) -> str:
        try:
            validate_time_zone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def update(self, user, validated_data: dict):
        if "time_zone" in validated_data:  # a PATCH of {} changes nothing
            user.time_zone = validated_data["time_zone"]
            user.save(update_fields=["time_zone"])
        return user
