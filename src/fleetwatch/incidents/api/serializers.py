"""Wire shapes of the incident API, v1 and v2.

Output of the hot paths (incident and event lists) is rendered by hand from prefetched rows:
the serializer classes declare the fields (for the OpenAPI schema) and ``to_representation``
builds the dict directly, so a page of 100 incidents costs microseconds per row.
"""

from urllib.parse import urljoin

from rest_framework import serializers
from rest_framework.fields import DateTimeField

from fleetwatch.incidents.models import (
    Acknowledgement,
    Event,
    Incident,
    SourceSystem,
    SourceSystemType,
    is_infinite,
)
from fleetwatch.incidents.tags import format_tag, parse_tag

_dt = DateTimeField()


def render_datetime(value) -> str | None:
    if value is None:
        return None
    if is_infinite(value):
        return "infinity"
    return _dt.to_representation(value)


def render_source(source: SourceSystem) -> dict:
    return {
        "pk": source.pk,
        "name": source.name,
        "type": {"name": source.type_id},
        "user": source.user_id,
        "base_url": source.base_url,
    }


def render_tags(incident: Incident) -> list[dict]:
    return [
        {
            "added_by": rel.added_by_id,
            "added_time": render_datetime(rel.added_time),
            "tag": format_tag(rel.tag.key, rel.tag.value),
        }
        for rel in incident.tag_relations.all()
    ]


def render_incident(incident: Incident, version: str = "v2") -> dict:
    source = incident.source
    details_url = incident.details_url
    if details_url and source.base_url and "://" not in details_url:
        details_url = urljoin(source.base_url, details_url)
    data = {
        "pk": incident.pk,
        "start_time": render_datetime(incident.start_time),
        "end_time": render_datetime(incident.end_time),
        "source": render_source(source),
        "source_incident_id": incident.source_incident_id,
        "details_url": details_url,
        "description": incident.description,
        "level": incident.level,
        "ticket_url": incident.ticket_url,
        "tags": render_tags(incident),
        "stateful": incident.stateful,
        "open": incident.open,
        "acked": incident.acked,
    }
    if version != "v1":
        data["metadata"] = incident.metadata
    else:
        del data["level"]
    return data


def render_event(event: Event) -> dict:
    return {
        "pk": event.pk,
        "incident": event.incident_id,
        "actor": {"pk": event.actor_id, "username": event.actor.username},
        "timestamp": render_datetime(event.timestamp),
        "received": render_datetime(event.received),
        "type": {"value": event.type, "display": event.get_type_display()},
        "description": event.description,
    }


def render_ack(ack: Acknowledgement) -> dict:
    return {
        "pk": ack.pk,
        "event": render_event(ack.event),
        "expiration": render_datetime(ack.expiration),
    }


# --- schema-bearing serializers --------------------------------------------------------------


class SourceSystemTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceSystemType
        fields = ["name"]

    def validate_name(self, value: str) -> str:
        return value.lower()


class SourceSystemSerializer(serializers.ModelSerializer):
    type = SourceSystemTypeSerializer(read_only=True)

    class Meta:
        model = SourceSystem
        fields = ["pk", "name", "type", "user", "base_url"]
        read_only_fields = ["pk", "user"]

    def to_representation(self, instance):
        return render_source(instance)


class TagSerializer(serializers.Serializer):
    tag = serializers.CharField()

    def validate_tag(self, value: str) -> str:
        try:
            return format_tag(*parse_tag(value))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class IncidentTagSerializer(TagSerializer):
    added_by = serializers.IntegerField(read_only=True)
    added_time = serializers.DateTimeField(read_only=True)


class IncidentSerializer(serializers.Serializer):
    """Declares the v2 incident shape; rendering is ``render_incident``."""

    pk = serializers.IntegerField(read_only=True)
    start_time = serializers.DateTimeField()
    end_time = serializers.CharField(
        required=False, allow_null=True, help_text='ISO 8601, "infinity" (open) or null (stateless)'
    )
    source = SourceSystemSerializer(read_only=True)
    source_incident_id = serializers.CharField(required=False, allow_blank=True)
    details_url = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    level = serializers.IntegerField(required=False, min_value=1, max_value=5)
    ticket_url = serializers.CharField(required=False, allow_blank=True)
    metadata = serializers.JSONField(required=False)
    tags = IncidentTagSerializer(many=True)
    stateful = serializers.BooleanField(read_only=True)
    open = serializers.BooleanField(read_only=True)
    acked = serializers.BooleanField(read_only=True)


class EventTypeSerializer(serializers.Serializer):
    value = serializers.ChoiceField(choices=Event.Type.choices)
    display = serializers.CharField(read_only=True)


class ActorSerializer(serializers.Serializer):
    pk = serializers.IntegerField()
    username = serializers.CharField()


class EventSerializer(serializers.Serializer):
    pk = serializers.IntegerField(read_only=True)
    incident = serializers.IntegerField(read_only=True)
    actor = ActorSerializer(read_only=True)
    timestamp = serializers.DateTimeField(required=False)
    received = serializers.DateTimeField(read_only=True)
    type = serializers.ChoiceField(choices=Event.Type.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def to_representation(self, instance):
        return render_event(instance)


class AckSerializer(serializers.Serializer):
    """v2: flat body ``{"timestamp", "description", "expiration"}``."""

    timestamp = serializers.DateTimeField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    expiration = serializers.DateTimeField(required=False, allow_null=True)

    def to_representation(self, instance):
        return render_ack(instance)


class AckEventSerializer(serializers.Serializer):
    timestamp = serializers.DateTimeField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class AckV1Serializer(serializers.Serializer):
    """v1: ``{"event": {"timestamp", "description"}, "expiration"}``."""

    event = AckEventSerializer()
    expiration = serializers.DateTimeField(required=False, allow_null=True)

    def to_representation(self, instance):
        return render_ack(instance)


class AckExpirationSerializer(serializers.Serializer):
    expiration = serializers.DateTimeField(allow_null=True)


class TicketUrlSerializer(serializers.Serializer):
    ticket_url = serializers.URLField(allow_blank=True)


class SourceCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    username = serializers.CharField(required=False)
    base_url = serializers.CharField(required=False, allow_blank=True, default="")
