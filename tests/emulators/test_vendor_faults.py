"""Every fault kind against MetaAccess and Sensaphone.net, over real HTTP on 127.0.0.1.

test_core.py exercises each kind on 7SIGNAL; here the same kinds run against the other two
vendors, each with the vendor's own signals: MetaAccess's ``{"error": {"code", "message"}}``
body, 429 with ``Retry-After`` and 401 on a revoked token; Sensaphone's envelope with code 6
for server errors, code 7 for rate limiting and code 2 (HTTP 200) for a revoked session. After
each fault the emulator must serve normally again.
"""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.faults import KINDS

EPOCH = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}
SP_LOGIN = {
    "request_type": "create",
    "resource": "login",
    "user_name": "demo@fleetwatch.local",
    "password": "demo-password",
}


class Vendor:
    """One running emulator with credentials; subclasses know the vendor's signals."""

    name = ""

    def __init__(self, server, http: httpx.Client) -> None:
        self.server, self.http, self.url = server, http, server.url
        self.login()

    def login(self) -> None:
        raise NotImplementedError

    def probe(self, **kwargs) -> httpx.Response:
        """A normal, authenticated read a connector makes (200 when all is well)."""
        raise NotImplementedError

    def assert_normal(self, response: httpx.Response) -> None:
        raise NotImplementedError

    def assert_error(self, response: httpx.Response, status: int) -> None:
        raise NotImplementedError

    def assert_rate_limited(self, response: httpx.Response) -> None:
        raise NotImplementedError

    def assert_unauthenticated(self, response: httpx.Response) -> None:
        raise NotImplementedError

    def control(self, method: str, path: str, body=None) -> httpx.Response:
        return self.http.request(method, f"{self.url}/_emulator/{path}", json=body)

    def fault(self, **spec) -> dict:
        response = self.control("POST", "faults", spec)
        assert response.status_code == 201, response.text
        return response.json()


class MetaAccess(Vendor):
    name = "metaaccess"

    def login(self) -> None:
        tokens = self.http.post(
            f"{self.url}/o/oauth/token", data={"grant_type": "client_credentials", **CREDS}
        ).json()
        self.token, self.refresh = tokens["access_token"], tokens["refresh_token"]

    def probe(self, **kwargs) -> httpx.Response:
        return self.http.post(
            f"{self.url}/o/api/v3/devices/status_changed",
            params={"access_token": self.token},
            json={"verbose": 1, "limit": 50},
            **kwargs,
        )

    def assert_normal(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"monitored_devices", "deleted_devices"}
        assert response.json()["monitored_devices"]

    def assert_error(self, response: httpx.Response, status: int) -> None:
        assert response.status_code == status
        assert response.json() == {"error": {"code": status, "message": "injected fault"}}

    def assert_rate_limited(self, response: httpx.Response, retry_after: str = "5") -> None:
        assert response.status_code == 429
        assert response.headers["Retry-After"] == retry_after
        assert response.json()["error"]["code"] == 429

    def assert_unauthenticated(self, response: httpx.Response) -> None:
        assert response.status_code == 401
        assert response.json()["error"] == {"code": 401, "message": "access_token is invalid"}
        # the refresh token was revoked too: only a new client_credentials grant helps
        refreshed = self.http.post(
            f"{self.url}/o/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": self.refresh, **CREDS},
        )
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


class Sensaphone(Vendor):
    name = "sensaphone"

    def login(self) -> None:
        answer = self.http.post(f"{self.url}/api/v1/login", json=SP_LOGIN).json()
        assert answer["result"]["success"], answer
        self.acctid, self.session = answer["response"]["acctid"], answer["response"]["session"]

    def probe(self, **kwargs) -> httpx.Response:
        path = f"/api/v2/{self.acctid}/{self.session}/history/event_log/record_offset/20"
        return self.http.get(self.url + path, **kwargs)

    def assert_normal(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["result"] == {"success": True, "code": 0, "message": "Success"}
        assert answer["response"]["history"]["event_log"]

    def assert_error(self, response: httpx.Response, status: int) -> None:
        assert response.status_code == status
        assert response.json() == {
            "result": {"success": False, "code": 6, "message": "injected fault"},
            "response": {},
        }

    def assert_rate_limited(self, response: httpx.Response, retry_after: str = "5") -> None:
        assert response.status_code == 429
        assert response.headers["Retry-After"] == retry_after
        result = response.json()["result"]
        assert result["success"] is False and result["code"] == 7

    def assert_unauthenticated(self, response: httpx.Response) -> None:
        assert response.status_code == 200  # application errors are HTTP 200 [vendor]
        answer = response.json()
        assert answer["result"]["success"] is False and answer["result"]["code"] == 2
        assert answer["response"] == {}


VENDORS: dict[str, type[Vendor]] = {"metaaccess": MetaAccess, "sensaphone": Sensaphone}


# --- one check per fault kind -------------------------------------------------------------------
def check_http_500(v: Vendor) -> None:
    v.fault(kind="http_500")
    v.assert_error(v.probe(), 500)


def check_http_503(v: Vendor) -> None:
    v.fault(kind="http_503", count=2)
    v.assert_error(v.probe(), 503)
    v.assert_error(v.probe(), 503)


def check_slow(v: Vendor) -> None:
    v.fault(kind="slow", delay=0.3)
    started = time.monotonic()
    response = v.probe()
    assert time.monotonic() - started >= 0.3
    v.assert_normal(response)


def check_timeout(v: Vendor) -> None:
    v.fault(kind="timeout", delay=0.6)
    with pytest.raises(httpx.TimeoutException):
        v.probe(timeout=0.2)


def check_malformed_json(v: Vendor) -> None:
    v.fault(kind="malformed_json")
    response = v.probe()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def check_truncated_json(v: Vendor) -> None:
    v.fault(kind="truncated_json")
    cut = v.probe()
    assert cut.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        cut.json()
    whole = v.probe().content  # the clock is frozen: the same answer in full
    assert 0 < len(cut.content) < len(whole) and whole.startswith(cut.content)


def check_rate_limit(v: Vendor) -> None:
    v.fault(kind="rate_limit", count=3)
    for _ in range(3):
        v.assert_rate_limited(v.probe())
    counters = v.control("GET", "counters").json()
    assert counters["rate_limited"] == 3
    # `delay` is the Retry-After asked for, in whole seconds rounded up (at least 1)
    v.fault(kind="rate_limit", count=2, delay=1.2)
    v.assert_rate_limited(v.probe(), retry_after="2")
    v.fault(kind="rate_limit", count=1, delay=0)
    v.assert_rate_limited(v.probe(), retry_after="2")  # the older fault comes first
    v.assert_rate_limited(v.probe(), retry_after="1")


def check_drop_connection(v: Vendor) -> None:
    v.fault(kind="drop_connection")
    with pytest.raises(httpx.TransportError):
        v.probe()


def check_expire_credentials(v: Vendor) -> None:
    created = v.fault(kind="expire_credentials")
    assert created["kind"] == "expire_credentials"
    assert v.control("GET", "faults").json() == {"faults": []}  # applied at once
    v.assert_unauthenticated(v.probe())
    v.assert_unauthenticated(v.probe())  # until the client logs in again, not just once
    v.login()


FAULT_CHECKS: dict[str, Callable[[Vendor], None]] = {
    "http_500": check_http_500,
    "http_503": check_http_503,
    "slow": check_slow,
    "timeout": check_timeout,
    "malformed_json": check_malformed_json,
    "truncated_json": check_truncated_json,
    "rate_limit": check_rate_limit,
    "drop_connection": check_drop_connection,
    "expire_credentials": check_expire_credentials,
}


def test_every_fault_kind_has_a_check() -> None:
    assert set(FAULT_CHECKS) == set(KINDS)


@pytest.fixture(params=sorted(VENDORS))
def vendor(request, serve, client) -> Vendor:
    """A small emulator on a frozen clock with its own rate limit off, so that only the
    injected faults cause 429s."""
    name = request.param
    server = serve(name, seed=5, devices=100, clock=SimClock(EPOCH, speed=1e-9))
    assert client.put(f"{server.url}/_emulator/ratelimit", json={"enabled": False}).is_success
    return VENDORS[name](server, client)


@pytest.mark.parametrize("kind", sorted(FAULT_CHECKS))
def test_fault_then_the_emulator_keeps_serving(vendor: Vendor, kind: str) -> None:
    vendor.assert_normal(vendor.probe())
    FAULT_CHECKS[kind](vendor)
    assert vendor.control("GET", "faults").json() == {"faults": []}
    for _ in range(3):
        vendor.assert_normal(vendor.probe())


def test_faults_are_counted_under_the_vendor_endpoint(vendor: Vendor) -> None:
    vendor.control("DELETE", "counters")
    vendor.fault(kind="http_503")
    vendor.fault(kind="drop_connection")
    vendor.assert_error(vendor.probe(), 503)
    with pytest.raises(httpx.TransportError):
        vendor.probe()
    vendor.assert_normal(vendor.probe())
    endpoints = vendor.control("GET", "counters").json()["endpoints"]
    [statuses] = [e["statuses"] for e in endpoints.values()]
    assert statuses == {"503": 1, "200": 2}  # the dropped answer had sent its 200 status line
