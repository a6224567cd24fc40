"""Black-box tests of the Sensaphone.net emulator over real HTTP on 127.0.0.1.

Most tests run on a frozen clock (it moves only when the control API advances it), so two
requests made a moment apart see the same simulated instant and can be compared exactly.
"""

import http.client
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest

from fleetwatch.codecs.sensaphone import encode, from_sensaphone, to_sensaphone
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.sensaphone import BENCH, bench_paths
from fleetwatch.emulators.server import EmulatorServer

EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EPOCH_TS = int(EPOCH.timestamp())
USER, PASSWORD = "demo@fleetwatch.local", "demo-password"
LOGIN = {"request_type": "create", "resource": "login", "user_name": USER, "password": PASSWORD}
LOGS = ["audit_log", "data_log", "data_log_points", "event_log"]
DEVICE, ZONE = 45000, 5001  # the first sensor device of every fleet and its temperature zone
HISTORY_SECONDS = 48 * 3600


def frozen_clock(epoch: datetime = EPOCH) -> SimClock:
    return SimClock(epoch, speed=1e-9)


class Api:
    """One running emulator with a session and helpers for both request modes."""

    def __init__(self, server: EmulatorServer, http: httpx.Client) -> None:
        self.server, self.http, self.url = server, http, server.url
        self.login()

    def login(self) -> dict:
        answer = self.post("/api/v1/login", LOGIN)
        assert answer["result"]["success"], answer
        self.acctid = answer["response"]["acctid"]
        self.session = answer["response"]["session"]
        return answer

    def raw(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.http.request(method, self.url + path, **kwargs)

    def get(self, path: str) -> dict:
        response = self.raw("GET", path)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body, content_type: str | None = "application/json") -> dict:
        content = body if isinstance(body, str | bytes) else json.dumps(body)
        headers = {"Content-Type": content_type} if content_type else {}
        response = self.raw("POST", path, content=content, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def uri(self, tail: str, version: str = "v1") -> dict:
        return self.get(f"/api/{version}/{self.acctid}/{self.session}/{tail}")

    def history_json(self, log: str, filters: dict, version: str = "v1", **kwargs) -> dict:
        body = {
            "acctid": self.acctid,
            "session": self.session,
            "request_type": "read",
            "history": {log: filters},
        }
        return self.post(f"/api/{version}/history/{log}", body, **kwargs)

    def control(self, method: str, path: str, body=None) -> httpx.Response:
        return self.http.request(method, f"{self.url}/_emulator/{path}", json=body)

    def act(self, action: str, **params) -> dict:
        response = self.control("POST", "scenario", {"action": action, **params})
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        assert self.control("POST", "clock/advance", {"seconds": seconds}).status_code == 200

    def truth(self) -> dict:
        return self.control("GET", "truth").json()

    def events(self, **filters) -> list[dict]:
        answer = self.history_json("event_log", {"record_offset": 5000, **filters})
        assert answer["result"]["code"] == 0, answer
        return answer["response"]["history"]["event_log"]


def ok(answer: dict) -> dict:
    assert answer["result"] == {"success": True, "code": 0, "message": "Success"}, answer
    return answer["response"]


def failed(answer: dict, code: int) -> str:
    assert answer["result"]["success"] is False, answer
    assert answer["result"]["code"] == code, answer
    assert answer["response"] == {}
    return answer["result"]["message"]


@pytest.fixture
def api(serve, client) -> Api:
    """A fresh emulator (3 sensor devices) on a frozen clock, logged in."""
    return Api(serve("sensaphone", seed=7, devices=100, clock=frozen_clock()), client)


@pytest.fixture(scope="module")
def still() -> Api:
    """One emulator shared by the tests that change nothing."""
    server = EmulatorServer("sensaphone", seed=7, devices=100, clock=frozen_clock()).start()
    try:
        with httpx.Client(timeout=10) as http:
            yield Api(server, http)
    finally:
        server.stop()


def raw_get(api: Api, path: str) -> tuple[int, dict]:
    """GET with the path sent byte for byte (httpx would percent-encode raw braces)."""
    connection = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# --- login and sessions ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/json"]
)
def test_json_login_returns_the_documented_fields(still: Api, content_type) -> None:
    response = ok(still.post("/api/v1/login", LOGIN, content_type=content_type))
    assert set(response) == {
        "acctid",
        "session",
        "login_timestamp",
        "session_expiration",
        "user_id",
    }
    assert isinstance(response["acctid"], int) and isinstance(response["user_id"], int)
    assert isinstance(response["session"], str) and len(response["session"]) >= 32
    assert response["login_timestamp"] == EPOCH_TS  # simulated clock, not wall time
    assert response["session_expiration"] == 86400
    # The new session works.
    assert ok(still.uri("login", version="v1"))["acctid"] == response["acctid"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/login/demo@fleetwatch.local/demo-password",
        "/api/v1/login/{demo@fleetwatch.local}/{demo-password}",
        "/api/v2/login/%7Bdemo%40fleetwatch.local%7D/%7Bdemo-password%7D",
        "/api/v3/login/demo%40fleetwatch.local/demo%2Dpassword/",
    ],
)
def test_uri_login_with_and_without_braces_raw_or_encoded(still: Api, path: str) -> None:
    status, answer = raw_get(still, path)
    assert status == 200
    response = ok(answer)
    assert response["acctid"] == still.acctid and response["session_expiration"] == 86400
    # POST works too (the 2026 FAQ revision uses POST).
    posted = still.raw("POST", path.replace("{", "%7B").replace("}", "%7D"))
    assert ok(posted.json())["acctid"] == still.acctid


@pytest.mark.parametrize(
    "body",
    [
        {**LOGIN, "password": "wrong"},
        {**LOGIN, "user_name": "someone@else.example"},
    ],
)
def test_bad_credentials_are_code_3_with_http_200(still: Api, body: dict) -> None:
    assert "Login failed" in failed(still.post("/api/v1/login", body), 3)


def test_bad_uri_credentials_are_code_3(still: Api) -> None:
    failed(still.get("/api/v1/login/demo@fleetwatch.local/nope"), 3)
    failed(still.get("/api/v1/login/demo@fleetwatch.local"), 1)  # not a user/password pair


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"request_type": "create", "resource": "login", "user_name": USER}, "password"),
        ({**LOGIN, "request_type": "read"}, "request_type"),
        ({**LOGIN, "resource": "device"}, "resource"),
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
        ("", "JSON object"),
    ],
)
def test_malformed_login_is_code_1(still: Api, body, needle: str) -> None:
    assert needle in failed(still.post("/api/v1/login", body), 1)


def test_session_introspection_uri_and_json(api: Api) -> None:
    info = ok(api.uri("login"))
    assert info["session"] == api.session and info["session_expiration"] == 86400
    api.advance(600)
    assert ok(api.uri("login/login_timestamp")) == {"login_timestamp": EPOCH_TS}
    assert ok(api.uri("login/{session_expiration}")) == {"session_expiration": 86400 - 600}
    body = {"request_type": "read", "resource": "login", "acctid": api.acctid}
    response = ok(api.post("/api/v2/login", {**body, "session": api.session}))
    assert response["session_expiration"] == 86400 - 600
    failed(api.uri("login/colour"), 1)


def test_session_expires_after_86400_simulated_seconds(api: Api) -> None:
    api.advance(86_000)
    assert ok(api.uri("login/session_expiration"))["session_expiration"] == 400
    api.advance(400)
    assert "expired" in failed(api.uri("device"), 2).lower()
    failed(api.history_json("event_log", {}), 2)
    api.login()  # a client logs in again on code 2
    assert ok(api.uri("device"))["device"]


def test_expire_credentials_fault_makes_every_session_code_2(api: Api) -> None:
    old = api.session
    ok(api.uri("device/45000"))
    assert api.control("POST", "faults", {"kind": "expire_credentials"}).status_code == 201
    failed(api.uri("device/45000"), 2)
    failed(api.history_json("audit_log", {}), 2)
    api.login()
    assert api.session != old
    ok(api.uri("device/45000"))


def test_wrong_account_or_session_is_code_2_and_bad_acctid_code_1(still: Api) -> None:
    failed(still.get(f"/api/v1/{still.acctid + 1}/{still.session}/device"), 2)
    failed(still.get(f"/api/v1/{still.acctid}/deadbeef/device"), 2)
    failed(still.get(f"/api/v1/%7B{still.acctid}%7D/%7Bdeadbeef%7D/device"), 2)
    assert "acctid" in failed(still.get(f"/api/v1/abc/{still.session}/device"), 1)
    body = {"request_type": "read", "resource": "device", "device": None}
    assert "acctid" in failed(still.post("/api/v1/device", body), 1)


def test_credentials_in_braces_are_accepted_in_uri_mode(still: Api) -> None:
    status, answer = raw_get(still, f"/api/v1/{{{still.acctid}}}/{{{still.session}}}/device")
    assert status == 200 and len(ok(answer)["device"]) == 3


# --- envelope and transport-level errors -----------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/api/v1/nothing/here/at/all", "/api/v9/login", "/nope", "/api/v1/{a}/{s}/history/bogus_log"],
)
def test_unknown_paths_are_404_in_the_envelope(still: Api, path: str) -> None:
    path = path.replace("{a}", str(still.acctid)).replace("{s}", still.session)
    response = still.raw("GET", path)
    assert response.status_code == 404
    assert response.json()["result"]["success"] is False
    assert response.json()["result"]["code"] == 1
    assert response.json()["response"] == {}


def test_wrong_method_is_405_in_the_envelope(still: Api) -> None:
    response = still.raw("GET", "/api/v1/device")
    assert response.status_code == 405
    assert response.json()["result"]["success"] is False


@pytest.mark.parametrize(("kind", "status"), [("http_500", 500), ("http_503", 503)])
def test_injected_server_errors_use_the_envelope(api: Api, kind: str, status: int) -> None:
    assert api.control("POST", "faults", {"kind": kind, "count": 1}).status_code == 201
    response = api.raw("GET", f"/api/v1/{api.acctid}/{api.session}/device")
    assert response.status_code == status
    assert response.json()["result"] == {"success": False, "code": 6, "message": "injected fault"}
    ok(api.uri("device"))  # the next request is served normally


def test_keeps_serving_after_malformed_requests(api: Api) -> None:
    junk = [
        ("POST", "/api/v1/history/event_log", b"\xff\xfe\x00garbage"),
        ("POST", "/api/v1/history/event_log", b'{"history": '),
        ("POST", "/api/v1/device", b"null"),
        ("POST", "/api/v1/device/zone", b'{"acctid": [], "session": {}}'),
        ("POST", "/api/v1/login", b"\x00" * 10_000),
        ("GET", f"/api/v1/{api.acctid}/{api.session}/history/data_log/start/" + "9" * 400, b""),
        ("GET", f"/api/v1/{api.acctid}/{api.session}/device/%00%7B", b""),
        ("POST", f"/api/v1/{api.acctid}/{api.session}/history/audit_log", b"[[[["),
    ]
    for method, path, body in junk:
        response = api.raw(method, path, content=body)
        assert response.status_code in (200, 404), (path, response.text)
        assert response.json()["result"]["success"] is False, path
    assert ok(api.uri("device"))["device"]
    assert ok(api.history_json("event_log", {}))["history"]["event_log"]


# --- devices and zones -----------------------------------------------------------------------
VALUE_WITH_UNITS = re.compile(r"^-?\d+\.\d+ (°F|Ft|%|V)$|^(On|Off)$")


def test_device_read_json_and_uri_mode_agree(still: Api) -> None:
    body = {
        "request_type": "read",
        "resource": "device",
        "acctid": still.acctid,
        "session": still.session,
        "device": None,
    }
    by_json = ok(still.post("/api/v1/device", body, content_type=None))["device"]
    by_uri = ok(still.uri("device"))["device"]
    assert by_json == by_uri
    assert [d["device_id"] for d in by_uri] == [45000, 45001, 45002]
    device = by_uri[0]
    for key in ("id", "name", "description", "timezone", "product", "is_online"):
        assert key in device
    assert device["power_value"] in ("On", "Off")
    assert device["battery_value"].endswith(" V")
    assert [z["type"] for z in device["zone"]] == [
        "temperature",
        "water",
        "humidity",
        "power",
        "battery",
    ]
    for zone in device["zone"]:
        assert VALUE_WITH_UNITS.match(zone["value"]), zone["value"]
        assert set(zone["alarm_zone"]) == {
            "alarm_low",
            "alarm_high",
            "alarm_status",
            "alarm_status_str",
            "unack_alarms",
        }
    one = ok(still.post("/api/v1/device", {**body, "device": [{"device_id": 45001}]}))
    assert one["device"] == [by_uri[1]]
    assert ok(still.uri("device/%7B45001%7D"))["device"] == [by_uri[1]]


def test_zone_read_json_and_uri_mode_agree(still: Api) -> None:
    body = {
        "request_type": "read",
        "resource": "device",
        "acctid": still.acctid,
        "session": still.session,
        "device": [{"device_id": DEVICE, "zone": None}],
    }
    by_json = ok(still.post("/api/v2/device/zone", body))["device"]
    by_uri = ok(still.uri(f"device/{DEVICE}/zone", version="v2"))["device"]
    assert by_json == by_uri
    assert [z["zone_id"] for z in by_uri[0]["zone"]] == [5001, 5002, 5003, 5004, 5005]
    single = ok(still.uri(f"device/{DEVICE}/zone/{ZONE}"))["device"][0]["zone"]
    assert [z["zone_id"] for z in single] == [ZONE]
    body["device"] = [{"device_id": DEVICE, "zone": [{"zone_id": 5003}]}]
    one = ok(still.post("/api/v1/device/zone", body))["device"][0]["zone"]
    assert [z["zone_id"] for z in one] == [5003]


def test_unknown_ids_are_code_4_and_non_integers_code_1(still: Api) -> None:
    failed(still.uri("device/99999"), 4)
    failed(still.uri(f"device/{DEVICE}/zone/1"), 4)
    failed(still.uri(f"device/{DEVICE}/zone/5006"), 4)  # a zone of another device
    assert "device_id" in failed(still.uri("device/pump"), 1)
    body = {"request_type": "read", "acctid": still.acctid, "session": still.session}
    failed(still.post("/api/v1/device", {**body, "device": [{"device_id": 12}]}), 4)
    failed(still.post("/api/v1/device", {**body, "device": "all"}), 1)
    failed(still.post("/api/v1/device", {**body, "request_type": "update"}), 1)


def test_v2_and_v3_add_zone_type_meta_v1_does_not(still: Api) -> None:
    v1 = ok(still.uri(f"device/{DEVICE}", version="v1"))["device"][0]
    v2 = ok(still.uri(f"device/{DEVICE}", version="v2"))["device"][0]
    v3 = ok(still.uri(f"device/{DEVICE}/zone", version="v3"))["device"][0]
    assert "zone_meta" not in v1
    types = {t["type"] for t in v2["zone_meta"]["type_list"]}
    assert types == {"temperature", "water", "humidity", "power", "battery"}
    assert v3["zone_meta"] == v2["zone_meta"]
    assert {k: v for k, v in v2.items() if k != "zone_meta"} == v1


# --- history: modes, parity, echo ------------------------------------------------------------
def _uri_tail(filters: dict) -> str:
    parts = []
    for name, value in filters.items():
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts += [name, "{" + text + "}"]
    return "/".join(parts)


def parity_cases() -> list[tuple[str, dict]]:
    start = encode(2026, 2, 28, 0, 0, 0)
    end = encode(2026, 3, 1, 6, 0, 0)
    return [
        ("audit_log", {}),
        ("audit_log", {"changes": ["update", "create"], "begin_offset": 1, "record_offset": 3}),
        ("audit_log", {"start": start, "end": end, "changes": ["update"]}),
        ("data_log", {"log_points": [124005001, 124005002], "record_offset": 20}),
        ("data_log", {"status": ["normal"], "start": start, "end": end, "begin_offset": 7}),
        ("data_log", {"log_points": [124005003], "status": ["alarm"], "record_offset": 100}),
        ("data_log_points", {"resource_type": "device", "device_id": DEVICE}),
        ("event_log", {}),
        ("event_log", {"device_ids": [45000, 45002], "event_types": ["alarm", "notification"]}),
        ("event_log", {"start": start, "end": end, "begin_offset": 2, "record_offset": 5}),
    ]


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(("log", "filters"), parity_cases())
def test_uri_and_json_mode_give_identical_results(
    still: Api, log: str, filters: dict, version: str
) -> None:
    by_json = ok(still.history_json(log, filters, version=version))
    by_uri = ok(still.uri(f"history/{log}/{_uri_tail(filters)}", version=version))
    assert by_json == by_uri
    assert log in by_uri["history"]
    if log == "data_log_points":
        assert by_uri["history"][log]["log_points"]
    # Encoded braces and no braces at all give the same answer.
    encoded = quote(f"history/{log}/{_uri_tail(filters)}", safe="/")
    assert ok(still.uri(encoded, version=version)) == by_uri
    bare = f"history/{log}/{_uri_tail(filters)}".replace("{", "").replace("}", "")
    assert ok(still.uri(bare, version=version)) == by_uri


def test_every_log_has_a_parity_case_with_results(still: Api) -> None:
    covered = {log for log, _ in parity_cases()}
    assert covered == set(LOGS)
    for log, filters in parity_cases():
        result = ok(still.history_json(log, filters))["history"][log]
        assert result, (log, filters)  # parity over empty answers would prove little


def test_raw_braces_in_uri_filters(still: Api) -> None:
    path = f"/api/v1/{still.acctid}/{still.session}/history/event_log/device_ids/{{45000}}"
    status, answer = raw_get(still, path)
    assert status == 200
    events = ok(answer)["history"]["event_log"]
    assert events and {e["device_id"] for e in events} == {45000}


def test_filter_pairs_in_any_order_and_trailing_non_pair_ignored(still: Api) -> None:
    a = ok(still.uri("history/event_log/device_ids/{45001}/event_types/{alarm}/record_offset/3"))
    b = ok(still.uri("history/event_log/record_offset/3/event_types/alarm/device_ids/45001/junk"))
    c = ok(still.uri("history/event_log/event_types/{alarm}/device_ids/{45001}/record_offset/{3}/"))
    assert a == b == c
    assert len(a["history"]["event_log"]) == 3
    assert {e["type"] for e in a["history"]["event_log"]} == {"alarm"}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_history_json_body_is_parsed_whatever_the_content_type(still: Api, content_type) -> None:
    filters = {"event_types": ["alarm"], "record_offset": 4}
    plain = ok(still.history_json("event_log", filters))
    assert ok(still.history_json("event_log", filters, content_type=content_type)) == plain
    assert len(plain["history"]["event_log"]) == 4


def test_json_mode_with_credentials_in_the_path(still: Api) -> None:
    """The wiki's own JSON-mode example posts to /{ACCOUNT}/{SESSION}/history/audit_log/."""
    body = {"request_type": "read", "history": {"audit_log": {"changes": ["update"]}}}
    path = f"/api/v2/{still.acctid}/{still.session}/history/audit_log/"
    by_path = ok(still.post(path, body, content_type="text/plain"))
    assert by_path == ok(still.history_json("audit_log", {"changes": ["update"]}, version="v2"))
    assert by_path["history"]["audit_log_filter"]["changes"] == ["update"]


@pytest.mark.parametrize("log", LOGS)
def test_v1_has_no_filter_echo_v2_and_v3_do(still: Api, log: str) -> None:
    filters = {"resource_type": "device", "device_id": DEVICE} if log == "data_log_points" else {}
    tail = f"history/{log}/{_uri_tail(filters)}"
    assert set(ok(still.uri(tail, version="v1"))["history"]) == {log}
    for version in ("v2", "v3"):
        answer = ok(still.uri(tail, version=version))["history"]
        assert set(answer) == {log, f"{log}_filter"}
    if log != "data_log_points":
        echo = ok(still.uri(f"history/{log}/record_offset/{{9000}}", version="v2"))["history"]
        assert echo[f"{log}_filter"] == {"begin_offset": 0, "record_offset": 5000}  # capped


def test_json_history_request_must_be_a_read_with_a_history_object(still: Api) -> None:
    base = {"acctid": still.acctid, "session": still.session}
    path = "/api/v1/history/event_log"
    assert "request_type" in failed(still.post(path, {**base, "history": {}}), 1)
    failed(still.post(path, {**base, "request_type": "read", "history": []}), 1)
    wrong_log = {**base, "request_type": "read", "history": {"audit_log": {}}}
    assert "history.event_log" in failed(still.post(path, wrong_log), 1)
    fine = {**base, "request_type": "read", "history": {"event_log": None}}
    assert ok(still.post(path, fine))["history"]["event_log"]


# --- history: paging -------------------------------------------------------------------------
def test_paging_newest_first_in_pages_down_to_an_empty_page(still: Api) -> None:
    everything = ok(still.history_json("event_log", {"record_offset": 5000}))["history"]
    events = everything["event_log"]
    total = len(events)
    assert total > 20
    epochs = [e["epoch"] for e in events]
    assert epochs == sorted(epochs, reverse=True)  # begin_offset 0 is the newest
    pages, offset = [], 0
    while True:
        page = ok(still.history_json("event_log", {"begin_offset": offset, "record_offset": 7}))
        page = page["history"]["event_log"]
        if not page:
            break
        pages.append(page)
        offset += 7
    assert [e for page in pages for e in page] == events
    assert len(pages[-1]) == (total % 7 or 7)  # the last page holds what is left
    past = ok(still.history_json("event_log", {"begin_offset": total + 100}))
    assert past["history"]["event_log"] == []


@pytest.mark.parametrize("status", [None, ["normal"], ["alarm"]])
def test_data_log_pages_concatenate_to_one_big_page(still: Api, status) -> None:
    """15 log points and a page of 7: pages start in the middle of a time slot."""
    base = {"status": status} if status else {}
    everything = ok(still.history_json("data_log", {**base, "record_offset": 5000}))
    everything = everything["history"]["data_log"]
    assert everything
    pages = []
    for offset in range(0, 70, 7):
        page = ok(
            still.history_json("data_log", {**base, "begin_offset": offset, "record_offset": 7})
        )
        pages += page["history"]["data_log"]
    assert pages == everything[:70]
    keys = [(-r["epoch"], int(r["variable"])) for r in everything]
    assert keys == sorted(keys)  # newest first, then by log point


def test_default_page_is_50_and_the_cap_is_5000(serve, client) -> None:
    # 20 sensor devices x 5 zones x 193 records: more than one capped page.
    api = Api(serve("sensaphone", seed=7, devices=2000, clock=frozen_clock()), client)
    assert len(ok(api.uri("history/data_log"))["history"]["data_log"]) == 50
    big = ok(api.uri("history/data_log/record_offset/{7000}"))["history"]["data_log"]
    assert len(big) == 5000
    rest = ok(api.uri("history/data_log/begin_offset/5000/record_offset/5000"))["history"]
    assert len({r["record_id"] for r in big + rest["data_log"]}) == 10_000
    last = ok(api.uri("history/data_log/begin_offset/19000/record_offset/5000"))["history"]
    assert len(last["data_log"]) == 20 * 5 * 193 - 19000


def test_data_log_records_every_15_minutes_over_the_seeded_history(still: Api) -> None:
    point = 124005001
    records = ok(still.uri(f"history/data_log/log_points/{{{point}}}/record_offset/{{5000}}"))
    records = records["history"]["data_log"]
    assert len(records) == HISTORY_SECONDS // 900 + 1  # both ends included
    assert records[0]["epoch"] == EPOCH_TS and records[-1]["epoch"] == EPOCH_TS - HISTORY_SECONDS
    assert {a["epoch"] - b["epoch"] for a, b in itertools.pairwise(records)} == {900}
    record = records[0]
    assert set(record) == {
        "record_id",
        "variable",
        "value",
        "units",
        "is_alarm",
        "status",
        "timestamp",
        "when",
        "epoch",
    }
    assert record["variable"] == point  # an integer, like data_log_points' log_point
    assert isinstance(record["record_id"], str)  # the other ids stay strings, as the table says
    assert isinstance(record["value"], str) and float(record["value"])
    assert record["is_alarm"] in ("true", "false") and record["units"] == "°F"
    assert len({r["record_id"] for r in records}) == len(records)
    ok_page = ok(still.uri(f"history/data_log/log_points/{point}/begin_offset/193"))
    assert ok_page["history"]["data_log"] == []  # past the end


def test_data_log_timestamps_are_device_local_sensaphone_timestamps(still: Api) -> None:
    device = ok(still.uri(f"device/{DEVICE}"))["device"][0]
    tz = device["timezone"]
    assert tz.startswith("America/")
    # 03:00 to 04:00 on 1 March, device-local time.
    start, end = encode(2026, 3, 1, 3, 0, 0), encode(2026, 3, 1, 4, 0, 0)
    filters = {"log_points": [124005001], "start": start, "end": end}
    records = ok(still.history_json("data_log", filters))["history"]["data_log"]
    assert len(records) == 5  # 03:00, 03:15, 03:30, 03:45, 04:00
    for record in records:
        instant = datetime.fromtimestamp(record["epoch"], UTC)
        assert record["timestamp"] == to_sensaphone(instant, tz)
        assert start <= record["timestamp"] <= end
        assert record["when"].startswith("2026-03-01 0")
    assert records[-1]["epoch"] == int(from_sensaphone(start, tz).timestamp())
    # The same encoded window read in UTC would be a different slice of time.
    assert records[-1]["epoch"] != int(from_sensaphone(start, "UTC").timestamp())


def test_start_after_end_is_simply_empty(still: Api) -> None:
    filters = {"start": encode(2026, 3, 1, 0, 0, 0), "end": encode(2026, 2, 1, 0, 0, 0)}
    for log in ("audit_log", "data_log", "event_log"):
        assert ok(still.history_json(log, filters))["history"][log] == []


@pytest.mark.parametrize(
    ("log", "filters", "name"),
    [
        ("audit_log", {"var_ids": "12,abc"}, "var_ids"),
        ("audit_log", {"user_ids": [True]}, "user_ids"),
        ("audit_log", {"changes": ["modify"]}, "changes"),
        ("data_log", {"status": ["broken"]}, "status"),
        ("data_log", {"log_points": [-3]}, "log_points"),
        ("data_log", {"start": encode(2024, 2, 1, 0, 0, 0) + 29 * 86400}, "start"),  # 30 Feb
        ("data_log", {"end": 4_000_000_000}, "end"),
        ("event_log", {"event_types": ["alarm", "meteor"]}, "event_types"),
        ("event_log", {"begin_offset": "-1"}, "begin_offset"),
        ("event_log", {"record_offset": 0}, "record_offset"),
        ("event_log", {"device_ids": {"a": 1}}, "device_ids"),
        ("data_log_points", {"resource_type": "device"}, "device_id"),
        ("data_log_points", {"resource_type": "planet", "device_id": DEVICE}, "resource_type"),
    ],
)
def test_bad_filter_values_are_code_1_naming_the_filter(still: Api, log, filters, name) -> None:
    assert f"'{name}'" in failed(still.history_json(log, filters), 1)
    json_only = any(isinstance(v, dict) or v == [True] for v in filters.values())
    if not json_only:  # the same mistake in URI mode
        assert f"'{name}'" in failed(still.uri(f"history/{log}/{_uri_tail(filters)}"), 1)


def test_data_log_points_lists_each_zone_and_unknown_device_is_code_4(still: Api) -> None:
    answer = ok(still.uri(f"history/data_log_points/resource_type/{{device}}/device_id/{DEVICE}"))
    points = answer["history"]["data_log_points"]
    assert points["resource_type"] == "device" and points["device_id"] == DEVICE
    assert [p["zone_id"] for p in points["log_points"]] == [5001, 5002, 5003, 5004, 5005]
    assert {p["category"] for p in points["log_points"]} >= {"temperature", "power"}
    assert points["log_points"][0]["log_point"] == 124005001
    failed(still.uri("history/data_log_points/resource_type/device/device_id/1"), 4)


def test_data_log_joins_data_log_points_on_variable_equals_log_point(still: Api) -> None:
    """What a public client does: read a device's log points, then its data log, and join the
    records' ``variable`` to the points' ``log_point`` (no type conversion)."""
    answer = ok(
        still.history_json("data_log_points", {"resource_type": "device", "device_id": DEVICE})
    )
    zone_by_point = {
        p["log_point"]: p["zone_id"] for p in answer["history"]["data_log_points"]["log_points"]
    }
    records = ok(
        still.history_json("data_log", {"log_points": list(zone_by_point), "record_offset": 50})
    )["history"]["data_log"]
    joined = [(zone_by_point[r["variable"]], r) for r in records if r["variable"] in zone_by_point]
    assert len(joined) == len(records) == 50
    assert {zone for zone, _ in joined} == set(zone_by_point.values())
    point = next(iter(zone_by_point))  # the same in URI mode and in v2
    uri = ok(still.uri(f"history/data_log/log_points/{{{point}}}", "v2"))["history"]["data_log"]
    assert uri and {r["variable"] for r in uri} == {point}


def test_event_log_filters_narrow_the_results(still: Api) -> None:
    events = still.events()
    assert {"alarm", "notification"} <= {e["type"] for e in events}
    for event in events:
        assert event["when"] and isinstance(event["timestamp"], int)
        assert event["source"]["device"] == event["device_name"]
    contact = next(e["contact_id"] for e in events if e["contact_id"])
    by_contact = still.events(contact_ids=[contact])
    assert by_contact and all(e["contact_id"] == contact for e in by_contact)
    zone = next(e["zone_id"] for e in events if e["type"] == "alarm")
    by_zone = still.events(zone_ids=[zone])
    assert by_zone and {e["zone_id"] for e in by_zone} == {zone}
    user = next(e["user_id"] for e in events if e["type"] == "acknowledged")
    by_user = still.events(user_ids=[user])
    assert by_user and {e["user_id"] for e in by_user} == {user}
    assert {e["type"] for e in still.events(event_types=["offline", "online"])} <= {
        "offline",
        "online",
    }
    assert still.events(device_ids=[99]) == []


def test_audit_log_filters_narrow_the_results(still: Api) -> None:
    entries = ok(still.history_json("audit_log", {"record_offset": 5000}))["history"]["audit_log"]
    assert entries
    for entry in entries:
        assert {"change", "who", "what", "when", "epoch"} <= set(entry)
        assert entry["change"] in ("create", "delete", "update")
    var = entries[0]["var_id"]
    by_var = ok(still.uri(f"history/audit_log/var_ids/{{{var},1}}"))["history"]["audit_log"]
    assert by_var and {e["var_id"] for e in by_var} == {var}
    user = entries[0]["user_id"]
    by_user = ok(still.history_json("audit_log", {"user_ids": [user], "record_offset": 5000}))
    assert {e["user_id"] for e in by_user["history"]["audit_log"]} == {user}
    deletes = ok(still.history_json("audit_log", {"changes": ["delete"], "record_offset": 5000}))
    assert {e["change"] for e in deletes["history"]["audit_log"]} <= {"delete"}


# --- the scenario and the control API --------------------------------------------------------
def zone_status(api: Api, device_id: int, zone_id: int) -> dict:
    zones = ok(api.uri(f"device/{device_id}/zone/{zone_id}"))["device"][0]["zone"]
    return zones[0]


def test_alarm_ack_and_return_to_normal_show_in_logs_zones_and_truth(api: Api) -> None:
    zone_id = 5003  # humidity of device 45000 (thresholds 20-70 %)
    if any(a["zone_id"] == zone_id for a in api.truth()["open_alarms"]):
        api.act("clear_alarm", device_id=DEVICE, zone_id=zone_id)
    raised = api.act("raise_alarm", device_id=DEVICE, zone_id=zone_id, value=88.5)
    assert len(raised["event_ids"]) == 2  # the alarm and its notification
    alarm = api.events(event_types=["alarm"], zone_ids=[zone_id])[0]
    assert alarm["event_id"] in raised["event_ids"] and alarm["value"] == "88.5 %"
    assert alarm["epoch"] == EPOCH_TS and alarm["device_id"] == DEVICE
    truth = [a for a in api.truth()["open_alarms"] if a["zone_id"] == zone_id]
    assert truth == [
        {
            "device_id": DEVICE,
            "zone_id": zone_id,
            "zone_name": alarm["zone_name"],
            "since": "2026-03-01T12:00:00Z",
            "since_epoch": EPOCH_TS,
            "value": 88.5,
            "acknowledged": False,
        }
    ]
    zone = zone_status(api, DEVICE, zone_id)
    assert zone["value"] == "88.5 %" and zone["alarm_zone"]["alarm_status"] == 1
    assert zone["alarm_zone"]["alarm_status_str"] == "Alarm"

    api.advance(120)
    api.act("ack_alarm", device_id=DEVICE, zone_id=zone_id, user="alice@fleetwatch.local")
    ack = api.events(event_types=["acknowledged"], zone_ids=[zone_id])[0]
    assert ack["source"]["user"] == "alice@fleetwatch.local" and ack["user_id"]
    audit = ok(api.uri(f"history/audit_log/var_ids/{{{zone_id * 10 + 3}}}"))["history"]
    assert audit["audit_log"][0]["who"] == "alice@fleetwatch.local"
    assert audit["audit_log"][0]["epoch"] == EPOCH_TS + 120
    assert zone_status(api, DEVICE, zone_id)["alarm_zone"]["alarm_status"] == 17
    assert [a["acknowledged"] for a in api.truth()["open_alarms"] if a["zone_id"] == zone_id] == [
        True
    ]

    api.advance(60)
    api.act("clear_alarm", device_id=DEVICE, zone_id=zone_id)
    rtn = api.events(event_types=["return_to_normal"], zone_ids=[zone_id])[0]
    assert rtn["epoch"] == EPOCH_TS + 180
    assert all(a["zone_id"] != zone_id for a in api.truth()["open_alarms"])
    zone = zone_status(api, DEVICE, zone_id)
    assert zone["alarm_zone"]["alarm_status"] == 2 and zone["alarm_zone"]["unack_alarms"] == 0


def test_alarm_records_appear_in_the_data_log_status_filter(api: Api) -> None:
    zone_id, point = 5002, 124005002  # water level, 5-30 Ft
    if any(a["zone_id"] == zone_id for a in api.truth()["open_alarms"]):
        api.act("clear_alarm", device_id=DEVICE, zone_id=zone_id)
    api.act("raise_alarm", device_id=DEVICE, zone_id=zone_id, value=33.3)
    api.advance(1800)  # two more log slots
    alarms = ok(api.uri(f"history/data_log/log_points/{point}/status/alarm"))["history"]
    newest = alarms["data_log"][:3]
    assert [r["value"] for r in newest] == ["33.3", "33.3", "33.3"]
    assert {r["is_alarm"] for r in newest} == {"true"}
    assert newest[0]["epoch"] == EPOCH_TS + 1800
    normal = ok(api.uri(f"history/data_log/log_points/{point}/status/normal/record_offset/5000"))
    everything = ok(api.uri(f"history/data_log/log_points/{point}/record_offset/5000"))
    every = everything["history"]["data_log"]
    all_alarms = ok(api.uri(f"history/data_log/log_points/{point}/status/alarm/record_offset/5000"))
    assert len(every) == len(normal["history"]["data_log"]) + len(all_alarms["history"]["data_log"])
    assert {r["status"] for r in normal["history"]["data_log"]} == {"normal"}


def test_power_failure_drains_the_battery_and_returns(api: Api) -> None:
    device_id = 45001
    if any(p["device_id"] == device_id for p in api.truth()["power_failures"]):
        api.act("power_restore", device_id=device_id)
    api.act("power_fail", device_id=device_id)
    device = ok(api.uri(f"device/{device_id}"))["device"][0]
    assert device["power_value"] == "Off" and device["power_status"] == 1
    power_zone = next(z for z in device["zone"] if z["type"] == "power")
    assert power_zone["value"] == "Off"
    off = api.events(event_types=["power"], device_ids=[device_id])[0]
    assert off["event"] == "The power is OFF"
    [failure] = [p for p in api.truth()["power_failures"] if p["device_id"] == device_id]
    assert failure["since_epoch"] == EPOCH_TS and failure["battery_low"] is False
    api.advance(3 * 3600)  # the battery runs below 11 V well within three hours
    battery = api.events(event_types=["battery"], device_ids=[device_id])[0]
    assert battery["event"].startswith("Battery low")
    assert [p["battery_low"] for p in api.truth()["power_failures"] if p["device_id"] == 45001]
    device = ok(api.uri(f"device/{device_id}"))["device"][0]
    assert device["battery_status"] == 1 and float(device["battery_value"].split()[0]) < 11
    api.act("power_restore", device_id=device_id)
    back = api.events(event_types=["power"], device_ids=[device_id])[0]
    assert back["event"] == "The power has returned to normal"
    assert all(p["device_id"] != device_id for p in api.truth()["power_failures"])
    assert ok(api.uri(f"device/{device_id}"))["device"][0]["power_value"] == "On"


def test_offline_and_online(api: Api) -> None:
    device_id = 45002
    if any(d["device_id"] == device_id for d in api.truth()["offline_devices"]):
        api.act("go_online", device_id=device_id)
    api.act("go_offline", device_id=device_id)
    assert ok(api.uri(f"device/{device_id}"))["device"][0]["is_online"] is False
    assert api.events(device_ids=[device_id])[0]["type"] == "offline"
    assert device_id in [d["device_id"] for d in api.truth()["offline_devices"]]
    api.act("go_online", device_id=device_id)
    assert api.events(device_ids=[device_id])[0]["type"] == "online"
    assert ok(api.uri(f"device/{device_id}"))["device"][0]["is_online"] is True
    assert device_id not in [d["device_id"] for d in api.truth()["offline_devices"]]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"action": "raise_alarm", "device_id": 1, "zone_id": 5001}, 404, "device_id"),
        ({"action": "raise_alarm", "device_id": DEVICE, "zone_id": 5009}, 404, "zone_id"),
        ({"action": "power_fail", "device_id": 7}, 404, "device_id"),
        ({"action": "explode", "device_id": DEVICE}, 400, "action"),
        ({"action": "raise_alarm", "device_id": "x", "zone_id": 5001}, 400, "device_id"),
        (
            {"action": "raise_alarm", "device_id": DEVICE, "zone_id": 5001, "value": 50},
            400,
            "value",
        ),
        ({"action": "raise_alarm", "device_id": DEVICE, "zone_id": 5004}, 400, "zone_id"),
        ({"action": "go_online", "device_id": DEVICE, "colour": "red"}, 400, "colour"),
    ],
)
def test_control_errors_name_the_field(still: Api, body: dict, status: int, field: str) -> None:
    response = still.control("POST", "scenario", body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


def test_conflicting_actions_are_409(api: Api) -> None:
    truth = api.truth()
    if any(a["zone_id"] == ZONE for a in truth["open_alarms"]):
        api.act("clear_alarm", device_id=DEVICE, zone_id=ZONE)
    response = api.control(
        "POST", "scenario", {"action": "clear_alarm", "device_id": DEVICE, "zone_id": ZONE}
    )
    assert response.status_code == 409
    api.act("raise_alarm", device_id=DEVICE, zone_id=ZONE)
    again = {"action": "raise_alarm", "device_id": DEVICE, "zone_id": ZONE}
    assert api.control("POST", "scenario", again).status_code == 409


def test_actions_are_listed_in_the_control_index(still: Api) -> None:
    index = still.control("GET", "").json()
    assert set(index["actions"]) == {
        "raise_alarm",
        "clear_alarm",
        "ack_alarm",
        "power_fail",
        "power_restore",
        "go_offline",
        "go_online",
    }
    assert still.control("GET", "credentials").json() == {"user_name": USER, "password": PASSWORD}


def test_the_scenario_runs_on_its_own_as_the_clock_advances(api: Api) -> None:
    before = api.events()
    newest_before = before[0]["event_id"]
    assert all(e["epoch"] <= EPOCH_TS for e in before)  # seeded before the epoch
    assert min(e["epoch"] for e in before) > EPOCH_TS - HISTORY_SECONDS - 1
    api.advance(12 * 3600)
    after = api.events()
    new = [e for e in after if e["event_id"] > newest_before]
    assert new, "twelve simulated hours bring new events"
    assert all(EPOCH_TS < e["epoch"] <= EPOCH_TS + 12 * 3600 for e in new)
    assert {e["type"] for e in after} <= {
        "alarm",
        "return_to_normal",
        "acknowledged",
        "offline",
        "online",
        "power",
        "battery",
        "notification",
    }
    truth = api.truth()
    assert truth["vendor"] == "sensaphone" and truth["devices"] == 3
    open_zones = {(a["device_id"], a["zone_id"]) for a in truth["open_alarms"]}
    for device_id, zone_id in open_zones:
        assert zone_status(api, device_id, zone_id)["alarm_zone"]["alarm_status"] in (1, 17)


def _snapshot(server: EmulatorServer, http: httpx.Client) -> list:
    api = Api(server, http)
    login = api.login()
    login["response"].pop("login_timestamp")  # the only field on the real-time second
    shots = [login, api.uri("device", version="v2"), api.control("GET", "truth").json()]
    for log, filters in parity_cases():
        shots.append(api.history_json(log, {**filters, "record_offset": 200}, version="v2"))
    api.advance(3 * 3600)
    shots.append(api.history_json("event_log", {"record_offset": 500}))
    shots.append(api.control("GET", "truth").json())
    return shots


def test_same_seed_and_epoch_give_identical_responses(serve, client) -> None:
    first = _snapshot(serve("sensaphone", seed=11, clock=SimClock(EPOCH, 1.0)), client)
    second = _snapshot(serve("sensaphone", seed=11, clock=SimClock(EPOCH, 1.0)), client)
    assert first == second
    other = _snapshot(serve("sensaphone", seed=12, clock=SimClock(EPOCH, 1.0)), client)
    assert other[3:] != first[3:]


# --- rate limiting ---------------------------------------------------------------------------
def test_no_rate_limit_by_default(still: Api) -> None:
    assert still.control("GET", "ratelimit").json()["enabled"] is False
    for _ in range(40):
        assert still.raw("GET", f"/api/v1/{still.acctid}/{still.session}/login").status_code == 200


def test_configured_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    config = api.control("PUT", "ratelimit", {"enabled": True, "limit": 3, "window": 60})
    assert config.status_code == 200 and config.json()["limit"] == 3
    for _ in range(3):
        ok(api.uri("login"))
    response = api.raw("GET", f"/api/v1/{api.acctid}/{api.session}/device")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["result"]["success"] is False and response.json()["response"] == {}
    assert api.control("PUT", "ratelimit", {"enabled": False}).status_code == 200
    ok(api.uri("device"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": "yes"}, "enabled"),
        ({"limit": 0}, "limit"),
        ({"window": -1}, "window"),
        ({"burst": 3}, "burst"),
    ],
)
def test_bad_rate_limit_settings_are_400(still: Api, body: dict, field: str) -> None:
    response = still.control("PUT", "ratelimit", body)
    assert response.status_code == 400 and response.json()["error"]["field"] == field


# --- the benchmark hook ----------------------------------------------------------------------
def test_bench_hook_logs_in_and_names_cheap_paths(still: Api) -> None:
    login = BENCH["login"]
    answer = still.raw(login["method"], login["path"], json=login["json"]).json()
    paths = bench_paths(answer)
    assert set(paths) == {"cheap", "poll"}
    assert ok(still.get(paths["cheap"]))["session_expiration"] == 86400
    assert ok(still.get(paths["poll"]))["history"]["event_log"]


def test_history_seeded_before_a_midnight_epoch_in_another_zone(serve, client) -> None:
    """Epochs are arbitrary instants; local times in the logs follow each device's zone."""
    epoch = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # the New York fall-back night
    api = Api(serve("sensaphone", seed=3, devices=100, clock=frozen_clock(epoch)), client)
    records = ok(api.uri("history/data_log/record_offset/{5000}"))["history"]["data_log"]
    assert records[0]["epoch"] == int(epoch.timestamp())
    oldest = int((epoch - timedelta(hours=48)).timestamp())
    assert min(r["epoch"] for r in records) >= oldest
