"""The orjson renderer and parser of the incident API match DRF's JSON ones exactly."""

import datetime
import decimal
import io
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from fleetwatch.api.renderers import (
    DEPTH_MESSAGE,
    SURROGATE_MESSAGE,
    FastJSONParser,
    FastJSONRenderer,
)

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
        b"\xef\xbb\xbf{}",
        b'{"a": 1, "a": 2}',
        b"\xff",
    ],
)
def test_parser_result_and_errors_are_drfs(body):
    assert _parse(FastJSONParser(), body) == _parse(JSONParser(), body)


@pytest.mark.parametrize(
    "body, error",
    [
        (
            b'{"a": "\\ud800"}',
            {"a": ["Lone surrogate characters (\\ud800-\\udfff) are not allowed."]},
        ),
        (b'{"a": [1, {"b": "x\\udfffy"}]}', {"a": {"1": {"b": [SURROGATE_MESSAGE]}}}),
        (b'{"m": {"\\ud800": 1}}', {"m": [f"A key: {SURROGATE_MESSAGE}"]}),
        (b'["\\ud800"]', {"0": [SURROGATE_MESSAGE]}),
        # The same with a 19+ digit number elsewhere: the path that always takes DRF's parser.
        (b'{"n": 12345678901234567890, "a": "\\ud800"}', {"a": [SURROGATE_MESSAGE]}),
    ],
)
def test_lone_surrogates_are_a_validation_error_naming_the_field(body, error):
    """DRF's parser accepts them; no database encoding can store them (a 500 or 503)."""
    with pytest.raises(ValidationError) as caught:
        FastJSONParser().parse(io.BytesIO(body), None, {"encoding": "utf-8"})
    assert caught.value.detail == error


def test_a_surrogate_pair_is_one_character():
    assert _parse(FastJSONParser(), b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


@pytest.mark.parametrize("depth", [1025, 5000, 100_000])
@pytest.mark.parametrize("long_number", [False, True])
def test_deep_nesting_is_a_parse_error(depth, long_number):
    """Python's json recursed to a RecursionError (a 500); now a 400 at orjson's limit."""
    inner = b"12345678901234567890" if long_number else b"1"
    body = b"[" * depth + inner + b"]" * depth
    assert _parse(FastJSONParser(), body) == ("error", DEPTH_MESSAGE)
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    assert _parse(FastJSONParser(), nested) == ("error", DEPTH_MESSAGE)


def test_nesting_up_to_the_limit_parses():
    body = b"[" * 1023 + b"]" * 1023
    assert _parse(FastJSONParser(), body) is not None


@pytest.mark.parametrize("media", [None, "application/json; indent=4"])
def test_fragments_render_as_the_values_they_hold(media):
    """JSON text written elsewhere (incident rows by PostgreSQL) comes out as the values it
    holds do, orjson's way (``1e-7``) or, indented, DRF's (``1e-07``)."""
    import orjson

    held = {"b": [1, 1e-7, "x\u2028"], "c": None}
    data = {"a": orjson.Fragment(orjson.dumps(held)), "d": [orjson.Fragment(b"{}")]}
    rendered = FastJSONRenderer().render(data, media)
    assert rendered == FastJSONRenderer().render({"a": held, "d": [{}]}, media)
    assert (b"1e-07" if media else b"1e-7") in rendered and b"\\u2028" in rendered
