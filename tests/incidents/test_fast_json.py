"""The orjson renderer and parser of the incident API match DRF's JSON ones exactly."""

import datetime
import decimal
import io
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from fleetwatch.api.renderers import FastJSONParser, FastJSONRenderer

UTC = datetime.UTC


@pytest.mark.parametrize(
    "data",
    [
        {"a": 1, 2: "int key", True: "bool key", None: "none key"},
        {"dt": datetime.datetime(2026, 1, 1, 1, 2, 3, 456789, tzinfo=UTC)},
        {"d": datetime.date(2026, 1, 2), "t": datetime.time(1, 2, 3, 4567)},
        [1.5, 1e16, 1e-7, 0.1, -0.0, 2**63 - 1, 10**30],
        {"s": 'x\u2028y\u2029z\x00\x1f\x7f"\\/é😀'},
        {"dec": decimal.Decimal("1.10"), "u": uuid.UUID(int=7), "lazy": gettext_lazy("hi")},
        {"tuple": (1, 2), "td": datetime.timedelta(seconds=3)},
    ],
)
def test_renderer_output_is_drfs(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_renderer_indent_is_drfs():
    data = {"a": [1, {"b": 2}]}
    media = "application/json; indent=4"
    assert FastJSONRenderer().render(data, media) == JSONRenderer().render(data, media)


def _parse(parser, body: bytes):
    try:
        return parser.parse(io.BytesIO(body), None, {"encoding": "utf-8"})
    except ParseError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "b": [true, null, 1.5, "x"]}',
        b'{"a": 1e400}',
        b'{"a": NaN}',
        b"",
        b"[1,",
        b'{"a": 123456789012345678901234567890}',
        b'{"a": "\\ud800"}',
        b"\xef\xbb\xbf{}",
        b'{"a": 1, "a": 2}',
        b"\xff",
    ],
)
def test_parser_result_and_errors_are_drfs(body):
    assert _parse(FastJSONParser(), body) == _parse(JSONParser(), body)
