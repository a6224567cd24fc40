"""Response shapes of the notification endpoints, for the OpenAPI schema only.

Inputs name related objects by pk, but responses nest them (as Argus): a profile answers with
its time slot, filters and destinations; a destination with its medium. One serializer per
endpoint would document the input shape for both, and clients generated from the schema (and
schemathesis) then expect ``"destinations": [1, 2]`` where the server sends objects. These
declare what is rendered; the views name them with ``extend_schema(responses=...)``.
"""

from rest_framework import serializers

from fleetwatch.notifications.api.serializers import FilterSerializer, TimeslotSerializer


class MediaSerializer(serializers.Serializer):
    """``{"slug", "name", "installed"}`` (rendered by ``render_medium``)."""

    slug = serializers.CharField()
    name = serializers.CharField()
    installed = serializers.BooleanField()


class DestinationResponseSerializer(serializers.Serializer):
    """A destination as rendered: ``media`` nested; ``label`` null when none was given;
    ``settings`` without secrets."""

    pk = serializers.IntegerField()
    media = MediaSerializer()
    label = serializers.CharField(allow_null=True)  # type: ignore[assignment]  # a declared field; stubs see Field.label
    suggested_label = serializers.CharField()
    settings = serializers.DictField()
    managed = serializers.BooleanField()


class NotificationProfileResponseSerializer(serializers.Serializer):
    """A v2 profile as rendered: time slot, filters and destinations nested."""

    pk = serializers.IntegerField()
    name = serializers.CharField(allow_null=True)
    timeslot = TimeslotSerializer()
    filters = FilterSerializer(many=True)
    destinations = DestinationResponseSerializer(many=True)
    active = serializers.BooleanField()
    delay_minutes = serializers.IntegerField(allow_null=True)


class DuplicateSerializer(serializers.Serializer):
    """``{"is_duplicate": bool}``."""

    is_duplicate = serializers.BooleanField()


class DestinationTestSerializer(serializers.Serializer):
    """``{"sent": bool, "detail": str}``: the outcome of a test message, summarised."""

    sent = serializers.BooleanField()
    detail = serializers.CharField()
