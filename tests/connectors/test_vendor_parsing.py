"""Vendor parsing and the auth flow without sockets: each vendor module against an
``httpx.MockTransport`` answering what the vendor documents, with a ``MemoryHub`` for what the
hub knows. The real-HTTP emulator tests stay the main tests; these pin the shapes and the
flows no emulator fault produces (a refreshed token that is refused, a vendor that ignores
``page``). No database: the contract says ``poll`` needs none."""

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from fleetwatch.connectors.base import INFINITY, DeviceRecord, MemoryHub, StoredIncident
from fleetwatch.connectors.http import AuthError, RetryPolicy, VendorError, VendorHTTP
from fleetwatch.connectors.options import resolve_options
from fleetwatch.connectors.registry import connector_class

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=2, base_delay=0, max_delay=0, default_rate_limit_wait=0)


class Vendor:
    """A scripted vendor: ``routes[(method, path)]`` answers each request; every request is
    kept in ``seen``."""

    def __init__(self, routes: dict) -> None:
        self.routes = routes
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.routes[(request.method, request.url.path)]
        return answer(request) if callable(answer) else answer

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.seen]


def connector_for(slug: str, vendor: Vendor, credentials: dict, **options):
    http = VendorHTTP(
        "http://vendor.test",
        transport=httpx.MockTransport(vendor),
        retry=FAST,
        sleep=lambda seconds: None,
    )
    cls = connector_class(slug)
    return cls(
        http=http,
        options=resolve_options(slug, options),
        credentials=credentials,
        auth_cache={},
        name="unit",
    )


def form(request: httpx.Request) -> dict:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def stored(description="d", level=3, end=INFINITY) -> StoredIncident:
    start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    return StoredIncident(start, description, level, "", "https://tickets/1", {"m": 1}, end)


# --- 7SIGNAL ----------------------------------------------------------------------------------

SEVEN_CREDS = {"client_id": "seven-id", "client_secret": "seven-secret"}
TOKEN = httpx.Response(200, json={"access_token": "jwt-1", "expires_in": 86400})


def seven_incident(**extra) -> dict:
    return {
        "id": "inc-1",
        "type": "SEVEN_MCS",
        "network": "#corp",
        "band": "5",
        "location": "loc-9",
        "locationName": "Main Hall",
        "organizationName": "Org",
        "startTimestamp": "2026-03-01T10:00:00Z",
        "countImpacted": 6,
        "populationCount": 10,
        "thresholds": {"minPercentImpacted": 10},
        **extra,
    }


def test_7signal_poll_parses_incidents_and_agents_with_the_bearer_token():
    incidents = {
        "results": [seven_incident(), seven_incident(id="inc-2", endTimestamp="2026-03-01T11Z")],
        "range": {"from": 1, "to": 1772366400000},
    }
    agents = {
        "results": [{"id": "a1", "name": "lap", "mac": "aa:bb", "platform": "mac", "lastSeen": 0}],
        "pagination": {"pages": 1},
    }
    vendor = Vendor(
        {
            ("POST", "/oauth2/token"): TOKEN,
            ("GET", "/incidents/agents"): httpx.Response(200, json=incidents),
            ("GET", "/eyes/agents"): httpx.Response(200, json=agents),
        }
    )
    seven = connector_for("7signal", vendor, SEVEN_CREDS)
    result = seven.poll({}, NOW, MemoryHub())
    assert vendor.paths() == ["POST /oauth2/token", "GET /incidents/agents", "GET /eyes/agents"]
    assert form(vendor.seen[0])["grant_type"] == "client_credentials"
    assert vendor.seen[1].headers["Authorization"] == "Bearer jwt-1"
    first, second = result.incidents
    assert first.source_incident_id == "inc-1" and first.end_time == INFINITY
    assert first.level == 2  # 60 % impacted against a 10 % minimum: ≥ 5×
    assert ("band", "5 GHz") in first.tags and ("location", "Main Hall") in first.tags
    assert second.end_time == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert result.bookmarks["incidents"] == 1772366400000
    assert [d.vendor_id for d in result.devices] == ["a1"] and result.devices[0].os == "mac"


def test_7signal_answers_of_the_wrong_shape_fail_the_poll():
    vendor = Vendor(
        {
            ("POST", "/oauth2/token"): TOKEN,
            ("GET", "/incidents/agents"): httpx.Response(200, json={"results": []}),
        }
    )
    with pytest.raises(VendorError, match="range"):
        connector_for("7signal", vendor, SEVEN_CREDS).poll({}, NOW, MemoryHub())


def test_7signal_agents_that_ignore_the_page_fail_instead_of_looping():
    """The vendor says 1,000 pages but answers page 1 every time: the loop is caught on the
    second page instead of reading 1,000 copies (7SIGNAL agents had no guard)."""
    same = {"results": [{"id": "a1"}, {"id": "a2"}], "pagination": {"pages": 1000}}
    vendor = Vendor(
        {
            ("POST", "/oauth2/token"): TOKEN,
            ("GET", "/eyes/agents"): httpx.Response(200, json=same),
        }
    )
    seven = connector_for("7signal", vendor, SEVEN_CREDS)
    with pytest.raises(VendorError, match="same items"):
        seven.read_agents()
    assert vendor.paths().count("GET /eyes/agents") == 2


def test_a_401_means_one_new_login_then_credentials_refused():
    vendor = Vendor(
        {
            ("POST", "/oauth2/token"): TOKEN,
            ("GET", "/eyes"): httpx.Response(401, json={"error": "nope"}),
        }
    )
    with pytest.raises(AuthError, match="credentials refused"):
        connector_for("7signal", vendor, SEVEN_CREDS).check()
    assert vendor.paths() == ["POST /oauth2/token", "GET /eyes"] * 2


# --- MetaAccess --------------------------------------------------------------------------------

MA_CREDS = {"client_id": "ma-id", "client_secret": "ma-secret"}


class TokenServer:
    """MetaAccess's token endpoint: numbered access tokens, one refresh token."""

    def __init__(self) -> None:
        self.grants: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        grant = form(request)["grant_type"]
        self.grants.append(grant)
        return httpx.Response(
            200,
            json={
                "access_token": f"tok-{len(self.grants)}-{grant}",
                "expires_in": 3600,
                "refresh_token": "refresh-1",
            },
        )


def test_a_refused_refreshed_token_is_followed_by_a_full_login_not_an_auth_error():
    """The documented rule: refresh once, then a full login. The connector used to call the
    credentials refused (and open a health incident) when the refreshed token was refused."""
    tokens = TokenServer()

    def account(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("access_token", "")
        if token.endswith("client_credentials") and token.startswith("tok-3"):
            return httpx.Response(200, json={"name": "Acme", "devices_used": 3})
        return httpx.Response(401, json={"error": "invalid token"})

    vendor = Vendor({("POST", "/o/oauth/token"): tokens, ("GET", "/o/api/v2/account"): account})
    ma = connector_for("metaaccess", vendor, MA_CREDS)
    assert ma.check()["account"] == "Acme"
    assert tokens.grants == ["client_credentials", "refresh_token", "client_credentials"]
    assert vendor.paths().count("GET /o/api/v2/account") == 3
    assert ma.auth.cache["access_token"] == "tok-3-client_credentials"


def test_credentials_are_refused_only_after_a_fresh_login_is():
    tokens = TokenServer()
    vendor = Vendor(
        {
            ("POST", "/o/oauth/token"): tokens,
            ("GET", "/o/api/v2/account"): httpx.Response(401, json={"error": "invalid"}),
        }
    )
    with pytest.raises(AuthError, match="credentials refused"):
        connector_for("metaaccess", vendor, MA_CREDS).check()
    assert tokens.grants == ["client_credentials", "refresh_token", "client_credentials"]


def test_a_refused_refresh_grant_falls_back_to_a_login():
    grants = []

    def token(request: httpx.Request) -> httpx.Response:
        grant = form(request)["grant_type"]
        grants.append(grant)
        if grant == "refresh_token":
            return httpx.Response(400, json={"error": "invalid_grant"})
        return httpx.Response(
            200, json={"access_token": f"t{len(grants)}", "refresh_token": "r", "expires_in": 60}
        )

    answers = iter([httpx.Response(401), httpx.Response(200, json={"name": "Acme"})])
    vendor = Vendor(
        {
            ("POST", "/o/oauth/token"): token,
            ("GET", "/o/api/v2/account"): lambda request: next(answers),
        }
    )
    assert connector_for("metaaccess", vendor, MA_CREDS).check()["account"] == "Acme"
    assert grants == ["client_credentials", "refresh_token", "client_credentials"]


def test_a_refused_login_is_an_auth_error():
    vendor = Vendor(
        {("POST", "/o/oauth/token"): httpx.Response(401, json={"error": "invalid_client"})}
    )
    with pytest.raises(AuthError, match="token request refused"):
        connector_for("metaaccess", vendor, MA_CREDS).check()


def device(device_id: str, status: str, last_seen: str, **extra) -> dict:
    return {
        "device_id": device_id,
        "device_name": f"host-{device_id}",
        "status": status,
        "severity": "critical" if status == "non-compliant" else "no_issues",
        "last_seen": last_seen,
        "issue": {"total_issue": 1, "total_critical_issue": 1, "total_warning_issue": 0},
        **extra,
    }


def test_metaaccess_delta_poll_ends_only_what_the_hub_has_open():
    tokens = TokenServer()
    changed = {
        "monitored_devices": [
            device("d1", "non-compliant", "2026-03-01T11:59:00Z"),
            device("d2", "compliant", "2026-03-01T11:58:00Z"),
            device("d3", "compliant", "2026-03-01T11:58:00Z"),  # nothing open: no incident
        ],
        "deleted_devices": [{"device_id": "d4", "device_name": "gone"}],
    }
    vendor = Vendor(
        {
            ("POST", "/o/oauth/token"): tokens,
            ("POST", "/o/api/v3/devices/status_changed"): httpx.Response(200, json=changed),
            ("POST", "/o/api/v3/activities"): httpx.Response(200, json=[]),
        }
    )
    hub = MemoryHub(
        stored={"device:d2": stored("d2 bad"), "device:d4": stored("d4 bad")},
        known={"d4": DeviceRecord("d4", name="gone-host", os="Windows")},
    )
    ma = connector_for("metaaccess", vendor, MA_CREDS)
    marks = {
        "status_changed": "2026-03-01T11:59:00+00:00",
        "vendor_clock": "2026-03-01T11:58:30+00:00",
        "vendor_clock_from": "data",
        "activities": "2026-03-01T11:00:00+00:00",
    }
    result = ma.poll(marks, NOW, hub)
    sent = json.loads(vendor.seen[1].content)
    assert sent["age"] == 180 and sent["verbose"] == 1  # 60 s since the last poll + overlap
    by_sid = {d.source_incident_id: d for d in result.incidents}
    assert by_sid["device:d1"].end_time == INFINITY and by_sid["device:d1"].level == 2
    assert by_sid["device:d2"].end_time == datetime(2026, 3, 1, 11, 58, tzinfo=UTC)
    assert by_sid["device:d2"].description == "d2 bad"  # the stored fields ride along
    assert by_sid["device:d4"].end_time == NOW
    assert "device:d3" not in by_sid
    deleted = [d for d in result.devices if d.deleted]
    assert [(d.vendor_id, d.os) for d in deleted] == [("d4", "Windows")]  # the hub's details
    assert result.notes["ended"] == 2 and not result.notes["widened"]
    assert result.bookmarks["vendor_clock"] == "2026-03-01T11:59:00+00:00"


def test_metaaccess_reads_again_when_the_vendor_clock_ran_further_than_ours():
    """Our last poll was 60 s ago, but the vendor's newest report is 20 minutes past the last
    reading: its clock runs faster (the demo's 10×). The window is widened on its clock."""
    ages = []

    def status_changed(request: httpx.Request) -> httpx.Response:
        ages.append(json.loads(request.content)["age"])
        return httpx.Response(
            200,
            json={"monitored_devices": [device("d1", "non-compliant", "2026-03-01T12:18:30Z")]},
        )

    vendor = Vendor(
        {
            ("POST", "/o/oauth/token"): TokenServer(),
            ("POST", "/o/api/v3/devices/status_changed"): status_changed,
            ("POST", "/o/api/v3/activities"): httpx.Response(200, json=[]),
        }
    )
    marks = {
        "status_changed": "2026-03-01T11:59:00+00:00",
        "vendor_clock": "2026-03-01T11:58:30+00:00",
        "vendor_clock_from": "data",
    }
    result = connector_for("metaaccess", vendor, MA_CREDS).poll(marks, NOW, MemoryHub())
    assert ages == [180, 1200 + 240]  # 20 vendor minutes + the overlap twice
    assert result.notes["widened"] and not result.notes["full_sync"]
    # A reading more than a day past the last one: the full list, not a day-capped delta.
    marks["vendor_clock"] = "2026-02-27T12:00:00+00:00"
    ages.clear()
    vendor.routes[("POST", "/o/api/v3.6/devices")] = httpx.Response(
        200, json={"devices": [], "next_token": None}
    )
    result = connector_for("metaaccess", vendor, MA_CREDS).poll(marks, NOW, MemoryHub())
    assert ages == [180] and result.notes["full_sync"] and result.notes["widened"]


def test_metaaccess_full_list_with_a_repeated_cursor_fails():
    pages = iter(
        [
            {"devices": [device("d1", "compliant", "2026-03-01T11:00:00Z")], "next_token": "c1"},
            {"devices": [], "next_token": "c1"},
        ]
    )
    vendor = Vendor(
        {
            ("POST", "/o/oauth/token"): TokenServer(),
            ("POST", "/o/api/v3.6/devices"): lambda request: httpx.Response(200, json=next(pages)),
        }
    )
    with pytest.raises(VendorError, match="repeated or garbled its cursor"):
        connector_for("metaaccess", vendor, MA_CREDS).poll({}, NOW, MemoryHub())


# --- Sensaphone --------------------------------------------------------------------------------

SENSA_CREDS = {"user_name": "ops@example.com", "password": "pw-123456"}


def envelope(response: dict | None = None, code: int = 0, success: bool = True) -> dict:
    return {"result": {"success": success, "code": code, "message": "m"}, "response": response}


def test_sensaphone_session_expired_in_a_200_logs_in_once_more():
    logins = []

    def login(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("request_type") == "read":  # session introspection
            if body["session"] == "s-1":
                return httpx.Response(200, json=envelope(code=2, success=False))
            return httpx.Response(200, json=envelope({"acctid": 7, "session_expiration": 9}))
        logins.append(body["user_name"])
        return httpx.Response(200, json=envelope({"acctid": 7, "session": f"s-{len(logins)}"}))

    vendor = Vendor({("POST", "/api/v1/login"): login})
    sensa = connector_for("sensaphone", vendor, SENSA_CREDS)
    assert sensa.check()["acctid"] == 7
    assert logins == ["ops@example.com"] * 2
    assert sensa.auth.cache["session"] == "s-2"


def test_sensaphone_refused_login_is_an_auth_error_without_the_password():
    vendor = Vendor(
        {("POST", "/api/v1/login"): httpx.Response(200, json=envelope(code=5, success=False))}
    )
    with pytest.raises(AuthError) as caught:
        connector_for("sensaphone", vendor, SENSA_CREDS).check()
    assert "pw-123456" not in str(caught.value)
