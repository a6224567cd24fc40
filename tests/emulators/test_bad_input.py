"""Bad and extreme input, over real HTTP on 127.0.0.1: never a 5xx, always the vendor's error.

Three parts: the regressions the audit found (out-of-range epoch milliseconds on 7SIGNAL, the
last representable date on MetaAccess, numbers too long for ``int()``), a fuzz-ish sweep that
sends a batch of extreme values to every parameter of every vendor endpoint, and the generic
guard: an unexpected exception inside a handler is still the vendor's own 500, and the
keep-alive connection that carried it stays usable.
"""

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection

import httpx
import pytest

from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.server import EmulatorServer

EPOCH = datetime(2026, 8, 17, 9, 0, tzinfo=UTC)
SPRING_KEYS = ["timestamp", "path", "status", "error", "requestId", "message"]
SEVEN_CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
MA_CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
SP_LOGIN = {
    "request_type": "create",
    "resource": "login",
    "user_name": "demo@fleetwatch.local",
    "password": "demo-password",
}

# Values for query strings and path segments, already percent-encoded where that matters:
# huge and out-of-range numbers, NUL, bytes that are not UTF-8, very long strings.
RAW_VALUES: dict[str, str] = {
    "huge": "9" * 30,
    "huge_negative": "-" + "9" * 30,
    "java_long_max_plus_1": "9223372036854775808",
    "java_int_max_plus_1": "2147483648",
    "year_10000_ms": "253402300800000",
    "before_year_1_ms": "-62135596800001",
    "exp_1e400": "1e400",
    "exp_1e20": "1e20",
    "exp_negative": "-1e20",
    "negative": "-1",
    "zero": "0",
    "nan": "NaN",
    "infinity": "Infinity",
    "fraction": "1.5",
    "nul": "%00",
    "nul_inside": "1%002",
    "not_utf8": "%FF%FE%FD",
    "overlong_utf8": "%C0%AF",
    "surrogate_utf8": "%ED%A0%80",
    "superscript_two": "%C2%B2",
    "arabic_digits": "%D9%A1%D9%A2",
    "underscore": "1_000",
    "digits_5000": "9" * 5000,
    "long_text": "x" * 8000,
    "braces": "%7B%7D",
    "braced_huge": "%7B" + "9" * 40 + "%7D",
    "comma_list": "1,,2,%FF,",
    "empty": "",
    "space": "%20",
    "date_9999": "12%2F31%2F9999",
}

# Values for JSON bodies, as raw JSON text (some are not strict JSON, which Python accepts).
JSON_VALUES: dict[str, bytes] = {
    "huge": b"1" + b"0" * 30,
    "huge_negative": b"-1" + b"0" * 30,
    "java_long_max_plus_1": b"9223372036854775808",
    "float_1e400": b"1e400",
    "float_negative_1e400": b"-1e400",
    "nan": b"NaN",
    "infinity": b"Infinity",
    "negative": b"-1",
    "zero": b"0",
    "fraction": b"1.5",
    "true": b"true",
    "null": b"null",
    "nested_list": b"[1, [2], {}]",
    "object": b'{"a": {"b": []}}',
    "nul": b'"\\u0000"',
    "lone_surrogate": b'"\\ud800"',
    "superscript_two": b'"\\u00b2"',
    "digits_5000": b"9" * 5000,
    "digit_string_5000": b'"' + b"9" * 5000 + b'"',
    "huge_digit_string": b'"' + b"9" * 30 + b'"',
    "braced_huge": b'"{' + b"9" * 40 + b'}"',
    "long_string": b'"' + b"x" * 100_000 + b'"',
    "date_9999": b'"12/31/9999"',
    "date_zero": b'"00/00/0000"',
    "not_utf8": b'"\xff\xfe"',
}

# Whole bodies for the JSON endpoints.
JUNK_BODIES: dict[str, bytes] = {
    "empty": b"",
    "not_utf8": b"\xff\xfe\x00garbage",
    "nul": b"\x00" * 1000,
    "array": b"[]",
    "null": b"null",
    "number": b"1e400",
    "deep_arrays": b"[" * 100_000,
    "deep_objects": b'{"a":' * 50_000,
    "truncated": b'{"a": ',
}


@dataclass
class Case:
    label: str
    method: str
    path: str  # may carry a raw query string
    headers: dict = field(default_factory=dict)
    content: bytes | None = None


def json_with(base: dict, name: str, raw: bytes) -> bytes:
    """``base`` as JSON with ``name`` set to the raw JSON text ``raw``."""
    head = json.dumps(base).encode()
    separator = b", " if base else b""
    return head[:-1] + separator + json.dumps(name).encode() + b": " + raw + b"}"


def nested_json(outer: dict, path: list[str], name: str, raw: bytes) -> bytes:
    """``outer`` with ``{path[0]: {path[1]: ... {name: raw}}}`` spliced in as raw JSON."""
    inner = json_with({}, name, raw)
    for key in reversed(path[1:]):
        inner = json_with({}, key, inner)
    return json_with(outer, path[0], inner)


def run(http: httpx.Client, base_url: str, cases: Iterator[Case], check) -> list[str]:
    """Send every case; return a line for each 5xx or answer not in the vendor's shape."""
    failures, count = [], 0
    for case in cases:
        count += 1
        try:
            response = http.request(
                case.method, base_url + case.path, headers=case.headers, content=case.content
            )
        except httpx.TransportError as exc:  # e.g. the server closed the connection on a crash
            failures.append(f"{case.label}: {case.method} {case.path[:80]} -> {exc!r}")
            continue
        problem = None
        if response.status_code >= 500:
            problem = "server error"
        elif not response.is_redirect:  # e.g. Starlette's trailing-slash redirect
            try:
                problem = check(case, response)
            except (ValueError, KeyError, TypeError) as exc:
                problem = f"unexpected body ({exc!r})"
        if problem:
            failures.append(
                f"{case.label}: {case.method} {case.path[:80]} -> {response.status_code} "
                f"{problem}: {response.text[:160]}"
            )
    assert count > 200  # the sweep really ran
    return failures


# --- 7SIGNAL ---------------------------------------------------------------------------------
SEVEN_QUERY = {
    "/eyes": ["eyesType", "organization", "organizationId"],
    "/eyes/agents": [
        "page",
        "perPage",
        "limit",
        "order",
        "sortField",
        "sort",
        "platform",
        "platform[]",
        "lastSsid",
        "lastLocationId",
        "lastLocation",
        "clientName",
        "nickname",
        "licenseConstraint",
        "organization",
    ],
    "/incidents/agents": ["from", "to", "location_id", "order", "organization"],
}


def seven_cases(token: str) -> Iterator[Case]:
    auth = {"Authorization": f"Bearer {token}"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for kind, raw in RAW_VALUES.items():
        for path, names in SEVEN_QUERY.items():
            for name in names:
                yield Case(f"{name}={kind}", "GET", f"{path}?{name}={raw}", auth)
        yield Case(f"from&to={kind}", "GET", f"/incidents/agents?from={raw}&to={raw}", auth)
        for path in ("/eyes/agents/", "/incidents/agents/"):
            yield Case(f"{path}{{id}}={kind}", "GET", path + raw, auth)
        for name in ("grant_type", "client_id", "client_secret", "scope"):
            body = f"{name}={raw}&grant_type=client_credentials&client_id=fleetwatch-demo"
            body += "&client_secret=demo-secret"
            yield Case(f"token {name}={kind}", "POST", "/oauth2/token", form, body.encode())
        yield Case(f"bearer={kind}", "GET", "/eyes", {"Authorization": f"Bearer {raw or 0}"})
        basic = base64.b64encode(f"{raw}:{raw}".encode()).decode()
        yield Case(
            f"basic={kind}",
            "POST",
            "/oauth2/token",
            {**form, "Authorization": f"Basic {basic}"},
            b"grant_type=client_credentials",
        )
    for kind, body in JUNK_BODIES.items():
        yield Case(f"token body {kind}", "POST", "/oauth2/token", form, body)


def seven_check(case: Case, response: httpx.Response) -> str | None:
    if response.status_code < 400:
        response.json()
        return None
    if response.status_code == 429:
        return None if response.content == b"" else "429 with a body"
    body = response.json()
    if case.path.startswith("/oauth2/token") and "error" in body:
        return None if set(body) == {"error", "error_description", "error_uri"} else "shape"
    return None if list(body) == SPRING_KEYS else "not the Spring error shape"


# --- MetaAccess ------------------------------------------------------------------------------
MA_JSON = {
    "/o/api/v3/devices/status_changed": ["age", "verbose", "limit", "page"],
    "/o/api/v3/activities": [
        "limit",
        "page",
        "start_date",
        "end_date",
        "age",
        "action",
        "search",
    ],
    "/o/api/v3.6/devices": ["limit", "token"],
}
MA_TOKEN_FIELDS = ["grant_type", "client_id", "client_secret", "refresh_token"]
MA_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MA_AS_JSON = {"Content-Type": "application/json"}


def metaaccess_cases(token: str, refresh: str) -> Iterator[Case]:
    q = f"access_token={token}"
    grant = {**MA_CREDS, "grant_type": "refresh_token", "refresh_token": refresh}
    for kind, raw in RAW_VALUES.items():
        yield from _metaaccess_raw_cases(kind, raw, q, grant)
    for kind, raw in JSON_VALUES.items():
        yield from _metaaccess_json_cases(kind, raw, q, grant)
    for kind, body in JUNK_BODIES.items():
        for path in MA_JSON:
            yield Case(f"{path} body {kind}", "POST", f"{path}?{q}", MA_AS_JSON, body)
        yield Case(f"token body {kind}", "POST", "/o/oauth/token", MA_AS_JSON, body)


def _metaaccess_raw_cases(kind: str, raw: str, q: str, grant: dict) -> Iterator[Case]:
    """One raw (query, form, date) value in every MetaAccess place that takes text."""
    form = MA_FORM
    for name in ("limit", "page", "access_token"):
        yield Case(f"v2.2 {name}={kind}", "GET", f"/o/api/v2.2/devices?{name}={raw}&{q}")
    yield Case(f"account token={kind}", "GET", f"/o/api/v2/account?access_token={raw}")
    for name in MA_TOKEN_FIELDS:
        query = "&".join(f"{k}={v}" for k, v in grant.items() if k != name)
        yield Case(f"token GET {name}={kind}", "GET", f"/o/oauth/token?{name}={raw}&{query}")
        body = f"{name}={raw}&{query}".encode()
        yield Case(f"token form {name}={kind}", "POST", "/o/oauth/token", form, body)
    for name in ("start_date", "end_date"):
        other = "end_date" if name == "start_date" else "start_date"
        body = json_with({other: "01/01/2026"}, name, json.dumps(raw).encode())
        yield Case(f"dates {name}={kind}", "POST", f"/o/api/v3/activities?{q}", {}, body)


def _metaaccess_json_cases(kind: str, raw: bytes, q: str, grant: dict) -> Iterator[Case]:
    """One JSON value in every MetaAccess JSON field."""
    as_json = MA_AS_JSON
    for path, names in MA_JSON.items():
        for name in names:
            yield Case(f"{name}={kind}", "POST", f"{path}?{q}", as_json, json_with({}, name, raw))
    for name in ("start_date", "end_date"):
        other = "end_date" if name == "start_date" else "start_date"
        body = json_with({other: "01/01/2026"}, name, raw)
        yield Case(f"both dates {name}={kind}", "POST", f"/o/api/v3/activities?{q}", {}, body)
    body = json_with({}, "action", b"[" + raw + b"]")
    yield Case(f"action[]={kind}", "POST", f"/o/api/v3/activities?{q}", as_json, body)
    for name in MA_TOKEN_FIELDS:
        base = {k: v for k, v in grant.items() if k != name}
        body = json_with(base, name, raw)
        yield Case(f"token JSON {name}={kind}", "POST", "/o/oauth/token", as_json, body)


def metaaccess_check(case: Case, response: httpx.Response) -> str | None:
    body = response.json()
    if response.status_code < 400:
        return None
    if case.path.startswith("/o/oauth/token"):
        return None if {"error", "error_description"} <= set(body) else "not an OAuth error"
    error = body["error"]
    return None if error["code"] == response.status_code and error["message"] else "shape"


# --- Sensaphone.net ---------------------------------------------------------------------------
SP_FILTERS = {
    "audit_log": [
        "var_ids",
        "user_ids",
        "changes",
        "start",
        "end",
        "begin_offset",
        "record_offset",
    ],
    "data_log": ["log_points", "status", "start", "end", "begin_offset", "record_offset"],
    "data_log_points": ["resource_type", "device_id"],
    "event_log": [
        "contact_ids",
        "device_ids",
        "zone_ids",
        "user_ids",
        "event_types",
        "start",
        "end",
        "begin_offset",
        "record_offset",
    ],
}


def sensaphone_cases(acctid: int, session: str) -> Iterator[Case]:
    s = f"/api/v1/{acctid}/{session}"
    creds = {"acctid": acctid, "session": session, "request_type": "read"}
    for kind, raw in RAW_VALUES.items():
        yield from _sensaphone_raw_cases(kind, raw, acctid, session)
    for kind, raw in JSON_VALUES.items():
        yield from _sensaphone_json_cases(kind, raw, s, creds)
    for kind, body in JUNK_BODIES.items():
        for path in ("/api/v1/login", "/api/v1/device", "/api/v1/device/zone"):
            yield Case(f"{path} body {kind}", "POST", path, {}, body)
        for log in SP_FILTERS:
            yield Case(f"{log} body {kind}", "POST", f"/api/v1/history/{log}", {}, body)
            yield Case(f"{log} body in path {kind}", "POST", f"{s}/history/{log}", {}, body)


def _sensaphone_raw_cases(kind: str, raw: str, acctid: int, session: str) -> Iterator[Case]:
    """One raw value in every Sensaphone URI segment."""
    s = f"/api/v1/{acctid}/{session}"
    yield Case(f"uri login {kind}", "GET", f"/api/v1/login/{raw or 'x'}/{raw or 'x'}")
    yield Case(f"acctid={kind}", "GET", f"/api/v2/{raw or 'x'}/{session}/login")
    yield Case(f"session={kind}", "GET", f"/api/v2/{acctid}/{raw or 'x'}/device")
    yield Case(f"login prop={kind}", "GET", f"{s}/login/{raw or 'x'}")
    yield Case(f"device_id={kind}", "GET", f"{s}/device/{raw or 'x'}")
    yield Case(f"zone_id={kind}", "GET", f"{s}/device/45000/zone/{raw or 'x'}")
    yield Case(f"zones device_id={kind}", "GET", f"{s}/device/{raw or 'x'}/zone")
    for log, names in SP_FILTERS.items():
        for name in names:
            yield Case(f"uri {log} {name}={kind}", "GET", f"{s}/history/{log}/{name}/{raw}")
        yield Case(f"uri {log} name={kind}", "GET", f"{s}/history/{log}/{raw or 'x'}/1")


def _sensaphone_json_cases(kind: str, raw: bytes, s: str, creds: dict) -> Iterator[Case]:
    """One JSON value in every Sensaphone JSON field (``s``: the session's URI prefix)."""
    for name in ("user_name", "password", "request_type", "resource"):
        base = {k: v for k, v in SP_LOGIN.items() if k != name}
        yield Case(f"login {name}={kind}", "POST", "/api/v1/login", {}, json_with(base, name, raw))
    for name in ("acctid", "session", "request_type"):
        base = {k: v for k, v in creds.items() if k != name}
        yield Case(
            f"device {name}={kind}", "POST", "/api/v1/device", {}, json_with(base, name, raw)
        )
    yield Case(f"device={kind}", "POST", "/api/v2/device", {}, json_with(creds, "device", raw))
    body = json_with(creds, "device", b"[" + json_with({}, "device_id", raw) + b"]")
    yield Case(f"device[].device_id={kind}", "POST", "/api/v2/device", {}, body)
    device = {"device_id": 45000}
    body = json_with(creds, "device", b"[" + json_with(device, "zone", raw) + b"]")
    yield Case(f"zone={kind}", "POST", "/api/v3/device/zone", {}, body)
    zone = b"[" + json_with({}, "zone_id", raw) + b"]"
    body = json_with(creds, "device", b"[" + json_with(device, "zone", zone) + b"]")
    yield Case(f"zone[].zone_id={kind}", "POST", "/api/v3/device/zone", {}, body)
    for log, names in SP_FILTERS.items():
        path = f"/api/v2/history/{log}"
        for name in names:
            body = nested_json(creds, ["history", log], name, raw)
            yield Case(f"json {log} {name}={kind}", "POST", path, {}, body)
        yield Case(f"json {log} history={kind}", "POST", path, {}, json_with(creds, "history", raw))
        body = nested_json({"request_type": "read"}, ["history", log], "begin_offset", raw)
        yield Case(
            f"json in path {log} begin_offset={kind}", "POST", f"{s}/history/{log}", {}, body
        )


def sensaphone_check(case: Case, response: httpx.Response) -> str | None:
    body = response.json()
    result = body["result"]
    if set(result) != {"success", "code", "message"} or "response" not in body:
        return "not the envelope"
    if response.status_code != 200 and result["success"]:
        return "an error status with success: true"
    return None


# --- the sweeps ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


@contextlib.contextmanager
def started(vendor: str, http: httpx.Client) -> Iterator[EmulatorServer]:
    """A vendor emulator on a frozen clock with its rate limit off (the sweeps are many)."""
    with EmulatorServer(vendor, seed=3, devices=100, clock=SimClock(EPOCH, speed=1e-9)) as server:
        assert http.put(server.url + "/_emulator/ratelimit", json={"enabled": False}).is_success
        yield server


def test_7signal_answers_every_extreme_value_with_its_own_4xx(http) -> None:
    with started("7signal", http) as server:
        token = http.post(
            server.url + "/oauth2/token", data={"grant_type": "client_credentials", **SEVEN_CREDS}
        ).json()["access_token"]
        failures = run(http, server.url, seven_cases(token), seven_check)
        assert not failures, "\n".join(failures)
        healthy = http.get(
            server.url + "/eyes/agents", headers={"Authorization": f"Bearer {token}"}
        )
        assert healthy.status_code == 200 and healthy.json()["results"]


def test_metaaccess_answers_every_extreme_value_with_its_own_4xx(http) -> None:
    with started("metaaccess", http) as server:
        tokens = http.post(
            server.url + "/o/oauth/token", data={"grant_type": "client_credentials", **MA_CREDS}
        ).json()
        cases = metaaccess_cases(tokens["access_token"], tokens["refresh_token"])
        failures = run(http, server.url, cases, metaaccess_check)
        assert not failures, "\n".join(failures)
        token = http.post(
            server.url + "/o/oauth/token", data={"grant_type": "client_credentials", **MA_CREDS}
        ).json()["access_token"]
        healthy = http.get(server.url + "/o/api/v2.2/devices", params={"access_token": token})
        assert healthy.status_code == 200 and healthy.json()


def test_sensaphone_answers_every_extreme_value_in_its_envelope(http) -> None:
    with started("sensaphone", http) as server:
        login = http.post(server.url + "/api/v1/login", json=SP_LOGIN).json()["response"]
        acctid, session = login["acctid"], login["session"]
        failures = run(http, server.url, sensaphone_cases(acctid, session), sensaphone_check)
        assert not failures, "\n".join(failures)
        healthy = http.get(f"{server.url}/api/v1/{acctid}/{session}/device").json()
        assert healthy["result"]["success"] and healthy["response"]["device"]


def test_control_api_refuses_extreme_clock_jumps_and_keeps_its_clock(http) -> None:
    with started("7signal", http) as server:
        url = server.url + "/_emulator/clock"
        before = http.get(url).json()["elapsed_seconds"]
        for raw in (b"1e400", b"-1e400", b"NaN", b"1" + b"0" * 30, str(367 * 86400).encode()):
            response = http.post(url + "/advance", content=b'{"seconds": ' + raw + b"}")
            assert response.status_code == 400, raw
            assert response.json()["error"]["field"] == "seconds"
        for body in (b'{"seconds": "\\ud800"}', b"[" * 100_000, b"\xff"):
            response = http.post(url + "/advance", content=body)
            assert response.status_code == 400 and response.json()["error"]["field"] in (
                "seconds",
                "body",
            )
        assert http.get(url).json()["elapsed_seconds"] == pytest.approx(before, abs=0.01)
        assert http.post(url + "/advance", json={"seconds": 60}).status_code == 200


# --- the audit's regressions, named ----------------------------------------------------------
@pytest.fixture(scope="module")
def seven(http) -> Iterator[tuple[EmulatorServer, dict]]:
    with started("7signal", http) as server:
        token = http.post(
            server.url + "/oauth2/token", data={"grant_type": "client_credentials", **SEVEN_CREDS}
        ).json()["access_token"]
        yield server, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("to=253402300800000", "to"),  # 10000-01-01T00:00:00Z: the first ms past year 9999
        ("from=253402300800000&to=253402300800000", "from"),
        ("to=1e20", "to"),
        ("from=-1e20&to=-1e20", "from"),
        ("from=-99999999999999&to=-99999999999999", "from"),
        ("to=-62135596800001", "to"),  # just before 0001-01-01
        ("to=-62135596800000", "to"),  # 0001-01-01 itself, but then from = to - 24 h is not
        ("to=9223372036854775807", "to"),  # Long.MAX_VALUE: a long, not an instant
        ("to=9223372036854775808", "to"),  # not even a long
        ("to=" + "9" * 5000, "to"),  # too long for int()
        ("from=1_000&to=2_000", "from"),  # Python's int() would take it; Java's does not
    ],
)
def test_7signal_out_of_range_instants_are_a_spring_400_naming_the_parameter(
    http, seven, query: str, name: str
) -> None:
    server, auth = seven
    response = http.get(f"{server.url}/incidents/agents?{query}", headers=auth)
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == SPRING_KEYS and body["error"] == "Bad Request"
    assert f"'{name}'" in body["message"]


def test_7signal_the_extreme_representable_instants_still_answer(http, seven) -> None:
    server, auth = seven
    last = 253402300799999  # 9999-12-31T23:59:59.999Z
    response = http.get(
        f"{server.url}/incidents/agents", params={"from": last - 1000, "to": last}, headers=auth
    )
    assert response.status_code == 200, response.text
    assert response.json()["range"]["toAsDateString"] == "9999-12-31T23:59:59.999Z[UTC]"
    first = -62135596800000 + 86_400_000  # 0001-01-02: the earliest `to` without a `from`
    response = http.get(f"{server.url}/incidents/agents", params={"to": first}, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["range"]["fromAsDateString"] == "0001-01-01T00:00:00.000Z[UTC]"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page=2147483648", "page"),  # Integer.MAX_VALUE + 1
        ("perPage=99999999999999999999", "perPage"),
        ("limit=-2147483649", "limit"),
        ("page=" + "9" * 5000, "page"),
    ],
)
def test_7signal_page_numbers_beyond_a_java_int_are_a_spring_400(
    http, seven, query: str, name: str
) -> None:
    server, auth = seven
    response = http.get(f"{server.url}/eyes/agents?{query}", headers=auth)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f"Method parameter '{name}': Failed to convert")


def test_7signal_largest_page_number_is_an_empty_page(http, seven) -> None:
    server, auth = seven
    response = http.get(
        f"{server.url}/eyes/agents", params={"page": 2**31 - 1, "perPage": 250}, headers=auth
    )
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [] and body["pagination"]["page"] == 2**31 - 1


@pytest.fixture(scope="module")
def metaaccess(http) -> Iterator[tuple[EmulatorServer, dict]]:
    with started("metaaccess", http) as server:
        token = http.post(
            server.url + "/o/oauth/token", data={"grant_type": "client_credentials", **MA_CREDS}
        ).json()["access_token"]
        yield server, {"access_token": token}


def ma_post(http, server, params, path: str, body: dict) -> httpx.Response:
    return http.post(server.url + path, params=params, json=body)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"start_date": "12/30/9999", "end_date": "12/31/9999"}, 400),
        ({"start_date": "12/31/9999", "end_date": "12/31/9999"}, 400),
        ({"start_date": "02/30/2026", "end_date": "03/01/2026"}, 400),  # the same 400
        ({"age": 10**30}, 400),
        ({"age": -(10**30)}, 400),
        ({"page": 10**30}, 413),  # a page past the end
        ({"page": -(10**30)}, 400),
        ({"limit": 10**30}, 406),
        ({"limit": -(10**30)}, 406),
    ],
)
def test_metaaccess_activities_extremes(http, metaaccess, body: dict, status: int) -> None:
    server, params = metaaccess
    response = ma_post(http, server, params, "/o/api/v3/activities", body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == status


def test_metaaccess_last_representable_end_date_still_answers(http, metaaccess) -> None:
    server, params = metaaccess
    body = {"start_date": "12/29/9999", "end_date": "12/30/9999"}
    response = ma_post(http, server, params, "/o/api/v3/activities", body)
    assert response.status_code == 200 and response.json() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"age": 10**30}, 400),
        ({"age": -(10**30)}, 400),
        ({"page": 10**30}, 413),
        ({"limit": 10**30}, 406),
        ({"verbose": 10**30}, 400),
    ],
)
def test_metaaccess_status_changed_extremes(http, metaaccess, body: dict, status: int) -> None:
    server, params = metaaccess
    response = ma_post(http, server, params, "/o/api/v3/devices/status_changed", body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == status


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=" + "9" * 30, 413),
        ("page=" + "9" * 5000, 400),
        ("limit=" + "9" * 5000, 400),
        ("limit=" + "9" * 30, 406),
    ],
)
def test_metaaccess_v22_page_and_limit_extremes(http, metaaccess, query: str, status: int) -> None:
    server, params = metaaccess
    url = f"{server.url}/o/api/v2.2/devices?{query}&access_token={params['access_token']}"
    response = http.get(url)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == status


def test_metaaccess_cursor_of_odd_digits_is_a_400(http, metaaccess) -> None:
    server, params = metaaccess
    for number in ("²", "9" * 5000, "0"):
        cursor = base64.urlsafe_b64encode(f"ma36:{number}".encode()).decode().rstrip("=")
        response = ma_post(http, server, params, "/o/api/v3.6/devices", {"token": cursor})
        assert response.status_code == 400, (number, response.text)


def test_metaaccess_non_ascii_secret_is_invalid_client(http, metaaccess) -> None:
    server, _ = metaaccess
    for secret in ("démo", "\ud800"):
        response = http.post(
            server.url + "/o/oauth/token",
            content=json.dumps(
                {"grant_type": "client_credentials", **MA_CREDS, "client_secret": secret}
            ),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_sensaphone_non_ascii_and_overlong_numbers_are_code_1(http) -> None:
    with started("sensaphone", http) as server:
        login = http.post(server.url + "/api/v1/login", json=SP_LOGIN).json()["response"]
        s = f"{server.url}/api/v1/{login['acctid']}/{login['session']}"
        for tail in (
            "device/%C2%B2",  # "²": str.isdigit() says yes, int() says no
            "device/" + "9" * 5000,
            "history/event_log/begin_offset/" + "9" * 5000,
            "history/data_log/log_points/1," + "9" * 5000,
        ):
            answer = http.get(f"{s}/{tail}")
            assert answer.status_code == 200, (tail, answer.text)
            assert answer.json()["result"]["code"] == 1, tail


# --- the generic guard -------------------------------------------------------------------------
def boom(*args, **kwargs):
    raise RuntimeError("an unexpected bug")


def _seven_probe(server: EmulatorServer, http: httpx.Client) -> tuple[str, dict]:
    token = http.post(
        server.url + "/oauth2/token", data={"grant_type": "client_credentials", **SEVEN_CREDS}
    ).json()["access_token"]
    server.emulator._check_organization = boom
    return "/eyes/agents", {"Authorization": f"Bearer {token}"}


def _metaaccess_probe(server: EmulatorServer, http: httpx.Client) -> tuple[str, dict]:
    token = http.post(
        server.url + "/o/oauth/token", data={"grant_type": "client_credentials", **MA_CREDS}
    ).json()["access_token"]
    server.emulator.world.live_from = boom
    return f"/o/api/v2.2/devices?access_token={token}", {}


def _sensaphone_probe(server: EmulatorServer, http: httpx.Client) -> tuple[str, dict]:
    login = http.post(server.url + "/api/v1/login", json=SP_LOGIN).json()["response"]
    server.emulator._device_view = boom
    return f"/api/v1/{login['acctid']}/{login['session']}/device", {}


def _seven_shape(body: dict) -> bool:
    return list(body) == SPRING_KEYS and body["status"] == 500


def _metaaccess_shape(body: dict) -> bool:
    return body == {"error": {"code": 500, "message": "internal error"}}


def _sensaphone_shape(body: dict) -> bool:
    return body["result"] == {"success": False, "code": 6, "message": "internal error"}


GUARDED: dict[str, tuple[Callable, Callable]] = {
    "7signal": (_seven_probe, _seven_shape),
    "metaaccess": (_metaaccess_probe, _metaaccess_shape),
    "sensaphone": (_sensaphone_probe, _sensaphone_shape),
}


@pytest.mark.parametrize("vendor", sorted(GUARDED))
def test_an_unexpected_exception_is_the_vendors_500_and_the_connection_survives(
    serve, client, vendor: str
) -> None:
    server = serve(vendor, seed=3, devices=50, clock=SimClock(EPOCH, speed=1e-9))
    probe, shape = GUARDED[vendor]
    path, headers = probe(server, client)
    connection = HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for _ in range(3):  # one keep-alive connection carries every request
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = json.loads(response.read())
            assert response.status == 500 and shape(body), body
            assert response.getheader("connection") != "close"
        connection.request("GET", "/_emulator/clock")
        assert connection.getresponse().status == 200  # the same connection, still open
    finally:
        connection.close()
    endpoints = client.get(server.url + "/_emulator/counters").json()["endpoints"]
    assert {"total": 3, "statuses": {"500": 3}} in endpoints.values()
