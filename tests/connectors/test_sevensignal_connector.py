"""The 7SIGNAL connector against the 7SIGNAL emulator, over real HTTP."""

import time
from datetime import datetime

import pytest

from fleetwatch.connectors.models import ConnectorState, VendorDevice
from fleetwatch.incidents.models import Event, Incident

FAULTS = [
    {"kind": "http_500", "count": 2},
    {"kind": "http_503", "count": 2},
    {"kind": "malformed_json", "count": 1},
    {"kind": "truncated_json", "count": 1},
    {"kind": "rate_limit", "count": 3},
    {"kind": "drop_connection", "count": 2},
    {"kind": "timeout", "count": 1, "delay": 1.5},
    {"kind": "expire_credentials"},
    {"kind": "http_500", "count": 50},  # more than the retries: the poll fails
]


def truth_open(ctl) -> set[str]:
    return {i["id"] for i in ctl.truth()["open_incidents"]}


def assert_no_duplicates(connector):
    sids = list(
        Incident.objects.filter(source=connector.source).values_list(
            "source_incident_id", flat=True
        )
    )
    assert len(sids) == len(set(sids))
    starts = Event.objects.filter(incident__source=connector.source, type="STA")
    assert starts.count() == len(sids)


@pytest.fixture
def seven(emulator, make_connector, control):
    server = emulator("7signal", seed=4, devices=60)
    return server, make_connector(server, timeout=1.0), control(server)


def test_first_poll_matches_ground_truth(seven, poll):
    _, connector, ctl = seven
    summary = poll(connector)
    assert summary["status"] == "ok", summary
    assert connector.open_incident_ids() == truth_open(ctl) != set()
    assert VendorDevice.objects.filter(connector=connector).count() == ctl.truth()["agents"]
    incident = Incident.objects.filter(source=connector.source).first()
    tags = {r.tag.key for r in incident.tag_relations.select_related("tag")}
    assert {"type", "network", "band", "location", "organisation"} <= tags
    assert " agents impacted" in incident.description and "GHz" in incident.description
    state = ConnectorState.objects.get(pk=connector.pk)
    assert state.bookmarks["incidents"] > 0 and state.last_success_at is not None
    connector.source.refresh_from_db()
    assert connector.source.last_seen is not None


def test_incidents_open_and_end_as_the_vendor_says(seven, poll):
    _, connector, ctl = seven
    poll(connector)
    made = ctl.act(
        "create_incident", network="CorpWiFi", band=5.0, countImpacted=9, populationCount=10
    )
    poll(connector)
    assert made["id"] in connector.open_incident_ids()
    new = Incident.objects.get(source=connector.source, source_incident_id=made["id"])
    assert new.level == 2  # 90 % impacted
    ctl.act("end_incident", id=made["id"])
    ctl.advance(3600)  # asOfTimestamp moves past the end
    poll(connector)
    assert made["id"] not in connector.open_incident_ids()
    assert Event.objects.filter(incident=new, type="END").count() == 1
    assert connector.open_incident_ids() == truth_open(ctl)
    before = Event.objects.filter(incident__source=connector.source).count()
    poll(connector)  # nothing new: nothing changes
    assert Event.objects.filter(incident__source=connector.source).count() == before
    assert_no_duplicates(connector)


def ends(connector, sid: str) -> int:
    return Event.objects.filter(
        incident__source=connector.source, incident__source_incident_id=sid, type="END"
    ).count()


def assert_each_end_once(connector):
    """Every incident the hub has closed was ended by exactly one END event."""
    for incident in Incident.objects.closed().filter(source=connector.source):
        assert incident.events.filter(type="END").count() == 1, incident.source_incident_id


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('count', 0)}")
def test_faults_lose_and_duplicate_nothing(seven, poll, fault):
    _, connector, ctl = seven
    poll(connector)
    bookmarks = ConnectorState.objects.get(pk=connector.pk).bookmarks
    made = ctl.act("create_incident")
    # An incident the hub has open ends at the vendor while the faults are on.
    ending = sorted(connector.open_incident_ids() & truth_open(ctl))[0]
    ctl.act("end_incident", id=ending)
    ctl.fault(**fault)
    summary = poll(connector)
    state = ConnectorState.objects.get(pk=connector.pk)
    if summary["status"] != "ok":
        assert state.bookmarks == bookmarks  # a failed poll advances nothing
        assert state.consecutive_failures == 1 and state.last_error
        assert made["id"] not in connector.open_incident_ids()
        assert ending in connector.open_incident_ids()  # no end without the vendor saying so
        assert ends(connector, ending) == 0
    else:
        assert ending not in connector.open_incident_ids() and ends(connector, ending) == 1
        assert made["id"] in connector.open_incident_ids()
    ctl.clear_faults()
    assert poll(connector)["status"] == "ok"
    assert connector.open_incident_ids() == truth_open(ctl)
    assert ending not in connector.open_incident_ids() and ends(connector, ending) == 1
    assert poll(connector)["status"] == "ok"  # re-reading the overlap ends nothing twice
    assert ends(connector, ending) == 1
    assert_each_end_once(connector)
    assert_no_duplicates(connector)


@pytest.mark.parametrize("ahead_hours", [2, 24 * 40], ids=["2h", "40d"])
def test_a_bookmark_ahead_of_the_vendor_clock_recovers(seven, poll, ahead_hours):
    """The vendor's clock is behind our bookmark (a new vendor instance, as after a second
    `make demo`, or a clock set back): the window start is clamped to the vendor's now
    instead of asking, for ever, for a window the vendor refuses with a 400."""
    _, connector, ctl = seven
    assert poll(connector)["status"] == "ok"
    made = ctl.act("create_incident")
    ending = sorted(connector.open_incident_ids() & truth_open(ctl))[0]
    ctl.act("end_incident", id=ending)
    state = ConnectorState.objects.get(pk=connector.pk)
    vendor_then = state.bookmarks["incidents"]
    state.bookmarks = {**state.bookmarks, "incidents": vendor_then + ahead_hours * 3_600_000}
    state.save(update_fields=["bookmarks"])
    summary = poll(connector)
    assert summary["status"] == "ok", summary
    assert made["id"] in connector.open_incident_ids()
    assert ending not in connector.open_incident_ids() and ends(connector, ending) == 1
    assert connector.open_incident_ids() == truth_open(ctl)
    bookmark = ConnectorState.objects.get(pk=connector.pk).bookmarks["incidents"]
    vendor_now = datetime.fromisoformat(ctl.http.get("/_emulator/clock").json()["now"])
    assert vendor_then <= bookmark <= vendor_now.timestamp() * 1000  # the vendor's now again
    # From here on, ordinary windows: no more 400s.
    ctl.http.delete("/_emulator/counters")
    assert poll(connector)["status"] == "ok"
    statuses = ctl.counters()["endpoints"]["GET /incidents/agents"]["statuses"]
    assert statuses == {"200": 1}
    assert_each_end_once(connector)
    assert_no_duplicates(connector)


def token_requests(ctl) -> int:
    return ctl.counters()["endpoints"].get("POST /oauth2/token", {}).get("total", 0)


def refused(ctl) -> int:
    return sum(e["statuses"].get("401", 0) for e in ctl.counters()["endpoints"].values())


def test_the_token_is_reused_across_polls_and_renewed_before_it_expires(seven, poll):
    _, connector, ctl = seven
    for _ in range(3):
        assert poll(connector)["status"] == "ok"
    assert token_requests(ctl) == 1  # one login, reused by every poll
    # Nearly a day later on the vendor's clock, the 24-hour token still works: still no login.
    ctl.advance(86_400 - 120)
    assert poll(connector)["status"] == "ok"
    assert token_requests(ctl) == 1 and refused(ctl) == 0
    # Within five minutes of the expiry the hub computed from `expires_in`, the token is
    # renewed before it is used — not after the vendor refuses it.
    state = ConnectorState.objects.get(pk=connector.pk)
    state.auth_cache = {**state.auth_cache, "expires_at": time.time() + 120}
    state.save(update_fields=["auth_cache_encrypted"])
    assert poll(connector)["status"] == "ok"
    assert token_requests(ctl) == 2 and refused(ctl) == 0
    cache = ConnectorState.objects.get(pk=connector.pk).auth_cache
    assert cache["expires_at"] > time.time() + 86_000  # the new token's day, from expires_in
    # A token the vendor has let expire (its clock ran a day further than ours) is refused
    # once, then replaced: one 401, one login, and the poll succeeds.
    ctl.advance(86_401)
    assert poll(connector)["status"] == "ok"
    assert token_requests(ctl) == 3 and refused(ctl) == 1
    assert poll(connector)["status"] == "ok"
    assert token_requests(ctl) == 3


def test_a_spent_rate_limit_budget_is_waited_out_without_a_429(
    emulator, make_connector, control, poll
):
    """7SIGNAL sends X-RateLimit-* on every answer. When one says Remaining: 0, the next
    request waits until the bucket has refilled (requested tokens / replenish rate) instead of
    earning a 429 — even though the connector's own pacing is far faster than the vendor's."""
    server = emulator("7signal", seed=4, devices=60)
    ctl = control(server)
    ctl.ratelimit(enabled=True, burst=2, replenish_rate=4)
    connector = make_connector(server, rate_limit=[100, 1.0], agents_per_page=5)
    summary = poll(connector)
    assert summary["status"] == "ok", summary
    counters = ctl.counters()
    api_requests = counters["total"] - token_requests(ctl)
    assert api_requests >= 10  # 1 incidents window + the agent list in pages of 5
    assert counters["rate_limited"] == 0 and summary["rate_limited"] == 0, counters
    # paced by the vendor's headers: it waited (how long depends on how slow the answers were,
    # which a loaded machine changes; no timing is asserted), and no request was refused
    assert summary["waited_seconds"] > 0, summary
    # At the connector's own pace the vendor would have refused: three requests in a row
    # against a fresh bucket of two get a 429.
    # refills every bucket; slow to refill, so that no refill comes between the three requests
    # on a loaded machine (at 4/s one did)
    ctl.ratelimit(burst=2, replenish_rate=0.01)
    token = ConnectorState.objects.get(pk=connector.pk).auth_cache["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    statuses = [ctl.http.get("/eyes", headers=auth).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_wrong_secret_opens_a_health_incident(emulator, make_connector, control, poll):
    server = emulator("7signal", seed=4, devices=20)
    connector = make_connector(server)
    creds = connector.credentials
    connector.credentials = {**creds, "client_secret": "wrong"}
    connector.save()
    summary = poll(connector)
    assert summary["status"] == "failed" and "refused" in summary["error"]
    health = Incident.objects.open().get(source=connector.source)
    assert health.description.startswith(f"Connector {connector.name} failing:")
    assert "wrong" not in health.description  # never the secret
    connector.credentials = creds
    connector.save()
    assert poll(connector)["status"] == "ok"
    health.refresh_from_db()
    assert not health.open
    assert ConnectorState.objects.get(pk=connector.pk).consecutive_failures == 0
