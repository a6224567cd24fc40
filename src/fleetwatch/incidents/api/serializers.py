"""Wire shapes of the incident API, v1 and v2.

Output of the hot paths (incident and event lists) is rendered by hand from prefetched rows:
the serializer classes declare the fields (for the OpenAPI schema) and ``to_representation``
builds the dict directly, so a page of 100 incidents costs microseconds per row. Incident lists
and the detail GET go through ``ListRendering``: on PostgreSQL (fast SQL on, rendering in UTC)
the page query writes each row's JSON itself (``fastsql.rows``), byte for byte what
``render_row`` gives; ``render_row`` stays the definition, and the path everywhere else.
"""

from collections import defaultdict
from datetime import UTC
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.fields import DateTimeField

from fleetwatch import fastsql
from fleetwatch.api.serializers import StrictFieldsMixin
from fleetwatch.fastsql import pages
from fleetwatch.fastsql import rows as json_rows
from fleetwatch.fastsql.tags import incident_tag_rows
from fleetwatch.incidents import limits
from fleetwatch.incidents.models import (
    INCIDENT_COLUMNS,
    Acknowledgement,
    Event,
    Incident,
    IncidentTagRelation,
    Level,
    SourceSystem,
    SourceSystemType,
    is_infinite,
)
from fleetwatch.incidents.tags import format_tag, parse_tag

_dt = DateTimeField()
UTC_ZONE = ZoneInfo("UTC")
ROW_FIELDS = (
    "id",
    *INCIDENT_COLUMNS,
    "source__name",
    "source__type_id",
    "source__user_id",
    "source__base_url",
)


def render_datetime(value, tz=None) -> str | None:
    """As DRF renders datetimes (current time zone, ``Z`` for UTC), or ``"infinity"``."""
    if value is None:
        return None
    if is_infinite(value):
        return "infinity"
    tz = tz or timezone.get_current_timezone()
    if tz is not UTC_ZONE:
        value = value.astimezone(tz)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def render_source(source: SourceSystem) -> dict:
    return {
        "pk": source.pk,
        "name": source.name,
        "type": {"name": source.type_id},
        "user": source.user_id,
        "base_url": source.base_url,
    }


def incident_rows(queryset: QuerySet) -> QuerySet:
    """Plain rows (no model instances) with ``acked``/``open`` computed in SQL."""
    return queryset.with_state().values(*ROW_FIELDS, "is_acked", "is_open")


def _tag_rows(ids: list[int]) -> list[tuple]:
    """``(incident_id, added_by_id, added_time, key, value)``, oldest relation first."""
    if fastsql.enabled():
        return incident_tag_rows(ids)
    return list(
        IncidentTagRelation.objects.filter(incident_id__in=ids)
        .order_by("id")
        .values_list("incident_id", "added_by_id", "added_time", "tag__key", "tag__value")
    )


def tags_by_incident(ids: list[int]) -> dict[int, list[dict]]:
    """The tags of each incident, oldest relation first: one query (plain SQL when the fast
    SQL is on, whose ``added_time`` SQLite returns as text for its backend to convert)."""
    tags: dict[int, list[dict]] = defaultdict(list)
    if not ids:
        return tags
    fast = fastsql.enabled()
    convert = getattr(connection.ops, "convert_datetimefield_value", None) if fast else None
    rendered: dict = {}  # relations added together share their timestamp
    for incident_id, added_by, added_time, key, value in _tag_rows(ids):
        added = rendered.get(added_time)
        if added is None:
            moment = convert(added_time, None, connection) if convert else added_time
            added = rendered[added_time] = render_datetime(moment)
        tags[incident_id].append(
            {"added_by": added_by, "added_time": added, "tag": f"{key}={value}"}
        )
    return tags


def render_incidents(rows: list[dict], version: str | None = "v2") -> list[dict]:
    """A page of rows from ``incident_rows`` as API dicts: one more query, for the tags."""
    tags = tags_by_incident([row["id"] for row in rows]) if rows else {}
    tz = timezone.get_current_timezone()
    return [render_row(row, tags.get(row["id"], []), version, tz) for row in rows]


def details_link(base_url: str, details_url: str) -> str:
    """``details_url`` as rendered: a relative one joined with its source's ``base_url``
    (``fastsql.rows`` tells the same rows apart in SQL)."""
    if details_url and base_url and "://" not in details_url:
        return urljoin(base_url, details_url)
    return details_url


def render_row(row: dict, tags: list[dict], version: str | None, tz=None) -> dict:
    base_url = row["source__base_url"]
    data = {
        "pk": row["id"],
        "start_time": render_datetime(row["start_time"], tz),
        "end_time": render_datetime(row["end_time"], tz),
        "source": {
            "pk": row["source_id"],
            "name": row["source__name"],
            "type": {"name": row["source__type_id"]},
            "user": row["source__user_id"],
            "base_url": base_url,
        },
        "source_incident_id": row["source_incident_id"],
        "details_url": details_link(base_url, row["details_url"]),
        "description": row["description"],
        "level": row["level"],
        "ticket_url": row["ticket_url"],
        "tags": tags,
        "stateful": row["end_time"] is not None,
        "open": bool(row["is_open"]) and row["end_time"] is not None,
        "acked": bool(row["is_acked"]),
    }
    if version == "v1":
        del data["level"]
    else:
        data["metadata"] = row["metadata"]
    return data


def render_incident(pk: int, version: str = "v2") -> dict:
    rows = list(incident_rows(Incident.objects.filter(pk=pk)))
    if not rows:
        raise NotFound("No Incident matches the given query.")
    return render_incidents(rows, version)[0]


class ListRendering:
    """How incident lists (and the detail GET) render: with the PostgreSQL tricks on and the
    rendering in UTC, each row's JSON is written by the query itself (``fastsql.rows``: one
    query a page, no Python per field); otherwise ``incident_rows`` and ``render_incidents``.
    Both give the same bytes. ``key`` tells apart the SQL that ``rows`` builds."""

    def __init__(self, version: str | None) -> None:
        self.version = version
        self.json = fastsql.postgresql() and timezone.get_current_timezone() is UTC_ZONE
        self.key = (version, self.json)

    def rows(self, queryset: QuerySet) -> QuerySet:
        """The ``.values()`` rows of ``queryset``'s incidents for ``render``."""
        if self.json:
            return queryset.with_state().values(
                "id", "start_time", **json_rows.columns(self.version)
            )
        return incident_rows(queryset)

    def render(self, rows: list[dict]) -> list:
        """The rows as the API's incidents (``orjson.Fragment``s or dicts: for a renderer)."""
        if self.json:
            return json_rows.render(rows, self.version)
        return render_incidents(rows, self.version)


def incident_body(pk: int, version: str | None) -> object:
    """The incident ``pk`` for a response body (its rows' SQL compiled once), or a 404."""
    rendering = ListRendering(version)

    def build(pk: int) -> QuerySet:
        return rendering.rows(Incident.objects.filter(pk=pk))

    rows = pages.run_compiled_get(rendering.key, build, pk) if fastsql.enabled() else None
    if rows is None:
        rows = list(build(pk))
    if not rows:
        raise NotFound("No Incident matches the given query.")
    return rendering.render(rows)[0]


def render_new_incident(
    incident: Incident, tags: list[tuple[str, str]], actor, added_time, version: str = "v2"
) -> dict:
    """A just-created incident, from memory: no query (it has no ack yet)."""
    source = incident.source
    row = {
        "id": incident.pk,
        "start_time": incident.start_time,
        "end_time": incident.end_time,
        "source_id": source.pk,
        "source_incident_id": incident.source_incident_id,
        "details_url": incident.details_url,
        "description": incident.description,
        "level": incident.level,
        "ticket_url": incident.ticket_url,
        "metadata": incident.metadata,
        "source__name": source.name,
        "source__type_id": source.type_id,
        "source__user_id": source.user_id,
        "source__base_url": source.base_url,
        "is_acked": False,
        "is_open": incident.end_time is not None and incident.end_time > timezone.now(),
    }
    added = render_datetime(added_time)
    rendered_tags = [
        {"added_by": actor.pk, "added_time": added, "tag": f"{k}={v}"} for k, v in tags
    ]
    return render_row(row, rendered_tags, version)


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


class SourceSystemTypeSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = SourceSystemType
        fields = ["name"]
        extra_kwargs = {"name": {"max_length": limits.SOURCE_TYPE_NAME_MAX_LENGTH}}

    def validate_name(self, value: str) -> str:
        """Names are stored lower-case (``SourceSystemType.save``): the uniqueness check must
        see the stored form, or ``"Zabbix"`` beside ``"zabbix"`` reaches the unique index."""
        name = value.lower()
        if SourceSystemType.objects.filter(name=name).exists():
            raise serializers.ValidationError("source system type with this name already exists.")
        return name


class SourceSystemSerializer(serializers.ModelSerializer):
    type = SourceSystemTypeSerializer(read_only=True)

    class Meta:
        model = SourceSystem
        fields = ["pk", "name", "type", "user", "base_url"]
        read_only_fields = ["pk", "user"]
        extra_kwargs = {"name": {"max_length": limits.SOURCE_NAME_MAX_LENGTH}}

    def to_representation(self, instance):
        return render_source(instance)


class TagSerializer(StrictFieldsMixin, serializers.Serializer):
    tag = serializers.CharField(
        max_length=limits.TAG_KEY_MAX_LENGTH + 1 + limits.TAG_VALUE_MAX_LENGTH,
        help_text=f"key=value; key at most {limits.TAG_KEY_MAX_LENGTH} characters of [a-z0-9_], "
        f"value at most {limits.TAG_VALUE_MAX_LENGTH}",
    )

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
    source_incident_id = serializers.CharField(
        required=False, allow_blank=True, max_length=limits.SOURCE_INCIDENT_ID_MAX_LENGTH
    )
    details_url = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    level = serializers.IntegerField(
        required=False, min_value=min(Level.values), max_value=max(Level.values)
    )
    ticket_url = serializers.CharField(required=False, allow_blank=True)
    metadata = serializers.JSONField(required=False)
    tags = IncidentTagSerializer(many=True, max_length=limits.TAGS_PER_INCIDENT_MAX)
    stateful = serializers.BooleanField(read_only=True)
    open = serializers.BooleanField(read_only=True)
    acked = serializers.BooleanField(read_only=True)


class EventTypeSerializer(serializers.Serializer):
    value = serializers.ChoiceField(choices=Event.Type.choices)
    display = serializers.CharField(read_only=True)


class ActorSerializer(serializers.Serializer):
    pk = serializers.IntegerField()
    username = serializers.CharField()


class EventSerializer(StrictFieldsMixin, serializers.Serializer):
    pk = serializers.IntegerField(read_only=True)
    incident = serializers.IntegerField(read_only=True)
    actor = ActorSerializer(read_only=True)
    timestamp = serializers.DateTimeField(required=False)
    received = serializers.DateTimeField(read_only=True)
    type = serializers.ChoiceField(choices=Event.Type.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def to_representation(self, instance):
        return render_event(instance)


class AckSerializer(StrictFieldsMixin, serializers.Serializer):
    """v2: flat body ``{"timestamp", "description", "expiration"}``."""

    timestamp = serializers.DateTimeField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    expiration = serializers.DateTimeField(required=False, allow_null=True)

    def to_representation(self, instance):
        return render_ack(instance)


class AckEventSerializer(StrictFieldsMixin, serializers.Serializer):
    timestamp = serializers.DateTimeField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class AckV1Serializer(StrictFieldsMixin, serializers.Serializer):
    """v1: ``{"event": {"timestamp", "description"}, "expiration"}``."""

    event = AckEventSerializer()
    expiration = serializers.DateTimeField(required=False, allow_null=True)

    def to_representation(self, instance):
        return render_ack(instance)


class AckExpirationSerializer(StrictFieldsMixin, serializers.Serializer):
    expiration = serializers.DateTimeField(allow_null=True)


class TicketUrlSerializer(StrictFieldsMixin, serializers.Serializer):
    ticket_url = serializers.URLField(allow_blank=True)


class SourceCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=limits.SOURCE_NAME_MAX_LENGTH)
    type = serializers.CharField(max_length=limits.SOURCE_TYPE_NAME_MAX_LENGTH)
    username = serializers.CharField(required=False, max_length=limits.USERNAME_MAX_LENGTH)
    base_url = serializers.CharField(required=False, allow_blank=True, default="")
