"""Incident payloads as drafts: the one validator of every incoming incident.

Validation is plain Python (no serializer per item) so that a bulk request of thousands of
incidents costs microseconds per item. A draft says what the sender *gave*: an optional field
it left out is None ("not given"), so an update can tell "not given" from any real value.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from fleetwatch.incidents import limits
from fleetwatch.incidents.models import INFINITY, Level, is_infinite
from fleetwatch.incidents.tags import parse_tag
from fleetwatch.incidents.validation import (
    DATETIME_RANGE_MESSAGE,
    NUL_MESSAGE,
    json_problem,
    storable_datetime,
)

DATETIME_MESSAGE = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
# Output-only fields a client may echo back from a GET; they are ignored, as in Argus.
READ_ONLY_FIELDS = {"pk", "stateful", "open", "acked", "source"}
_url_validator = URLValidator()


class InvalidIncident(ValueError):
    """The payload is not a valid incident; ``errors`` maps each field to its problems."""

    def __init__(self, errors: dict) -> None:
        super().__init__(errors)
        self.errors = errors


class IncidentConflict(Exception):
    """The source already has an incident with this ``source_incident_id``."""

    def __init__(self, source_incident_id: str, existing_pk: int) -> None:
        super().__init__(source_incident_id)
        self.source_incident_id = source_incident_id
        self.existing_pk = existing_pk

    def as_error(self) -> dict:
        return {
            "source_incident_id": [
                f"This source already has an incident with source_incident_id "
                f"{self.source_incident_id!r}: incident {self.existing_pk}. "
                "Use the upsert endpoint to update it."
            ],
            "existing_incident": self.existing_pk,
        }


@dataclass(slots=True)
class IncidentDraft:
    """One incident as a sender reported it.

    ``end_time``: ``INFINITY`` (open, also when not given, as Argus), None (stateless) or a
    time. The optional fields are None when not given: a new incident then takes the model's
    default (level 5, empty text, no metadata), and an update leaves the stored value alone —
    so a vendor that never sends ``level`` cannot reset the level a person set.
    """

    start_time: datetime
    end_time: datetime | None = INFINITY
    source_incident_id: str = ""
    details_url: str | None = None
    description: str | None = None
    level: int | None = None
    ticket_url: str | None = None
    metadata: dict | None = None
    tags: list[tuple[str, str]] = field(default_factory=list)


def parse_datetime_value(value: object, *, allow_infinity: bool = False) -> datetime:
    """ISO 8601 (``T`` or space; naive means the server's time zone) or ``"infinity"``."""
    if allow_infinity and isinstance(value, str) and value.strip().lower() == "infinity":
        return INFINITY
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            from_text = parse_datetime(value.strip())
        except ValueError:
            from_text = None
        if from_text is None:
            raise ValueError(DATETIME_MESSAGE)
        parsed = from_text
    else:
        raise ValueError(DATETIME_MESSAGE)
    if timezone.is_naive(parsed):
        try:
            parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
        except OverflowError:
            raise ValueError(DATETIME_RANGE_MESSAGE) from None
    return storable_datetime(parsed)


def _text(data: Mapping, name: str, errors: dict, *, url: bool = False) -> str | None:
    """The stripped text; None when not given, ``""`` for an explicit null (as before)."""
    if name not in data:
        return None
    value = data[name]
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = ["Not a valid string."]
        return None
    if "\x00" in value:
        errors[name] = [NUL_MESSAGE]
        return None
    value = value.strip()
    if url and value and "://" in value:
        try:
            _url_validator(value)
        except ValidationError:
            errors[name] = ["Enter a valid URL."]
    elif url and any(ch.isspace() for ch in value):
        errors[name] = ["Enter a valid URL or a relative path without spaces."]
    return value


def parse_tags(value: object) -> tuple[list[tuple[str, str]], object]:
    """Tags as ``[{"tag": "k=v"}, ...]`` (v1/v2) or ``["k=v", ...]``; returns (tags, errors)."""
    if not isinstance(value, list):
        return [], ['Expected a list of {"tag": "key=value"} objects.']
    tags, errors, seen = [], {}, set()  # a set: 40,000 tags took minutes deduplicated by list
    for index, item in enumerate(value):
        if isinstance(item, dict) and item.keys() - {"tag"}:
            errors[str(index)] = {name: ["Unknown field."] for name in item.keys() - {"tag"}}
            continue
        text = item.get("tag") if isinstance(item, dict) else item
        try:
            tag = parse_tag(text)
        except ValueError as exc:
            errors[str(index)] = {"tag": [str(exc)]}
            continue
        if tag not in seen:
            seen.add(tag)
            tags.append(tag)
    return tags, errors or None


def parse_level(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f'"{value}" is not a valid choice.')
    try:
        level = int(value)
    except ValueError:
        raise ValueError(f'"{value}" is not a valid choice.') from None
    if level not in Level.values:
        raise ValueError(f'"{value}" is not a valid choice.')
    return level


def parse_incident(
    data: object, *, require_tags: bool = True, allow_metadata: bool = True
) -> IncidentDraft:
    """Validate one incident payload; raises InvalidIncident naming each bad field."""
    if not isinstance(data, Mapping):
        raise InvalidIncident({"non_field_errors": ["Expected a JSON object."]})
    # The error body, as JSON: a list of messages per field, or per tag index a field mapping.
    # Each helper below adds its field's errors, in this order (the order of the error body).
    errors: dict[str, Any] = {}
    _check_unknown_fields(data, errors, allow_metadata=allow_metadata)
    start_time = _parse_start_time(data, errors)
    end_time = _parse_end_time(data, errors)
    level = _parse_level_field(data, errors)
    metadata = _parse_metadata(data, errors) if allow_metadata else None
    tags = _parse_tags_field(data, errors, require_tags=require_tags)
    sid = _parse_source_incident_id(data, errors)
    draft_text = {
        name: _text(data, name, errors, url=name.endswith("_url"))
        for name in ("details_url", "description", "ticket_url")
    }
    _check_time_order(start_time, end_time, errors)
    if errors:
        raise InvalidIncident(errors)
    assert start_time is not None  # else errors["start_time"] was set
    return IncidentDraft(
        start_time=start_time,
        end_time=end_time,
        source_incident_id=sid.strip(),
        level=level,
        metadata=metadata,
        tags=tags,
        **draft_text,
    )


def _check_unknown_fields(data: Mapping, errors: dict[str, Any], *, allow_metadata: bool) -> None:
    """Name every field the payload may not carry (``metadata`` only where it is allowed)."""
    allowed = {
        "start_time",
        "end_time",
        "source_incident_id",
        "details_url",
        "description",
        "level",
        "ticket_url",
        "tags",
        *READ_ONLY_FIELDS,
    }
    if allow_metadata:
        allowed.add("metadata")
    for name in data:
        if name not in allowed:
            errors[name] = ["Unknown field."]


def _parse_start_time(data: Mapping, errors: dict[str, Any]) -> datetime | None:
    """The required ``start_time``; None (and an error) when missing or invalid."""
    if data.get("start_time") in (None, ""):
        errors["start_time"] = ["This field is required."]
        return None
    try:
        return parse_datetime_value(data["start_time"])
    except ValueError as exc:
        errors["start_time"] = [str(exc)]
        return None


def _parse_end_time(data: Mapping, errors: dict[str, Any]) -> datetime | None:
    """``end_time``: infinity (still open) when absent, None when given as null."""
    if "end_time" not in data:
        return INFINITY
    if data["end_time"] is None:
        return None
    try:
        return parse_datetime_value(data["end_time"], allow_infinity=True)
    except ValueError as exc:
        errors["end_time"] = [str(exc)]
        return INFINITY


def _parse_level_field(data: Mapping, errors: dict[str, Any]) -> int | None:
    """``level``, None when absent; null is refused."""
    if "level" not in data:
        return None
    if data["level"] is None:
        # Argus (DRF) refuses it too; here it would be ambiguous: "not given" to an
        # upsert, "reset to 5" to a PATCH.
        errors["level"] = ["This field may not be null."]
        return None
    try:
        return parse_level(data["level"])
    except ValueError as exc:
        errors["level"] = [str(exc)]
        return None


def _parse_metadata(data: Mapping, errors: dict[str, Any]) -> dict | None:
    """``metadata``: None when absent, ``{}`` when null, else a JSON object within limits."""
    if "metadata" not in data:
        return None
    if data["metadata"] is None:
        return {}
    if not isinstance(data["metadata"], dict):
        errors["metadata"] = ["Expected a JSON object."]
    elif problem := json_problem(data["metadata"]):
        errors["metadata"] = [problem]
    else:
        return data["metadata"]
    return None


def _parse_tags_field(
    data: Mapping, errors: dict[str, Any], *, require_tags: bool
) -> list[tuple[str, str]]:
    """``tags`` as (key, value) pairs, within the tag-count limit."""
    if "tags" not in data:
        if require_tags:
            errors["tags"] = ["This field is required."]
        return []
    tags, tag_errors = parse_tags(data["tags"])
    if tag_errors:
        errors["tags"] = tag_errors
    elif problem := limits.tag_count_problem(len(tags)):
        errors["tags"] = [problem]
    return tags


def _parse_source_incident_id(data: Mapping, errors: dict[str, Any]) -> str:
    """``source_incident_id`` as a string (integers accepted); ``""`` when absent or invalid."""
    sid = data.get("source_incident_id", "")
    if sid is None:
        sid = ""
    if isinstance(sid, int) and not isinstance(sid, bool):
        sid = str(sid)
    if not isinstance(sid, str):
        errors["source_incident_id"] = ["Not a valid string."]
        return ""
    if "\x00" in sid:
        errors["source_incident_id"] = [NUL_MESSAGE]
        return ""
    if problem := limits.too_long(sid.strip(), limits.SOURCE_INCIDENT_ID_MAX_LENGTH):
        errors["source_incident_id"] = [problem]
        return ""
    return sid


def _check_time_order(
    start_time: datetime | None, end_time: datetime | None, errors: dict[str, Any]
) -> None:
    """An incident cannot end before it starts (checked only when both times are valid)."""
    if (
        start_time
        and end_time
        and "end_time" not in errors
        and not is_infinite(end_time)
        and end_time < start_time
    ):
        errors.setdefault("non_field_errors", []).append(
            "'end_time' cannot be before 'start_time'."
        )
