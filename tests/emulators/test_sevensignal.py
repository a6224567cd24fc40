"""Black-box fidelity tests of the 7SIGNAL Mobile Eye emulator over real loopback HTTP.

Most tests freeze the simulated clock (speed 1e-9) so that timestamps only move when a test
advances the clock through the control API.
"""

import base64
import re
import time
from datetime import UTC, datetime

import httpx
import jwt
import pytest

from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import generate_fleet
from fleetwatch.emulators.server import EmulatorServer
from fleetwatch.emulators.sevensignal import INCIDENT_TYPES, SevenSignalEmulator

EPOCH = datetime(2026, 8, 17, 9, 0, tzinfo=UTC)
EPOCH_MS = int(EPOCH.timestamp()) * 1000
DAY_MS = 86_400_000
CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
SPRING_KEYS = ["timestamp", "path", "status", "error", "requestId", "message"]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
AGENT_FIELDS = {
    "id",
    "name",
    "manufacturer",
    "model",
    "platform",
    "version",
    "mac",
    "lastSeen",
    "lastSsid",
    "lastTestSeen",
    "lastAgentVersion",
    "remoteIpAddress",
    "numberOfTxSpatialStreams",
    "numberOfRxSpatialStreams",
    "lastDefinedLocationId",
    "lastDefinedLocation",
    "locationPermissionStatus",
    "readAccountPermissionStatus",
    "backgroundLocationPermissionStatus",
    "writeExternalStoragePermissionStatus",
    "lastBssid",
    "localIpAddress",
    "isLicensed",
    "marketModel",
}
THRESHOLD_KEYS = {
    "warningThreshold",
    "criticalThreshold",
    "successRateThreshold",
    "minPopulationCount",
    "minCountImpacted",
    "minPercentImpacted",
    "minIncidentDurationMinutes",
}


def fetch_token(http: httpx.Client, url: str) -> str:
    response = http.post(f"{url}/oauth2/token", data={"grant_type": "client_credentials", **CREDS})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


class Api:
    """A test client for one emulator: a token, the vendor API and the control API."""

    def __init__(self, server, http: httpx.Client) -> None:
        self.server, self.http, self.url = server, http, server.url
        self.headers = {"Authorization": f"Bearer {fetch_token(http, server.url)}"}

    def get(self, path: str, params=None, **kwargs) -> httpx.Response:
        return self.http.get(self.url + path, params=params, headers=self.headers, **kwargs)

    def control(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        return self.http.request(method, f"{self.url}/_emulator/{path}", json=body)

    def advance(self, seconds: float) -> None:
        assert self.control("POST", "clock/advance", {"seconds": seconds}).status_code == 200

    def scenario(self, action: str, **params) -> httpx.Response:
        return self.control("POST", "scenario", {"action": action, **params})

    def truth(self) -> dict:
        return self.control("GET", "truth").json()


@pytest.fixture
def api(serve, client) -> Api:
    """A 200-device emulator on a frozen clock with rate limiting off (tests make many calls)."""
    server = serve("7signal", seed=7, devices=200, clock=SimClock(EPOCH, speed=1e-9))
    session = Api(server, client)
    assert session.control("PUT", "ratelimit", {"enabled": False}).status_code == 200
    return session


@pytest.fixture(scope="module")
def shared() -> Api:
    """Like ``api`` but shared by the read-only tests of this module (saves a server each)."""
    server = EmulatorServer("7signal", seed=7, devices=200, clock=SimClock(EPOCH, speed=1e-9))
    server.start()
    try:
        with httpx.Client(timeout=10) as http:
            session = Api(server, http)
            assert session.control("PUT", "ratelimit", {"enabled": False}).status_code == 200
            yield session
    finally:
        server.stop()


@pytest.fixture
def limited(serve, client) -> Api:
    """An emulator with the default rate limits (burst 15, 5 tokens/s)."""
    return Api(serve("7signal", seed=7, devices=50), client)


def assert_spring_error(response: httpx.Response, status: int, path: str) -> dict:
    assert response.status_code == status
    body = response.json()
    assert list(body) == SPRING_KEYS
    assert body["status"] == status and body["path"] == path and body["message"]
    assert body["error"] == httpx.codes.get_reason_phrase(status)
    assert re.match(r"^[0-9a-f]{8}-\d+$", body["requestId"])
    return body


# --- OAuth2 token endpoint ---------------------------------------------------------------------
def test_token_is_a_24h_jwt_on_the_simulated_clock(shared: Api) -> None:
    response = shared.http.post(
        f"{shared.url}/oauth2/token",
        data={"grant_type": "client_credentials", **CREDS},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "scope", "expires_in", "token_type"}
    assert body["expires_in"] == 86400 and body["token_type"] == "Bearer"
    assert isinstance(body["scope"], str) and body["scope"]
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "fleetwatch-demo" and claims["org"] == "fleetwatch-demo"
    assert claims["iat"] == int(EPOCH.timestamp())  # simulated, not wall-clock, time
    assert claims["exp"] - claims["iat"] == 86400


def test_token_accepts_http_basic_client_auth(shared: Api) -> None:
    basic = base64.b64encode(b"fleetwatch-demo:demo-secret").decode()
    response = shared.http.post(
        f"{shared.url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert shared.http.get(
        f"{shared.url}/eyes", headers={"Authorization": f"Bearer {token}"}
    ).is_success


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({**CREDS}, 400, "invalid_grant"),
        ({"grant_type": "password", **CREDS}, 400, "unsupported_grant_type"),
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
            {"grant_type": "client_credentials", **CREDS, "client_secret": "nope"},
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials", **CREDS, "client_id": "who"}, 401, "invalid_client"),
    ],
)
def test_token_errors_follow_rfc6749(shared: Api, form: dict, status: int, error: str) -> None:
    response = shared.http.post(f"{shared.url}/oauth2/token", data=form)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "error_description", "error_uri"}
    assert body["error"] == error and body["error_description"]
    assert "access_token" not in body


def test_token_requires_a_form_body_and_post(shared: Api) -> None:
    as_json = shared.http.post(
        f"{shared.url}/oauth2/token", json={"grant_type": "client_credentials"}
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert_spring_error(shared.http.get(f"{shared.url}/oauth2/token"), 405, "/oauth2/token")


def test_token_expires_after_24_simulated_hours(api: Api) -> None:
    api.advance(86_399)
    assert api.get("/eyes").status_code == 200
    api.advance(2)
    response = api.get("/eyes")
    body = assert_spring_error(response, 401, "/eyes")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "expired" in body["message"]
    api.headers["Authorization"] = f"Bearer {fetch_token(api.http, api.url)}"
    assert api.get("/eyes").status_code == 200


# --- bearer auth -------------------------------------------------------------------------------
def test_missing_token_gets_plain_bearer_challenge(shared: Api) -> None:
    for path in ("/eyes", "/eyes/agents", "/incidents/agents"):
        response = shared.http.get(shared.url + path)
        assert_spring_error(response, 401, path)
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Bearer " + "e30.e30.e30"])
def test_invalid_token_is_rejected(shared: Api, header: str) -> None:
    response = shared.http.get(f"{shared.url}/eyes/agents", headers={"Authorization": header})
    assert_spring_error(response, 401, "/eyes/agents")
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_token_from_another_emulator_is_rejected(shared: Api, serve) -> None:
    other = serve("7signal", seed=7, devices=20)
    foreign = fetch_token(shared.http, other.url)
    response = shared.http.get(f"{shared.url}/eyes", headers={"Authorization": f"Bearer {foreign}"})
    assert response.status_code == 401


def test_revoked_tokens_fail_until_a_new_one_is_fetched(api: Api) -> None:
    assert api.get("/eyes").status_code == 200
    fault = api.control("POST", "faults", {"kind": "expire_credentials"})
    assert fault.status_code == 201
    assert api.get("/eyes").status_code == 401
    assert api.get("/incidents/agents").status_code == 401
    api.headers["Authorization"] = f"Bearer {fetch_token(api.http, api.url)}"
    assert api.get("/eyes").status_code == 200


# --- /eyes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/eyes", "/eyes/"])
def test_eyes_summary_counts_the_agents(shared: Api, path: str) -> None:
    response = shared.get(path)
    assert response.status_code == 200
    agents = response.json()["agents"]
    fleet_agents = shared.server.fleet.seven_signal_agents()
    assert agents["organizationName"] == "fleetwatch-demo"
    assert agents["deviceCount"] == len(fleet_agents)
    assert set(agents["platformSummary"]) == {"android", "linux", "mac", "windows"}
    assert sum(agents["platformSummary"].values()) == len(fleet_agents)
    macs = sum(1 for a in fleet_agents if a.platform == "macos")
    assert agents["platformSummary"]["mac"] == macs
    licenses = agents["licenseSummary"]
    assert licenses["usedLicenses"] + licenses["freeLicenses"] == licenses["totalLicenses"]
    licensed = shared.get("/eyes/agents", {"licenseConstraint": "licensed"}).json()
    assert licensed["pagination"]["total"] == licenses["usedLicenses"]


def test_eyes_type_filters_the_blocks(shared: Api) -> None:
    assert set(shared.get("/eyes").json()) == {"agents", "sensors"}
    assert set(shared.get("/eyes", {"eyesType": "AGENTS"}).json()) == {"agents"}
    assert set(shared.get("/eyes", {"eyesType": "SENSORS"}).json()) == {"sensors"}
    assert_spring_error(shared.get("/eyes", {"eyesType": "agents"}), 400, "/eyes")


def test_other_organization_is_forbidden(shared: Api) -> None:
    assert shared.get("/eyes", {"organization": "fleetwatch-demo"}).status_code == 200
    assert_spring_error(shared.get("/eyes", {"organization": "globalcorp"}), 403, "/eyes")


# --- /eyes/agents ------------------------------------------------------------------------------
def test_agents_first_page_has_every_documented_field(shared: Api) -> None:
    body = shared.get("/eyes/agents").json()
    total = len(shared.server.fleet.seven_signal_agents())
    assert body["pagination"] == {
        "perPage": 10,
        "page": 1,
        "total": total,
        "pages": -(-total // 10),
    }
    assert len(body["results"]) == 10
    for agent in body["results"]:
        assert AGENT_FIELDS <= set(agent)
        assert agent["platform"] in {"windows", "linux", "macos", "android"}
        assert isinstance(agent["lastSeen"], int) and isinstance(agent["lastTestSeen"], int)
        assert agent["lastTestSeen"] <= agent["lastSeen"]
        assert re.match(r"^([0-9A-F]{2}:){5}[0-9A-F]{2}$", agent["mac"])
    names = [a["name"] for a in body["results"]]
    assert names == sorted(names)


def test_agent_names_and_macs_match_the_shared_fleet(shared: Api) -> None:
    fleet = {a.agent_id: a for a in shared.server.fleet.seven_signal_agents()}
    for agent in shared.get("/eyes/agents", {"perPage": 50}).json()["results"]:
        endpoint = fleet[agent["id"]]
        assert (agent["name"], agent["mac"]) == (endpoint.hostname, endpoint.mac)
        assert agent["lastDefinedLocationId"] == endpoint.location_id


def test_paging_visits_every_agent_once(shared: Api) -> None:
    seen: list[str] = []
    page = 1
    while True:
        body = shared.get("/eyes/agents", {"page": page, "perPage": 50}).json()
        seen += [a["id"] for a in body["results"]]
        if page >= body["pagination"]["pages"]:
            break
        page += 1
    assert sorted(seen) == sorted(a.agent_id for a in shared.server.fleet.seven_signal_agents())
    assert len(set(seen)) == len(seen)


def test_page_past_the_end_is_empty_with_correct_pagination(shared: Api) -> None:
    body = shared.get("/eyes/agents", {"page": 99, "perPage": 25}).json()
    total = len(shared.server.fleet.seven_signal_agents())
    assert body == {
        "results": [],
        "pagination": {"perPage": 25, "page": 99, "total": total, "pages": -(-total // 25)},
    }


def test_per_page_is_capped_at_250(serve, client) -> None:
    api = Api(serve("7signal", devices=400), client)
    body = api.get("/eyes/agents", {"perPage": 1000}).json()
    assert body["pagination"]["perPage"] == 250 and len(body["results"]) == 250


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"perPage": 0},
        {"page": "two"},
        {"perPage": "1.5"},
        {"order": "sideways"},
        {"sortField": "favouriteColour"},
        {"platform[]": "beos"},
        {"licenseConstraint": "maybe"},
    ],
)
def test_bad_agent_query_is_a_spring_400(shared: Api, params: dict) -> None:
    assert_spring_error(shared.get("/eyes/agents", params), 400, "/eyes/agents")


def test_platform_filter_accepts_brackets_repeats_and_commas(shared: Api) -> None:
    agents = shared.server.fleet.seven_signal_agents()
    expect = sum(1 for a in agents if a.platform in ("windows", "linux"))
    for params in (
        [("platform[]", "windows"), ("platform[]", "linux")],
        [("platform", "windows"), ("platform", "linux")],
        [("platform", "windows,linux")],
    ):
        body = shared.get("/eyes/agents", [*params, ("perPage", "250")]).json()
        assert body["pagination"]["total"] == expect
        assert {a["platform"] for a in body["results"]} == {"windows", "linux"}


def test_agent_filters_are_exact_matches(shared: Api) -> None:
    agents = shared.server.fleet.seven_signal_agents()
    one = agents[3]
    cases = [
        ({"lastSsid[]": one.ssid}, lambda a: a.ssid == one.ssid),
        ({"lastLocationId[]": one.location_id}, lambda a: a.location_id == one.location_id),
        ({"clientName": one.hostname}, lambda a: a.hostname == one.hostname),
        ({"clientName": one.hostname[:-1]}, lambda a: False),
        ({"platform[]": "android", "lastSsid[]": one.ssid}, lambda a: a.platform == "android"),
    ]
    for params, keep in cases:
        expected = {a.agent_id for a in agents if keep(a)}
        if "lastSsid[]" in params:
            expected = {a.agent_id for a in agents if keep(a) and a.ssid == one.ssid}
        body = shared.get("/eyes/agents", {**params, "perPage": 250}).json()
        assert {a["id"] for a in body["results"]} == expected, params
        assert body["pagination"]["total"] == len(expected)


def test_license_constraint_splits_the_fleet(shared: Api) -> None:
    licensed = shared.get("/eyes/agents", {"licenseConstraint": "licensed", "perPage": 250}).json()
    unlicensed = shared.get("/eyes/agents", {"licenseConstraint": "unlicensed", "perPage": 250})
    unlicensed = unlicensed.json()
    assert all(a["isLicensed"] for a in licensed["results"])
    assert not any(a["isLicensed"] for a in unlicensed["results"])
    total = len(shared.server.fleet.seven_signal_agents())
    assert licensed["pagination"]["total"] + unlicensed["pagination"]["total"] == total
    assert unlicensed["pagination"]["total"] > 0


def test_sorting_and_the_limit_sort_aliases(shared: Api) -> None:
    desc = shared.get("/eyes/agents", {"sortField": "lastSeen", "order": "desc", "perPage": 250})
    seen = [a["lastSeen"] for a in desc.json()["results"]]
    assert seen == sorted(seen, reverse=True)
    alias = shared.get("/eyes/agents", {"sort": "lastSeen", "order": "DESC", "limit": 3}).json()
    assert alias["pagination"]["perPage"] == 3
    assert [a["id"] for a in alias["results"]] == [a["id"] for a in desc.json()["results"][:3]]
    names = [a["name"] for a in shared.get("/eyes/agents", {"order": "desc"}).json()["results"]]
    assert names == sorted(names, reverse=True)


def test_last_seen_moves_with_the_simulated_clock(api: Api) -> None:
    params = {"sortField": "lastSeen", "order": "desc", "perPage": 5}
    before = {a["id"]: a["lastSeen"] for a in api.get("/eyes/agents", params).json()["results"]}
    assert all(EPOCH_MS - 300_000 < seen <= EPOCH_MS for seen in before.values())
    api.advance(3600)
    for agent_id, seen in before.items():
        assert api.get(f"/eyes/agents/{agent_id}").json()["lastSeen"] == seen + 3_600_000


def test_one_agent_and_an_unknown_agent(shared: Api) -> None:
    first = shared.get("/eyes/agents").json()["results"][0]
    assert shared.get(f"/eyes/agents/{first['id']}").json() == first
    missing = "00000000-0000-4000-8000-000000000000"
    assert_spring_error(shared.get(f"/eyes/agents/{missing}"), 404, f"/eyes/agents/{missing}")


# --- /incidents/agents -------------------------------------------------------------------------
def test_first_poll_sees_history_and_open_incidents(shared: Api) -> None:
    body = shared.get("/incidents/agents").json()
    assert list(body) == ["range", "results"]
    window = body["range"]
    assert window == {
        "from": EPOCH_MS - DAY_MS,
        "fromAsDateString": "2026-08-16T09:00:00.000Z[UTC]",
        "to": EPOCH_MS,
        "toAsDateString": "2026-08-17T09:00:00.000Z[UTC]",
        "total": len(body["results"]),
        "duration": DAY_MS,
        "durationAsString": "24 hours",
    }
    closed = [i for i in body["results"] if "endTimestamp" in i]
    still_open = [i for i in body["results"] if "endTimestamp" not in i]
    assert len(closed) >= 10 and still_open
    truth = {i["id"] for i in shared.truth()["open_incidents"]}
    assert {i["id"] for i in still_open} == truth
    for incident in body["results"]:
        assert incident["type"] in INCIDENT_TYPES
        assert incident["band"] in (2.4, 5.0, 6.0) and isinstance(incident["band"], float)
        assert set(incident["thresholds"]) == THRESHOLD_KEYS
        assert 0 < incident["countImpacted"] <= incident["populationCount"]
        for key in ("startTimestamp", "asOfTimestamp", "timestampDeterminedToBeIncident"):
            assert ISO_MS.match(incident[key])
        assert incident["startTimestamp"] < incident["timestampDeterminedToBeIncident"]
        if "endTimestamp" in incident:
            assert incident["startTimestamp"] <= incident["endTimestamp"]
            assert incident["endTimestamp"] <= incident["asOfTimestamp"]
        assert "pagination" not in incident


def test_incident_order_asc_and_desc(shared: Api) -> None:
    desc = [i["startTimestamp"] for i in shared.get("/incidents/agents").json()["results"]]
    asc = shared.get("/incidents/agents", {"order": "asc"}).json()["results"]
    assert desc == sorted(desc, reverse=True)
    assert [i["startTimestamp"] for i in asc] == sorted(desc)


@pytest.mark.parametrize(
    "params",
    [
        {"from": EPOCH_MS - 30 * DAY_MS - 1, "to": EPOCH_MS},
        {"from": EPOCH_MS, "to": EPOCH_MS - 1},
        {"from": "yesterday"},
        {"to": "12.5"},
        {"order": "random"},
    ],
)
def test_bad_incident_window_is_a_spring_400(shared: Api, params: dict) -> None:
    assert_spring_error(shared.get("/incidents/agents", params), 400, "/incidents/agents")


def test_thirty_day_window_is_allowed(shared: Api) -> None:
    body = shared.get("/incidents/agents", {"from": EPOCH_MS - 30 * DAY_MS, "to": EPOCH_MS}).json()
    assert body["range"]["durationAsString"] == "720 hours"
    # the pre-generated history covers the last simulated day only
    assert body["range"]["total"] == shared.get("/incidents/agents").json()["range"]["total"] > 0


def test_window_includes_incidents_that_overlap_it(api: Api) -> None:
    long_running = api.scenario("create_incident").json()
    short = api.scenario("create_incident").json()
    api.advance(1800)
    assert api.scenario("end_incident", id=short["id"]).status_code == 200
    api.advance(3 * 3600)
    now = EPOCH_MS + (1800 + 3 * 3600) * 1000
    last_hour = api.get("/incidents/agents", {"from": now - 3_600_000, "to": now}).json()
    ids = {i["id"] for i in last_hour["results"]}
    assert long_running["id"] in ids  # started before the window, still open
    assert short["id"] not in ids  # ended before the window
    wide = api.get("/incidents/agents", {"from": now - 4 * 3_600_000, "to": now}).json()
    assert short["id"] in {i["id"] for i in wide["results"]}
    started = datetime.fromisoformat(long_running["startTimestamp"])
    to = int(started.timestamp() * 1000)
    before = api.get("/incidents/agents", {"from": to - DAY_MS, "to": to - 1}).json()
    assert long_running["id"] not in {i["id"] for i in before["results"]}
    at_start = api.get("/incidents/agents", {"from": to - DAY_MS, "to": to}).json()
    assert long_running["id"] in {i["id"] for i in at_start["results"]}


def test_location_filter_is_snake_case_only(shared: Api) -> None:
    everything = shared.get("/incidents/agents").json()["results"]
    location = everything[0]["location"]
    only = shared.get("/incidents/agents", {"location_id": location}).json()["results"]
    assert only and {i["location"] for i in only} == {location}
    assert len(only) == sum(1 for i in everything if i["location"] == location)
    ignored = shared.get("/incidents/agents", {"locationId": location}).json()["results"]
    assert [i["id"] for i in ignored] == [i["id"] for i in everything]


def test_as_of_keeps_moving_then_settles_after_the_end(api: Api) -> None:
    created = api.scenario("create_incident").json()
    assert "endTimestamp" not in created
    assert created["asOfTimestamp"] == "2026-08-17T09:00:00.000Z"
    api.advance(600)
    detail = api.get(f"/incidents/agents/{created['id']}").json()
    assert detail["asOfTimestamp"] == "2026-08-17T09:10:00.000Z"
    ended = api.scenario("end_incident", id=created["id"]).json()
    assert ended["endTimestamp"] == "2026-08-17T09:10:00.000Z"
    api.advance(3 * 3600)
    detail = api.get(f"/incidents/agents/{created['id']}").json()
    as_of = detail["asOfTimestamp"]
    assert "2026-08-17T09:15:00.000Z" <= as_of <= "2026-08-17T09:40:00.000Z"
    api.advance(3600)
    assert api.get(f"/incidents/agents/{created['id']}").json()["asOfTimestamp"] == as_of


def test_incident_detail_is_flat(shared: Api) -> None:
    listed = shared.get("/incidents/agents").json()["results"][0]
    detail = shared.get(f"/incidents/agents/{listed['id']}").json()
    assert "thresholds" not in detail
    assert THRESHOLD_KEYS <= set(detail)
    flattened = {k: v for k, v in listed.items() if k != "thresholds"} | listed["thresholds"]
    assert detail == flattened
    missing = "00000000-0000-4000-8000-000000000000"
    assert_spring_error(
        shared.get(f"/incidents/agents/{missing}"), 404, f"/incidents/agents/{missing}"
    )


# --- rate limiting -----------------------------------------------------------------------------
def test_every_api_response_carries_rate_limit_headers(limited: Api) -> None:
    first, second = limited.get("/eyes"), limited.get("/eyes/agents/nope")
    assert second.status_code == 404
    assert first.headers["X-RateLimit-Remaining"] == "14"
    assert second.headers["X-RateLimit-Remaining"] in ("13", "14")  # 14 if 0.2 s passed
    for response in (first, second):
        assert response.headers["X-RateLimit-Burst-Capacity"] == "15"
        assert response.headers["X-RateLimit-Replenish-Rate"] == "5"
        assert response.headers["X-RateLimit-Requested-Tokens"] == "1"
    config = limited.control("GET", "ratelimit").json()
    assert (config["enabled"], config["burst"], config["replenish_rate"]) == (True, 15, 5.0)


def test_empty_bucket_answers_429_per_client(limited: Api) -> None:
    update = {"burst": 3, "replenish_rate": 0.001}
    assert limited.control("PUT", "ratelimit", update).json()["burst"] == 3
    assert [limited.get("/eyes").status_code for _ in range(3)] == [200, 200, 200]
    refused = limited.get("/eyes")
    assert refused.status_code == 429 and refused.content == b""
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Burst-Capacity"] == "3"
    assert "retry-after" not in refused.headers
    second_token = {"Authorization": f"Bearer {fetch_token(limited.http, limited.url)}"}
    assert limited.http.get(f"{limited.url}/eyes", headers=second_token).status_code == 429


def test_bucket_refills_at_the_replenish_rate(limited: Api) -> None:
    limited.control("PUT", "ratelimit", {"burst": 1, "replenish_rate": 2})
    assert limited.get("/eyes").status_code == 200
    assert limited.get("/eyes").status_code == 429  # a token takes 0.5 s to come back
    time.sleep(0.55)
    assert limited.get("/eyes").status_code == 200


def test_rate_limiting_can_be_disabled(limited: Api) -> None:
    limited.control("PUT", "ratelimit", {"enabled": False, "burst": 1})
    responses = [limited.get("/eyes") for _ in range(20)]
    assert all(r.status_code == 200 for r in responses)
    assert "X-RateLimit-Remaining" not in responses[-1].headers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"burst": 0}, "burst"),
        ({"burst": 2.5}, "burst"),
        ({"replenish_rate": 0}, "replenish_rate"),
        ({"replenish_rate": "fast"}, "replenish_rate"),
        ({"enabled": "yes"}, "enabled"),
        ({"window": 60}, "window"),
    ],
)
def test_rate_limit_settings_are_validated(limited: Api, body: dict, field: str) -> None:
    response = limited.control("PUT", "ratelimit", body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert limited.control("GET", "ratelimit").json()["burst"] == 15


# --- scenario and ground truth -----------------------------------------------------------------
def test_create_incident_with_every_parameter(api: Api) -> None:
    location = api.server.fleet.locations[4]
    response = api.scenario(
        "create_incident",
        location_id=location.id,
        network="eduroam",
        band=6.0,
        type="CONGESTION",
        countImpacted=7,
        populationCount=40,
    )
    assert response.status_code == 200
    created = response.json()
    assert (created["location"], created["locationName"]) == (location.id, location.name)
    assert (created["network"], created["band"], created["type"]) == ("eduroam", 6.0, "CONGESTION")
    assert (created["countImpacted"], created["populationCount"]) == (7, 40)
    assert created["timestampDeterminedToBeIncident"] == "2026-08-17T09:00:00.000Z"
    truth = api.truth()
    # 9 in 10 of the 200 devices run the agent, plus the old agents of re-imaged machines
    retired = sum(1 for e in api.server.fleet.retired if e.agent_id)
    assert truth["vendor"] == "7signal" and truth["agents"] == 180 + retired
    mine = [i for i in truth["open_incidents"] if i["id"] == created["id"]]
    assert mine == [
        {
            "id": created["id"],
            "type": "CONGESTION",
            "location": location.id,
            "network": "eduroam",
            "band": 6.0,
            "startTimestamp": created["startTimestamp"],
        }
    ]
    listed = api.get("/incidents/agents").json()["results"]
    assert created["id"] in {i["id"] for i in listed}


def test_end_incident_closes_it(api: Api) -> None:
    created = api.scenario("create_incident", duration_minutes=0).json()
    api.advance(300)
    ended = api.scenario("end_incident", id=created["id"])
    assert ended.status_code == 200 and ended.json()["endTimestamp"] == "2026-08-17T09:05:00.000Z"
    assert created["id"] not in {i["id"] for i in api.truth()["open_incidents"]}
    again = api.scenario("end_incident", id=created["id"])
    assert again.status_code == 409 and again.json()["error"]["field"] == "id"
    unknown = api.scenario("end_incident", id="no-such-incident")
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "id"


def test_created_incident_with_a_duration_ends_by_itself(api: Api) -> None:
    created = api.scenario("create_incident", duration_minutes=20).json()
    api.advance(19 * 60)
    assert created["id"] in {i["id"] for i in api.truth()["open_incidents"]}
    api.advance(60)
    detail = api.get(f"/incidents/agents/{created['id']}").json()
    assert detail["endTimestamp"] == "2026-08-17T09:20:00.000Z"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"band": 3.0}, "band"),
        ({"location_id": "nowhere"}, "location_id"),
        ({"countImpacted": 9, "populationCount": 3}, "countImpacted"),
        ({"populationCount": -1}, "populationCount"),
        ({"type": ""}, "type"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_incident_validates_its_input(api: Api, params: dict, field: str) -> None:
    response = api.scenario("create_incident", **params)
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_unknown_or_missing_action_names_the_field(shared: Api) -> None:
    for body in ({"action": "explode"}, {}):
        response = shared.control("POST", "scenario", body)
        assert response.status_code == 400 and response.json()["error"]["field"] == "action"
    index = shared.control("GET", "").json()
    assert set(index["actions"]) == {"create_incident", "end_incident"}


def test_the_scenario_keeps_a_few_incidents_open(api: Api) -> None:
    start_ids = {i["id"] for i in api.get("/incidents/agents").json()["results"]}
    for _ in range(6):
        api.advance(2 * 3600)
        truth = api.truth()["open_incidents"]
        assert 1 <= len(truth) <= 15
    body = api.get("/incidents/agents", {"from": EPOCH_MS, "to": EPOCH_MS + 12 * 3_600_000})
    results = body.json()["results"]
    new = [i for i in results if i["id"] not in start_ids]
    assert len(new) >= 5
    assert any("endTimestamp" in i for i in new)
    open_now = {
        i["id"] for i in api.get("/incidents/agents").json()["results"] if "endTimestamp" not in i
    }
    assert open_now == {i["id"] for i in truth}


def test_credentials_are_documented_demo_values(shared: Api) -> None:
    assert shared.control("GET", "credentials").json() == CREDS


# --- scenario internals: cost and scale (no server) --------------------------------------------
class _Untouchable(list):
    """A fleet list that fails the test if the scenario iterates or measures it."""

    def __iter__(self):
        raise AssertionError("on_tick iterated over the fleet")

    def __len__(self):
        raise AssertionError("on_tick measured the fleet")


def test_ticks_cost_changes_not_fleet_size() -> None:
    fleet = generate_fleet(3, 300)
    emulator = SevenSignalEmulator(fleet, SimClock(EPOCH, speed=1e-9), seed=3)
    before = len(emulator._incidents)
    emulator.fleet.endpoints = _Untouchable(fleet.endpoints)
    emulator._agents = emulator._by_name = _Untouchable(emulator._agents)
    emulator.clock.advance(2 * 86_400)
    emulator.sync()
    assert len(emulator._incidents) > before + 20


def test_incident_rate_scales_mildly_with_fleet_size() -> None:
    clock = SimClock(EPOCH, speed=1e-9)
    small = SevenSignalEmulator(generate_fleet(1, 200), clock, 1).incident_rate
    large = SevenSignalEmulator(generate_fleet(1, 5000), clock, 1).incident_rate
    assert small < large < 3 * small
