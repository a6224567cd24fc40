"""JSON in and out through orjson, byte for byte what DRF's JSON renderer and parser produce.

Encoding a page of 100 incidents takes DRF's ``json.dumps`` about 0.5 ms and orjson 0.05 ms.
Anything orjson would write differently goes the DRF way: datetimes, dates, times and
dataclasses through DRF's encoder, pretty-printing (``indent``) and whatever orjson refuses
(integers beyond 64 bits, unknown types) through DRF's renderer itself. Parsing falls back to
DRF's parser on any orjson error and for 19+ digit numbers (orjson would read big integers as
floats), so malformed bodies get DRF's exact error messages.

A body may hold ``orjson.Fragment``s (JSON text written by PostgreSQL): orjson copies them,
the DRF path decodes them first (``FragmentEncoder``).

Two kinds of body never reach that fallback unchecked, because Python's ``json`` either
recurses until ``RecursionError`` or decodes what no database can store:

- nesting deeper than orjson's 1,024 levels is a 400 parse error, whichever parser sees it;
- a lone UTF-16 surrogate (``"\\ud800"``, which orjson refuses and ``json`` accepts) is a 400
  naming the field it is in: no database encoding can store it.
"""

import re
from io import BytesIO

import orjson
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


class FragmentEncoder(JSONEncoder):
    """DRF's encoder, which also writes an ``orjson.Fragment`` (JSON text written elsewhere,
    e.g. incident rows by PostgreSQL: ``fastsql.rows``) as the value it holds, so the DRF path
    (indented, browsable) gives what it gives for the plain Python values."""

    def default(self, obj):
        if isinstance(obj, orjson.Fragment):
            return orjson.loads(orjson.dumps(obj))  # a Fragment shows its text only to orjson
        return super().default(obj)


_encoder = FragmentEncoder()
# orjson reads integers beyond 64 bits as floats; Python's json keeps them exact.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
#: orjson's own limit; ``json`` would recurse (and fail) at about Python's recursion limit.
MAX_JSON_DEPTH = 1024
DEPTH_MESSAGE = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
SURROGATE_MESSAGE = "Lone surrogate characters (\\ud800-\\udfff) are not allowed."
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_SEPARATORS = re.compile(b"\xe2\x80[\xa8\xa9]")  # U+2028, U+2029 in UTF-8


class FastJSONRenderer(JSONRenderer):
    encoder_class = FragmentEncoder

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if (
            self.get_indent(accepted_media_type, renderer_context or {}) is not None
            or self.ensure_ascii
            or not self.compact
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            ret = orjson.dumps(data, default=_encoder.default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF: U+2028/U+2029 escaped, so that the output is also valid JavaScript. Looked
        # for only in non-ASCII output: two ``in`` scans took 80 µs of a 50 KB page, isascii 4.
        if not ret.isascii() and _LINE_SEPARATORS.search(ret):
            ret = ret.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return ret


class FastJSONParser(JSONParser):
    renderer_class = FastJSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        if encoding.lower() not in {"utf-8", "utf8"} or not self.strict:
            return super().parse(stream, media_type, parser_context)
        body = stream.read()
        if not _LONG_NUMBER.search(body):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                if "depth limit" in str(exc) or "recursion limit" in str(exc).lower():
                    raise ParseError(DEPTH_MESSAGE) from None
        try:
            data = super().parse(BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError(DEPTH_MESSAGE) from None
        problem = surrogate_problem(data)
        if problem is not None:
            raise ValidationError(problem)
        return data


def _too_deep(path: list) -> bool:
    return len(path) >= MAX_JSON_DEPTH


def _at(path: list, message: str) -> dict:
    """``{"a": {"0": {"b": [message]}}}`` for the path ``["a", 0, "b"]``."""
    error: object = [message]
    for step in reversed(path or ["non_field_errors"]):
        error = {str(step): error}
    return error  # type: ignore[return-value]


def surrogate_problem(data: object) -> dict | None:
    """The error naming where ``data`` (decoded JSON) holds a lone surrogate, or None.

    Iterative, so it cannot recurse; nesting deeper than ``MAX_JSON_DEPTH`` is a ParseError, as
    orjson makes it. A key holding one is reported at the object that has it (the key itself
    cannot be echoed back).
    """
    stack: list[tuple[object, list]] = [(data, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict | list) and _too_deep(path):
            # As deep as orjson refuses: the same answer whichever parser read the body.
            raise ParseError(DEPTH_MESSAGE)
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return _at(path, SURROGATE_MESSAGE)
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    return _at(path, f"A key: {SURROGATE_MESSAGE}")
                stack.append((child, [*path, key]))
        elif isinstance(item, list):
            stack.extend((child, [*path, index]) for index, child in enumerate(item))
    return None


def fast_renderers() -> list:
    """The configured renderers, DRF's JSON one replaced by ``FastJSONRenderer``."""
    return [
        FastJSONRenderer if cls is JSONRenderer else cls
        for cls in api_settings.DEFAULT_RENDERER_CLASSES
    ]


def fast_parsers() -> list:
    """The configured parsers, DRF's JSON one replaced by ``FastJSONParser``."""
    return [
        FastJSONParser if cls is JSONParser else cls for cls in api_settings.DEFAULT_PARSER_CLASSES
    ]
