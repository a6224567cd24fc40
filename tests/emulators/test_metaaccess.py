"""Black-box tests of the OPSWAT MetaAccess emulator over real HTTP on 127.0.0.1."""

import re
import time
from datetime import UTC, datetime

import httpx
import pytest

from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.metaaccess import BENCH
from fleetwatch.emulators.server import EmulatorServer

EPOCH = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
TOKEN = "/o/oauth/token"
STATUS_CHANGED = "/o/api/v3/devices/status_changed"
ACTIVITIES = "/o/api/v3/activities"
DEVICES_V22 = "/o/api/v2.2/devices"
DEVICES_V36 = "/o/api/v3.6/devices"
API_ENDPOINTS = [
    ("POST", STATUS_CHANGED),
    ("POST", ACTIVITIES),
    ("GET", DEVICES_V22),
    ("POST", DEVICES_V36),
    ("GET", "/o/api/v2/account"),
]
VERBOSE0_KEYS = {"device_id", "severity", "status", "issue", "network_info"}
VERBOSE1_KEYS = {
    "device_id",
    "device_type",
    "device_name",
    "nick_name",
    "group_name",
    "agent_version",
    "oesis_version",
    "country",
    "last_seen",
    "public_ip",
    "remediation_link",
    "user_identity",
    "link_user",
    "user_info",
    "network_info",
    "os_info",
    "severity",
    "status",
    "status_detail",
    "issue",
    "categories",
}
NETWORK_KEYS = {
    "description",
    "ipv4",
    "ipv6",
    "mac",
    "subnet_mask",
    "media_state",
    "dhcp_enabled",
    "dhcp_obtained",
    "dhcp_expires",
    "dhcp_server",
    "adapter_enabled",
    "default_gateway",
    "dns_addresses",
}
ACTIVITY_KEYS = {
    "app_name",
    "device_status",
    "device_name",
    "device_id",
    "access_rule",
    "app_user",
    "device_group",
    "action",
    "timestamp",
}
V22_KEYS = {
    "hwid",
    "hostname",
    "nickname",
    "agent_version",
    "last_seen",
    "machine_type",
    "country",
    "active",
    "total_issue",
    "user_info",
    "os_info",
    "network_info",
    "status",
    "severity",
}
GMT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ACTIVITY_TS = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} (AM|PM)$")


def parse_activity_ts(text: str) -> datetime:
    return datetime.strptime(text, "%b %d, %Y %I:%M:%S %p").replace(tzinfo=UTC)


def get_token(http: httpx.Client, url: str) -> dict:
    response = http.post(url + TOKEN, data={"grant_type": "client_credentials", **CREDS})
    assert response.status_code == 200, response.text
    return response.json()


class MetaAccess:
    """One running emulator plus a token; ``api`` adds the access_token query parameter."""

    def __init__(self, server, http: httpx.Client) -> None:
        self.server, self.http, self.url = server, http, server.url
        self.tokens = get_token(http, self.url)
        self.token = self.tokens["access_token"]

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
        params = dict(kwargs.pop("params", {}))
        params.setdefault("access_token", token or self.token)
        return self.http.request(method, self.url + path, params=params, **kwargs)

    def control(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.http.request(method, self.url + "/_emulator" + path, **kwargs)

    def scenario(self, action: str, **params) -> httpx.Response:
        return self.control("POST", "/scenario", json={"action": action, **params})

    def truth(self) -> dict:
        return self.control("GET", "/truth").json()

    def advance(self, seconds: float) -> None:
        assert self.control("POST", "/clock/advance", json={"seconds": seconds}).is_success

    def changed(self, **body) -> dict:
        response = self.api("POST", STATUS_CHANGED, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def activities(self, **body) -> list:
        response = self.api("POST", ACTIVITIES, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def all_changed(self, **body) -> list[tuple[str, dict]]:
        """Every page of status_changed as (list name, item), until 413."""
        items, page = [], 1
        while True:
            response = self.api("POST", STATUS_CHANGED, json={**body, "page": page, "limit": 50})
            if response.status_code == 413:
                return items
            data = response.json()
            items += [("monitored", d) for d in data["monitored_devices"]]
            items += [("deleted", d) for d in data["deleted_devices"]]
            page += 1

    def all_v36(self) -> list[dict]:
        devices, cursor = [], None
        while True:
            body = {"limit": 50} if cursor is None else {"limit": 50, "token": cursor}
            data = self.api("POST", DEVICES_V36, json=body).json()
            devices += data["devices"]
            cursor = data["next_token"]
            if cursor is None:
                return devices


@pytest.fixture
def make(serve, client):
    """``ma = make(seed=7, devices=60, strict=False)``: an emulator at a fixed epoch."""

    def start(seed: int = 7, devices: int = 60, strict: bool = False) -> MetaAccess:
        server = serve("metaaccess", seed=seed, devices=devices, clock=SimClock(EPOCH, 1.0))
        ma = MetaAccess(server, client)
        if not strict:
            assert ma.control("PUT", "/ratelimit", json={"enabled": False}).status_code == 200
        return ma

    return start


@pytest.fixture
def ma(make) -> MetaAccess:
    return make()


@pytest.fixture(scope="module")
def shared():
    """One emulator for the many tests that leave its state alone, which keeps the file fast.
    Its clock barely moves, so no tick lands in the middle of a module run."""
    clock = SimClock(EPOCH, 0.001)
    with (
        httpx.Client(timeout=10) as http,
        EmulatorServer("metaaccess", seed=7, devices=60, clock=clock) as server,
    ):
        ma = MetaAccess(server, http)
        assert ma.control("PUT", "/ratelimit", json={"enabled": False}).status_code == 200
        yield ma


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]


# --- OAuth ------------------------------------------------------------------------------------
def test_token_by_get_with_query_params(make, client):
    ma = make()
    response = client.get(ma.url + TOKEN, params={"grant_type": "client_credentials", **CREDS})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert re.fullmatch(r"[A-Z0-9]{48}", body["access_token"])
    assert response.headers["cache-control"] == "no-store"
    assert ma.api("GET", DEVICES_V22, token=body["access_token"]).status_code == 200


@pytest.mark.parametrize("style", ["form", "json", "basic"])
def test_token_by_post(make, client, style):
    ma = make()
    if style == "form":
        response = client.post(ma.url + TOKEN, data={"grant_type": "client_credentials", **CREDS})
    elif style == "json":
        response = client.post(ma.url + TOKEN, json={"grant_type": "client_credentials", **CREDS})
    else:
        auth = (CREDS["client_id"], CREDS["client_secret"])
        response = client.post(ma.url + TOKEN, data={"grant_type": "client_credentials"}, auth=auth)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert token != ma.token
    assert ma.api("POST", STATUS_CHANGED, token=token, json={}).status_code == 200


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({**CREDS}, 400, "invalid_request"),
        ({"grant_type": "password", **CREDS}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", **CREDS}, 400, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "client_id": "fleetwatch-demo"},
            400,
            "invalid_request",
        ),
        (
            {"grant_type": "client_credentials", "client_secret": "demo-secret"},
            400,
            "invalid_request",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "fleetwatch-demo",
                "client_secret": "x",
            },
            401,
            "invalid_client",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "other",
                "client_secret": "demo-secret",
            },
            401,
            "invalid_client",
        ),
        ({"grant_type": "refresh_token", **CREDS}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "NOPE", **CREDS}, 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "NOPE"}, 400, "invalid_request"),
    ],
)
def test_token_errors(shared, client, params, status, error):
    ma = shared
    assert_oauth_error(client.post(ma.url + TOKEN, data=params), status, error)
    assert_oauth_error(client.get(ma.url + TOKEN, params=params), status, error)


def test_token_endpoint_rejects_bad_json_and_methods(shared, client):
    bad = client.post(
        shared.url + TOKEN, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_oauth_error(bad, 400, "invalid_request")
    assert_oauth_error(client.put(shared.url + TOKEN, data={}), 405, "invalid_request")


def test_refresh_flow(shared, client):
    refresh = shared.tokens["refresh_token"]
    response = client.post(
        shared.url + TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh, **CREDS}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"] != shared.token
    assert body["refresh_token"] == refresh  # not rotated
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert (
        shared.api("POST", STATUS_CHANGED, token=body["access_token"], json={}).status_code == 200
    )
    # The refresh grant also works as a GET with a query string (PacketFence style).
    again = client.get(
        shared.url + TOKEN,
        params={"grant_type": "refresh_token", "refresh_token": refresh, **CREDS},
    )
    assert again.status_code == 200


def test_access_token_expires_on_the_simulated_clock_and_refresh_survives(ma, client):
    ma.advance(3500)
    assert ma.api("GET", DEVICES_V22).status_code == 200
    ma.advance(200)
    response = ma.api("GET", DEVICES_V22)
    assert_error(response, 401)
    assert "expired" in response.json()["error"]["message"]
    refreshed = client.post(
        ma.url + TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": ma.tokens["refresh_token"], **CREDS},
    )
    assert refreshed.status_code == 200
    assert ma.api("GET", DEVICES_V22, token=refreshed.json()["access_token"]).status_code == 200


def test_expire_credentials_fault_revokes_access_and_refresh_tokens(ma, client):
    assert ma.api("GET", DEVICES_V22).status_code == 200
    fault = ma.control("POST", "/faults", json={"kind": "expire_credentials"})
    assert fault.status_code == 201
    assert_error(ma.api("GET", DEVICES_V22), 401)
    refresh = client.post(
        ma.url + TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": ma.tokens["refresh_token"], **CREDS},
    )
    assert_oauth_error(refresh, 400, "invalid_grant")
    fresh = get_token(client, ma.url)["access_token"]
    assert ma.api("GET", DEVICES_V22, token=fresh).status_code == 200


# --- authentication on API calls ---------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), API_ENDPOINTS)
def test_api_calls_need_a_valid_token(shared, client, method, path):
    missing = client.request(method, shared.url + path, json={} if method == "POST" else None)
    assert_error(missing, 401)
    assert_error(shared.api(method, path, token="WRONG"), 401)
    assert shared.api(method, path).status_code == 200


def test_bearer_header_is_accepted_leniently(shared, client):
    response = client.post(
        shared.url + STATUS_CHANGED, json={}, headers={"Authorization": f"Bearer {shared.token}"}
    )
    assert response.status_code == 200
    assert set(response.json()) == {"monitored_devices", "deleted_devices"}


def test_unknown_path_and_wrong_method_use_the_error_shape(shared):
    assert_error(shared.api("GET", "/o/api/v9/nothing"), 404)
    assert_error(shared.api("GET", STATUS_CHANGED), 405)
    assert_error(shared.api("GET", ACTIVITIES), 405)
    assert_error(shared.api("POST", DEVICES_V22), 405)


# --- status_changed ----------------------------------------------------------------------------
def test_status_changed_defaults_verbose_off(shared):
    data = shared.changed()
    assert set(data) == {"monitored_devices", "deleted_devices"}
    items = data["monitored_devices"]
    assert 0 < len(items) + len(data["deleted_devices"]) <= 20
    for item in items:
        assert set(item) == VERBOSE0_KEYS
        assert item["status"] in {"compliant", "non-compliant", "exempted"}
        issue = item["issue"]
        assert set(issue) == {"total_issue", "total_critical_issue", "total_warning_issue"}
        assert issue["total_issue"] == issue["total_critical_issue"] + issue["total_warning_issue"]
        expected = (
            "critical"
            if issue["total_critical_issue"]
            else "warning"
            if issue["total_warning_issue"]
            else "no_issues"
        )
        assert item["severity"] == expected
        if item["status"] == "non-compliant":
            assert issue["total_issue"] > 0
        assert [set(n) for n in item["network_info"]] == [{"ipv4", "mac"}]


def test_first_poll_sees_non_compliant_devices_and_a_day_of_changes(shared):
    statuses = {item["status"] for _, item in shared.all_changed()}
    assert "non-compliant" in statuses and "compliant" in statuses
    truth = shared.truth()
    assert truth["non_compliant_devices"]
    assert truth["blocked_activities"] > 0
    assert len(truth["non_compliant_devices"]) < truth["devices"] / 2  # most are compliant


def test_status_changed_verbose_on_matches_spec_example_2_and_the_shared_fleet(shared):
    data = shared.changed(verbose=1, limit=50)
    fleet = {e.device_id: e for e in shared.server.fleet.endpoints if e.device_id}
    assert data["monitored_devices"]
    for item in data["monitored_devices"]:
        assert set(item) == VERBOSE1_KEYS
        assert GMT.match(item["last_seen"])
        assert set(item["network_info"][0]) == NETWORK_KEYS
        assert set(item["link_user"]) == {"username", "group"}
        assert set(item["user_info"]) == {"username", "domain"}
        assert {"family", "name", "vendor", "version", "architecture"} <= set(item["os_info"])
        assert set(item["status_detail"]) == {"exempted", "pending", "compliant"}
        assert item["status_detail"]["compliant"] == int(item["status"] == "compliant")
        assert item["status_detail"]["exempted"] == int(item["status"] == "exempted")
        endpoint = fleet.get(item["device_id"])
        if endpoint is not None:  # enrolled after the fleet was generated otherwise
            assert item["device_name"] == endpoint.hostname
            assert item["network_info"][0]["mac"] == endpoint.mac
            assert item["group_name"] == endpoint.group


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"limit": 0}, 406),
        ({"limit": 51}, 406),
        ({"limit": -3}, 406),
        ({"limit": "ten"}, 400),
        ({"limit": 2.5}, 400),
        ({"age": -1}, 400),
        ({"age": 86401}, 400),
        ({"age": "3600"}, 400),
        ({"verbose": 2}, 400),
        ({"verbose": True}, 400),
        ({"page": 0}, 400),
        ({"page": "1"}, 400),
    ],
)
def test_status_changed_parameter_errors(shared, body, status):
    assert_error(shared.api("POST", STATUS_CHANGED, json=body), status)


@pytest.mark.parametrize("raw", [b"{oops", b"[1, 2]", b'"text"'])
def test_status_changed_body_must_be_a_json_object(shared, raw):
    response = shared.api(
        "POST", STATUS_CHANGED, content=raw, headers={"content-type": "application/json"}
    )
    assert_error(response, 400)


def test_status_changed_limit_50_and_extremes_of_age(shared):
    total = len(shared.all_changed())
    assert total > 20
    full = shared.changed(limit=50)
    assert len(full["monitored_devices"]) + len(full["deleted_devices"]) == min(50, total)
    one = shared.changed(age=86400, limit=1)
    assert len(one["monitored_devices"]) + len(one["deleted_devices"]) == 1
    # Spec Example 3: nothing changed -> two empty lists, 200.
    assert shared.changed(age=0) == {"monitored_devices": [], "deleted_devices": []}
    assert_error(shared.api("POST", STATUS_CHANGED, json={"age": 0, "page": 2}), 413)


def test_status_changed_paging_covers_both_lists_without_gaps(ma):
    # Two deletions so that deleted_devices takes part in the combined paging.
    listed = [d["device_id"] for d in ma.all_v36()]
    for device_id in listed[:2]:
        assert ma.scenario("delete_device", device_id=device_id).status_code == 200
    everything = ma.all_changed()
    total = len(everything)
    assert total > 14
    assert {name for name, _ in everything} == {"monitored", "deleted"}
    ids = [item["device_id"] for _, item in everything]
    assert len(ids) == len(set(ids))
    limit = 7
    pages = -(-total // limit)
    seen = []
    for page in range(1, pages + 1):
        data = ma.changed(page=page, limit=limit)
        size = len(data["monitored_devices"]) + len(data["deleted_devices"])
        assert size == (limit if page < pages else total - limit * (pages - 1))
        seen += [d["device_id"] for d in data["deleted_devices"] + data["monitored_devices"]]
    assert sorted(seen) == sorted(ids)
    assert_error(ma.api("POST", STATUS_CHANGED, json={"page": pages + 1, "limit": limit}), 413)
    # Exactly at the end (limit 1, page total + 1) is past the last page too.
    assert ma.changed(page=total, limit=1)
    assert_error(ma.api("POST", STATUS_CHANGED, json={"page": total + 1, "limit": 1}), 413)
    # Newest first: the two deletions just made lead the first page.
    first = ma.changed(limit=2)
    assert {d["device_id"] for d in first["deleted_devices"]} == set(listed[:2])


def test_set_compliance_shows_in_status_changed_and_ground_truth(ma):
    device = ma.all_v36()[3]
    response = ma.scenario(
        "set_compliance", device_id=device["device_id"], status="non-compliant", severity="warning"
    )
    assert response.status_code == 200, response.text
    first = ma.changed(age=60, limit=1, verbose=1)["monitored_devices"][0]
    assert first["device_id"] == device["device_id"]
    assert first["status"] == "non-compliant" and first["severity"] == "warning"
    assert first["issue"]["total_critical_issue"] == 0 and first["issue"]["total_warning_issue"] > 0
    assert first["device_name"] == device["host_name"]
    truth = ma.truth()
    open_ = {d["device_id"]: d for d in truth["non_compliant_devices"]}
    assert open_[device["device_id"]] == {
        "device_id": device["device_id"],
        "device_name": device["host_name"],
        "status": "non-compliant",
        "severity": "warning",
    }
    ma.scenario("set_compliance", device_id=device["device_id"], status="exempted")
    first = ma.changed(age=60, limit=1, verbose=1)["monitored_devices"][0]
    assert first["status"] == "exempted" and first["status_detail"]["exempted"] == 1
    truth = ma.truth()
    assert device["device_id"] not in {d["device_id"] for d in truth["non_compliant_devices"]}
    assert device["device_id"] in truth["exempted_devices"]
    ma.scenario("set_compliance", device_id=device["device_id"], status="compliant")
    first = ma.changed(age=60, limit=1)["monitored_devices"][0]
    assert (first["status"], first["severity"]) == ("compliant", "no_issues")
    assert device["device_id"] not in ma.truth()["exempted_devices"]


def test_delete_device_shows_in_deleted_devices_and_leaves_the_lists(ma):
    device = ma.all_v36()[0]
    before = ma.truth()["devices"]
    response = ma.scenario("delete_device", device_id=device["device_id"])
    assert response.status_code == 200
    data = ma.changed(age=60)
    assert data["monitored_devices"] == []
    assert data["deleted_devices"] == [
        {
            "device_id": device["device_id"],
            "device_name": device["host_name"],
            "network_info": device["network_info"],
        }
    ]
    truth = ma.truth()
    assert device["device_id"] in truth["deleted_devices"]
    assert truth["devices"] == before - 1
    assert device["device_id"] not in {d["device_id"] for d in ma.all_v36()}
    v22 = ma.api("GET", DEVICES_V22, params={"limit": 50}).json()
    assert device["device_id"] not in {d["hwid"] for d in v22}
    again = ma.scenario("set_compliance", device_id=device["device_id"], status="compliant")
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (
            {"action": "set_compliance", "device_id": "NOPE", "status": "compliant"},
            404,
            "device_id",
        ),
        ({"action": "delete_device", "device_id": "NOPE"}, 404, "device_id"),
        ({"action": "block_access", "device_id": "NOPE"}, 404, "device_id"),
        ({"action": "set_compliance", "device_id": "X", "status": "broken"}, 400, "status"),
        ({"action": "delete_device"}, 400, "device_id"),
        ({"action": "delete_device", "device_id": "X", "colour": 1}, 400, "colour"),
        ({"action": "explode"}, 400, "action"),
    ],
)
def test_scenario_errors(shared, body, status, field):
    response = shared.control("POST", "/scenario", json=body)
    assert response.status_code == status
    assert response.json()["error"]["field"] == field


def test_scenario_rejects_inconsistent_severity(shared):
    device_id = shared.all_v36()[0]["device_id"]
    response = shared.scenario(
        "set_compliance", device_id=device_id, status="non-compliant", severity="no_issues"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "severity"
    assert set(shared.control("GET", "/").json()["actions"]) == {
        "set_compliance",
        "delete_device",
        "block_access",
    }


# --- activities ------------------------------------------------------------------------------
def test_activities_defaults_shape_and_order(shared):
    items = shared.activities()
    assert isinstance(items, list) and len(items) == 50  # default limit, plenty of history
    times = []
    for item in items:
        assert set(item) == ACTIVITY_KEYS
        assert item["action"] in {"blocked", "allowed", "monitored_block"}
        assert item["device_status"] in {"Non-compliant", "Compliant"}
        assert ACTIVITY_TS.match(item["timestamp"]), item["timestamp"]
        times.append(parse_activity_ts(item["timestamp"]))
    assert times == sorted(times, reverse=True)
    assert all(EPOCH.timestamp() - 86400 <= t.timestamp() <= EPOCH.timestamp() for t in times)
    blocked = [i for i in items if i["action"] == "blocked"]
    assert blocked and all(i["device_status"] == "Non-compliant" for i in blocked)
    assert all(
        i["access_rule"] in {"NON COMPLIANT DEVICES", "Block non-compliant devices"}
        for i in blocked
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"limit": 0}, 406),
        ({"limit": 51}, 406),
        ({"limit": "5"}, 400),
        ({"page": 0}, 400),
        ({"age": "24"}, 400),
        ({"age": -1}, 400),
        ({"start_date": "2026-03-09", "end_date": "03/10/2026"}, 400),
        ({"start_date": "03/09/2026", "end_date": "13/40/2026"}, 400),
        ({"start_date": "02/30/2026", "end_date": "03/10/2026"}, 400),
        ({"start_date": "03/10/2026", "end_date": "03/10/2026"}, 400),
        ({"start_date": "03/10/2026", "end_date": "03/09/2026"}, 400),
        ({"start_date": "03/09/2026"}, 400),
        ({"action": ["blocked", "bogus"]}, 400),
        ({"action": 5}, 400),
        ({"search": 5}, 400),
    ],
)
def test_activities_parameter_errors(shared, body, status):
    assert_error(shared.api("POST", ACTIVITIES, json=body), status)


def test_activities_paging(shared):
    assert len(shared.activities(limit=50)) == 50
    everything, page = [], 1
    while True:
        response = shared.api("POST", ACTIVITIES, json={"limit": 50, "page": page})
        if response.status_code == 413:
            assert_error(response, 413)
            break
        everything += response.json()
        page += 1
    total = len(everything)
    assert total > 100
    last = -(-total // 50)
    assert page == last + 1
    assert len(shared.activities(limit=50, page=last)) == total - 50 * (last - 1)
    assert shared.activities(limit=50, page=2) == everything[50:100]
    assert shared.activities(age=0) == []  # page 1 of nothing is an empty array, not 413


def test_activities_date_range_and_age(shared):
    march_10 = shared.activities(start_date="03/10/2026", end_date="03/11/2026")
    assert march_10 and all(i["timestamp"].startswith("Mar 10, 2026") for i in march_10)
    march_9 = shared.activities(start_date="03/08/2026", end_date="03/09/2026")  # end day included
    assert march_9 and all(i["timestamp"].startswith("Mar 9, 2026") for i in march_9)
    assert shared.activities(start_date="01/01/2026", end_date="01/31/2026") == []
    # age is in hours and is ignored when dates are given.
    last_hour = shared.activities(age=1)
    assert last_hour
    assert all(parse_activity_ts(i["timestamp"]) >= EPOCH.replace(hour=11) for i in last_hour)
    ignored = shared.activities(age=1, start_date="03/08/2026", end_date="03/09/2026")
    assert ignored == march_9


def test_activities_action_filter_and_search(shared):
    allowed = shared.activities(action=["allowed"])
    assert allowed and all(i["action"] == "allowed" for i in allowed)
    assert all(i["access_rule"] == "Allow compliant devices" for i in allowed)
    both = shared.activities(action=["blocked", "monitored_block"])
    assert both and all(i["action"] in {"blocked", "monitored_block"} for i in both)
    sample = both[0]
    name_part = sample["device_name"][4:-2].lower()
    by_name = shared.activities(search=name_part)
    assert sample in by_name
    fields = ACTIVITY_KEYS - {"action", "timestamp"}
    assert all(any(name_part in i[f].lower() for f in fields) for i in by_name)
    by_app = shared.activities(search="SLACK")
    assert all("slack" in i["app_name"].lower() for i in by_app)
    by_status = shared.activities(search="non-compliant", action=["blocked"])
    assert by_status and all(i["device_status"] == "Non-compliant" for i in by_status)
    assert shared.activities(search="no such thing anywhere") == []


def test_block_access_adds_a_blocked_activity(ma):
    device = ma.all_v36()[5]
    ma.scenario("set_compliance", device_id=device["device_id"], status="non-compliant")
    before = ma.truth()["blocked_activities"]
    response = ma.scenario(
        "block_access", device_id=device["device_id"], app_name="Zoom", app_user="u@example.org"
    )
    assert response.status_code == 200, response.text
    first = ma.activities(limit=1)[0]
    assert first == response.json()
    assert first["device_id"] == device["device_id"]
    assert (first["action"], first["app_name"], first["app_user"]) == (
        "blocked",
        "Zoom",
        "u@example.org",
    )
    assert first["device_status"] == "Non-compliant"
    assert first["access_rule"] == "NON COMPLIANT DEVICES"
    assert ma.truth()["blocked_activities"] == before + 1


# --- device lists ------------------------------------------------------------------------------
def test_v22_device_list_pages(shared):
    truth = shared.truth()
    first = shared.api("GET", DEVICES_V22).json()
    assert len(first) == 20  # default limit
    for item in first:
        assert set(item) == V22_KEYS
        assert set(item["network_info"][0]) == {"mac_addr", "ipv4_addr", "ipv6_addr"}
        assert item["machine_type"] in {"desktop", "laptop"}
        assert GMT.match(item["last_seen"])
    everything, page = [], 1
    while True:
        response = shared.api("GET", DEVICES_V22, params={"limit": 25, "page": page})
        if response.status_code == 413:
            break
        assert response.status_code == 200
        everything += response.json()
        page += 1
    ids = [d["hwid"] for d in everything]
    assert len(ids) == len(set(ids)) == truth["devices"]
    assert len(shared.api("GET", DEVICES_V22, params={"limit": 25, "page": page - 1}).json()) == (
        truth["devices"] - 25 * (page - 2)
    )
    open_ = {d["device_id"] for d in truth["non_compliant_devices"]}
    assert {d["hwid"] for d in everything if d["status"] == "non-compliant"} == open_
    assert len(shared.api("GET", DEVICES_V22, params={"limit": 50}).json()) == 50
    exact = {"limit": 1, "page": truth["devices"] + 1}
    assert_error(shared.api("GET", DEVICES_V22, params=exact), 413)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 0}, 406),
        ({"limit": 51}, 406),
        ({"limit": "x"}, 400),
        ({"page": 0}, 400),
        ({"page": "two"}, 400),
        ({"page": 99}, 413),
    ],
)
def test_v22_device_list_errors(shared, params, status):
    assert_error(shared.api("GET", DEVICES_V22, params=params), status)


def test_v36_cursor_lists_every_live_device_once(shared):
    devices = shared.all_v36()
    truth = shared.truth()
    ids = [d["device_id"] for d in devices]
    assert len(ids) == len(set(ids)) == truth["devices"]
    v22 = shared.api("GET", DEVICES_V22, params={"limit": 50}).json()
    assert ids[:50] == [d["hwid"] for d in v22]  # the same stable order
    for item in devices:
        assert {"device_id", "host_name", "severity", "status", "enrolled_at"} <= set(item)
        assert GMT.match(item["enrolled_at"])
        assert item["severity"] in {"critical", "warning", "no_issues"}
    open_ = {d["device_id"] for d in truth["non_compliant_devices"]}
    assert {d["device_id"] for d in devices if d["status"] == "non-compliant"} == open_
    first = shared.api("POST", DEVICES_V36, json={}).json()
    assert len(first["devices"]) == 20 and isinstance(first["next_token"], str)


def test_v36_cursor_is_stable_across_a_deletion(ma):
    page = ma.api("POST", DEVICES_V36, json={"limit": 10}).json()
    later = ma.all_v36()[15]["device_id"]
    ma.scenario("delete_device", device_id=later)
    rest, cursor = [], page["next_token"]
    while cursor:
        data = ma.api("POST", DEVICES_V36, json={"limit": 10, "token": cursor}).json()
        rest += [d["device_id"] for d in data["devices"]]
        cursor = data["next_token"]
    ids = [d["device_id"] for d in page["devices"]] + rest
    assert later not in ids
    assert len(ids) == len(set(ids)) == ma.truth()["devices"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"token": "garbage!"}, 400),
        ({"token": "bWEzNjo5OTk5OTk"}, 400),  # a well-formed cursor past the end
        ({"token": 12}, 400),
        ({"limit": 0}, 406),
        ({"limit": 51}, 406),
        ({"limit": "20"}, 400),
    ],
)
def test_v36_errors(shared, body, status):
    assert_error(shared.api("POST", DEVICES_V36, json=body), status)


# --- rate limiting and faults -----------------------------------------------------------------
def test_default_rate_limit_is_ten_per_minute_per_client(make, client):
    ma = make(strict=True)
    assert ma.control("GET", "/ratelimit").json() == {"limit": 10, "window": 60.0, "enabled": True}
    for _ in range(5):
        assert ma.api("POST", STATUS_CHANGED, json={}).status_code == 200
        assert ma.api("GET", DEVICES_V22).status_code == 200
    # The budget is shared across endpoints and tokens of the same client_id.
    other_token = get_token(client, ma.url)["access_token"]  # the token endpoint is exempt
    response = ma.api("POST", ACTIVITIES, token=other_token, json={})
    assert_error(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert ma.control("GET", "/counters").json()["rate_limited"] == 1


def test_rate_limit_small_window_recovers(ma):
    config = ma.control("PUT", "/ratelimit", json={"limit": 3, "window": 1, "enabled": True})
    assert config.json() == {"limit": 3, "window": 1.0, "enabled": True}
    for _ in range(3):
        assert ma.api("GET", DEVICES_V22).status_code == 200
    limited = ma.api("GET", DEVICES_V22)
    assert_error(limited, 429)
    assert limited.headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert ma.api("GET", DEVICES_V22).status_code == 200
    ma.control("PUT", "/ratelimit", json={"enabled": False})
    assert all(ma.api("GET", DEVICES_V22).status_code == 200 for _ in range(5))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"window": 0}, "window"),
        ({"window": True}, "window"),
        ({"enabled": "yes"}, "enabled"),
        ({"burst": 5}, "burst"),
    ],
)
def test_rate_limit_configuration_errors(shared, body, field):
    response = shared.control("PUT", "/ratelimit", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert shared.control("GET", "/ratelimit").json()["enabled"] is False  # unchanged


def test_rate_limit_fault_yields_the_metaaccess_429(ma):
    ma.control("POST", "/faults", json={"kind": "rate_limit", "count": 1})
    response = ma.api("POST", STATUS_CHANGED, json={})
    assert_error(response, 429)
    assert response.headers["Retry-After"] == "5"
    assert ma.api("POST", STATUS_CHANGED, json={}).status_code == 200


def test_server_error_fault_uses_the_error_shape(ma):
    ma.control("POST", "/faults", json={"kind": "http_503", "count": 1})
    assert_error(ma.api("GET", DEVICES_V22), 503)


# --- the scenario over time -----------------------------------------------------------------
def test_ticks_change_devices_and_api_agrees_with_ground_truth(make):
    ma = make(devices=400)
    before = ma.truth()
    ma.advance(4 * 3600)
    after = ma.truth()
    assert_error(ma.api("GET", DEVICES_V22), 401)  # a token lives one simulated hour
    ma.token = get_token(ma.http, ma.url)["access_token"]
    assert after["non_compliant_devices"] != before["non_compliant_devices"]
    recent = ma.all_changed(age=4 * 3600)
    assert len(recent) > 5
    devices = ma.all_v36()
    assert len(devices) == after["devices"]
    open_ = {d["device_id"]: d for d in after["non_compliant_devices"]}
    listed = {d["device_id"]: d for d in devices if d["status"] == "non-compliant"}
    assert set(listed) == set(open_)
    assert all(listed[i]["severity"] == open_[i]["severity"] for i in open_)
    live = {d["device_id"] for d in devices}
    for name, item in recent:
        if name == "deleted":
            assert item["device_id"] in after["deleted_devices"]
            assert item["device_id"] not in live
        else:
            assert item["device_id"] in live
    blocked = ma.activities(action=["blocked"], limit=50)
    assert parse_activity_ts(blocked[0]["timestamp"]).timestamp() > EPOCH.timestamp() + 3600


def test_same_seed_and_epoch_give_identical_responses(make):
    def snapshot(ma: MetaAccess) -> dict:
        return {
            "changed": ma.all_changed(verbose=1),
            "activities": ma.activities(start_date="03/09/2026", end_date="03/10/2026"),
            "v22": ma.api("GET", DEVICES_V22, params={"limit": 50}).json(),
            "v36": ma.all_v36(),
            "truth": ma.truth(),
        }

    first, second = snapshot(make(seed=11)), snapshot(make(seed=11))
    assert first == second
    assert snapshot(make(seed=12))["changed"] != first["changed"]


def test_bench_hook_prepares_probes_that_succeed_beyond_the_strict_limit(make):
    ma = make(strict=True)
    with httpx.Client(base_url=ma.url, timeout=10) as http:
        assert http.put("/_emulator/ratelimit", json=BENCH["ratelimit_off"]).status_code == 200
        credentials = http.get("/_emulator/credentials").json()
        assert credentials == CREDS
        probes = BENCH["prepare"](http, credentials)
        assert {p["path"] for p in probes} == {STATUS_CHANGED, ACTIVITIES, DEVICES_V36}
        for probe in probes:
            assert set(probe) == {"label", "method", "path", "kwargs"}
            for _ in range(4):  # 12 calls in all: beyond 10/min, which ratelimit_off lifted
                response = http.request(probe["method"], probe["path"], **probe["kwargs"])
                assert response.status_code == 200, response.text
