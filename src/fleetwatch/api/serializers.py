"""Serializer building blocks shared by every app's API."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from fleetwatch.incidents.validation import MAX_ID


class StrictFieldsMixin:
    """Reject input keys the serializer does not declare: ``{"<key>": ["Unknown field."]}`` (400).

    DRF silently drops unknown keys, so a client that misspells a field (``"ticket_ulr"``) gets a
    2xx and believes its change was stored. Known read-only fields (``"pk"`` in a body copied from
    a response) are still ignored, as DRF does. Put the mixin first::

        class PhoneNumberSerializer(StrictFieldsMixin, serializers.ModelSerializer): ...

    It checks in ``to_internal_value``, so it also guards nested serializers that use it, and its
    errors are reported together with the other fields' errors.
    """

    #: Keys that are not data: Django's CSRF token in HTML-form posts from the browsable API.
    ignored_input_keys: frozenset[str] = frozenset({"csrfmiddlewaretoken"})
    unknown_field_message = "Unknown field."

    def to_internal_value(self, data: Any) -> Any:
        unknown = self.unknown_input_keys(data)
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value

    def unknown_input_keys(self, data: Any) -> dict[str, list[ErrorDetail]]:
        """The error entries for keys in ``data`` that are neither fields nor ignored."""
        if not isinstance(data, Mapping):
            return {}  # DRF itself reports a body that is not an object
        known = set(self.fields) | self.ignored_input_keys  # type: ignore[attr-defined]
        return {
            str(key): [ErrorDetail(self.unknown_field_message, code="unknown_field")]
            for key in data
            if key not in known
        }


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object's id: a whole number (or a string of digits, as form posts send them).

    DRF hands anything else to the query, where Django's ``int()`` turns ``1.5`` (or
    ``"1.0"``, or ``true`` as 1 in some paths) into pk 1: a client's mistake silently refers
    to another object. Anything but a whole number is "Incorrect type", and a number no
    bigint can hold does not exist.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and data.isascii() and data.isdigit():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)
