"""The MetaAccess connector against the MetaAccess emulator, over real HTTP.

The emulator's clock barely moves on its own (speed 1e-9): the vendor's state changes only
through scenario actions and ``advance``, so the ground truth read after a poll is the state
that poll saw. Most tests run the emulator and the connector at a fast rate limit (500/s and
400/s: pacing costs no real time); the rate-limit tests use strict-but-short windows.
"""

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from fleetwatch.connectors.engine import build, run_poll
from fleetwatch.connectors.models import ConnectorState, VendorDevice
from fleetwatch.connectors.vendors.metaaccess import mapping
from fleetwatch.emulators.clock import SimClock
from fleetwatch.incidents.models import Event, Incident
from fleetwatch.inventory.models import IncidentDevice

FAULTS = [
    {"kind": "http_500", "count": 2},
    {"kind": "http_503", "count": 2},
    {"kind": "timeout", "count": 1, "delay": 1.5},
    {"kind": "malformed_json", "count": 1},
    {"kind": "truncated_json", "count": 2},
    {"kind": "rate_limit", "count": 2, "delay": 1},  # a 429 storm, Retry-After: 1 each
    {"kind": "drop_connection", "count": 2},
    {"kind": "expire_credentials"},
    {"kind": "http_503", "count": 40},  # more than the retries: the poll fails
    {"kind": "drop_connection", "count": 40, "path": "/o/api/v3/activities"},  # fails late
]


# --- helpers ----------------------------------------------------------------------------------


def truth_open(ctl) -> set[str]:
    return {f"device:{d['device_id']}" for d in ctl.truth()["non_compliant_devices"]}


def assert_no_duplicates(connector) -> None:
    sids = list(
        Incident.objects.filter(source=connector.source).values_list(
            "source_incident_id", flat=True
        )
    )
    assert len(sids) == len(set(sids))
    stateful = Incident.objects.filter(source=connector.source, end_time__isnull=False)
    starts = Event.objects.filter(incident__source=connector.source, type="STA")
    assert starts.count() == stateful.count()


def events(connector) -> int:
    return Event.objects.filter(incident__source=connector.source).count()


def bookmarks(connector) -> dict:
    return ConnectorState.objects.get(pk=connector.pk).bookmarks


def shift_bookmarks(connector, hours: float) -> None:
    """Make the hub's last poll ``hours`` older: the hub was down that long."""
    state = ConnectorState.objects.get(pk=connector.pk)
    for key in ("status_changed", "full_sync"):
        when = datetime.fromisoformat(state.bookmarks[key]) - timedelta(hours=hours)
        state.bookmarks[key] = when.isoformat()
    state.save(update_fields=["bookmarks"])


def compliant_ids(ctl, server, count: int) -> list[str]:
    """Live devices that are plainly compliant (neither non-compliant nor exempted)."""
    truth = ctl.truth()
    busy = {d["device_id"] for d in truth["non_compliant_devices"]} | set(truth["exempted_devices"])
    world = server.emulator.world
    return [d for d in world.order if world.is_live(d) and d not in busy][:count]


@pytest.fixture
def ma(emulator, make_connector, control):
    """A 300-endpoint fleet (≈270 MetaAccess devices, ≈30 non-compliant), fast limits."""
    server = emulator("metaaccess", seed=2, devices=300, clock=SimClock(speed=1e-9))
    ctl = control(server)
    ctl.ratelimit(limit=500, window=1)
    return server, make_connector(server, rate_limit=[400, 1], timeout=1.0), ctl


# --- mapping rules ----------------------------------------------------------------------------


def test_mapping_rules_on_the_vendor_examples():
    assert mapping.parse_activity_time("May 18, 2018 10:40:00 AM") == datetime(
        2018, 5, 18, 10, 40, tzinfo=UTC
    )
    assert mapping.parse_activity_time("Mar 1, 2026 12:05:07 AM") == datetime(
        2026, 3, 1, 0, 5, 7, tzinfo=UTC
    )
    assert mapping.parse_activity_time("Mar 1, 2026 12:05:07 PM").hour == 12
    assert mapping.parse_activity_time("2026-03-01T12:00:00Z") is None
    now = datetime(2026, 3, 1, tzinfo=UTC)
    device = {
        "device_id": "S6YE9I3DNJ4IFMP84LIGG8S8207R4E04",
        "device_name": "tle",
        "group_name": "default",
        "last_seen": "2017-10-16T03:11:09Z",
        "remediation_link": "https://gears.opswat.com/o/remediation.html",
        "os_info": {"family": "Windows", "name": "Microsoft Windows 7 Professional "},
        "severity": "critical",
        "status": "non-compliant",
        "issue": {"total_issue": 10, "total_critical_issue": 3, "total_warning_issue": 7},
        "network_info": [{"ipv4": "109.184.237.115", "mac": "02:21:9b:06:4b:96"}],
    }
    draft = mapping.device_incident(device, now)
    assert draft.source_incident_id == "device:S6YE9I3DNJ4IFMP84LIGG8S8207R4E04"
    assert draft.description == "tle non-compliant: 3 critical, 7 warning issues"
    assert draft.level == 2 and draft.start_time == datetime(2017, 10, 16, 3, 11, 9, tzinfo=UTC)
    assert ("os", "Windows") in draft.tags and ("status", "non-compliant") in draft.tags
    assert mapping.level_for({"severity": "warning"}) == 3
    assert mapping.level_for({"issue": {"total_warning_issues": 2}}) == 3  # table spelling
    assert mapping.level_for({"severity": "no_issues"}) == 4
    assert mapping.device_name({"device_name": "<private>", "nick_name": "tle-acct"}) == "tle-acct"
    record = mapping.device_record(device)
    assert (record.mac, record.ip, record.os) == (
        "02:21:9b:06:4b:96",
        "109.184.237.115",
        "Microsoft Windows 7 Professional",
    )
    activity = {
        "app_name": "Salesforce",
        "device_status": "Non-compliant",
        "device_name": "W8EVN20",
        "device_id": "SGH238TZW5",
        "access_rule": "NON COMPLIANT DEVICES",
        "app_user": "test_user@gmail.com",
        "device_group": "Group only firewall",
        "action": "blocked",
        "timestamp": "May 18, 2018 10:40:00 AM",
    }
    draft = mapping.activity_incident(activity, now)
    assert draft.end_time is None and draft.level == 4
    assert draft.description == (
        "Blocked Salesforce for test_user@gmail.com on W8EVN20 (rule NON COMPLIANT DEVICES)"
    )
    assert draft.source_incident_id == mapping.activity_key(dict(activity))
    assert mapping.activity_key({**activity, "app_name": "Slack"}) != draft.source_incident_id


# --- polls against the emulator ---------------------------------------------------------------


def test_first_poll_is_a_full_resync_equal_to_the_truth(ma, poll):
    _, connector, ctl = ma
    summary = poll(connector)
    assert summary["status"] == "ok", summary
    assert summary["full_sync"] is True and summary["pages"]["status_changed"] == 0
    truth = ctl.truth()
    assert summary["pages"]["devices"] == -(-truth["devices"] // 50)
    assert connector.open_incident_ids() == truth_open(ctl) != set()
    assert_no_duplicates(connector)
    # Only non-compliant devices became incidents: nothing was created already closed.
    assert not Incident.objects.closed().filter(source=connector.source).exists()
    assert (
        VendorDevice.objects.filter(connector=connector, deleted=False).count()
        == (truth["devices"])
    )
    one = truth["non_compliant_devices"][0]
    incident = Incident.objects.get(source_incident_id=f"device:{one['device_id']}")
    assert incident.level == {"critical": 2, "warning": 3}[one["severity"]]
    assert incident.description.startswith(f"{one['device_name']} non-compliant: ")
    pairs = {(r.tag.key, r.tag.value) for r in incident.tag_relations.select_related("tag")}
    tags = dict(pairs)
    # ``device`` holds two values: the vendor's name, and the hub's device id (inventory).
    hub_device = IncidentDevice.objects.get(incident=incident).device_id
    assert {("device", one["device_name"]), ("device", str(hub_device))} <= pairs
    assert tags["device_id"] == one["device_id"]
    assert {"group", "os", "status"} <= tags.keys() and tags["status"] == "non-compliant"
    assert incident.metadata["severity"] == one["severity"]
    marks = bookmarks(connector)
    assert set(marks) == {
        "status_changed",
        "activities",
        "full_sync",
        "vendor_clock",
        "vendor_clock_from",
    }
    assert marks["vendor_clock_from"] == "data"  # the newest last_seen of the list
    assert marks["full_sync"] == marks["status_changed"]
    # The blocked activities of the last hour arrived as stateless incidents.
    stateless = Incident.objects.filter(source=connector.source, end_time__isnull=True)
    assert stateless.exists() and all(
        i.source_incident_id.startswith("activity:") for i in stateless
    )


def test_scripted_changes_reach_the_hub_and_a_quiet_poll_changes_nothing(ma, poll):
    server, connector, ctl = ma
    poll(connector)
    non_compliant = [d["device_id"] for d in ctl.truth()["non_compliant_devices"]]
    to_compliant, to_exempted, to_delete = non_compliant[:3]
    (newly_bad, quiet) = compliant_ids(ctl, server, 2)
    ctl.act("set_compliance", device_id=to_compliant, status="compliant")
    ctl.act("set_compliance", device_id=to_exempted, status="exempted")
    ctl.act("delete_device", device_id=to_delete)
    ctl.act("set_compliance", device_id=newly_bad, status="non-compliant", severity="warning")
    ctl.act("set_compliance", device_id=quiet, status="compliant")  # nothing open to end
    blocked = ctl.act("block_access", device_id=newly_bad, app_name="Slack")

    summary = poll(connector)
    assert summary["status"] == "ok" and summary["full_sync"] is False, summary
    assert summary["pages"]["devices"] == 0 and summary["ended"] == 3
    assert connector.open_incident_ids() == truth_open(ctl)
    for device_id in (to_compliant, to_exempted, to_delete):
        ended = Incident.objects.get(source_incident_id=f"device:{device_id}")
        assert not ended.open
        assert ended.events.filter(type="END").count() == 1
        assert ended.events.filter(type="CHI").count() == 0  # the end changed nothing else
    assert not Incident.objects.filter(source_incident_id=f"device:{quiet}").exists()
    new = Incident.objects.get(source_incident_id=f"device:{newly_bad}")
    assert new.level == 3 and new.details_url.endswith(newly_bad)
    gone = VendorDevice.objects.get(connector=connector, vendor_id=to_delete)
    assert gone.deleted and gone.name and gone.os  # what the hub knew is kept
    activity = Incident.objects.get(source_incident_id=mapping.activity_key(blocked))
    assert activity.end_time is None
    assert activity.description.startswith(f"Blocked Slack for {blocked['app_user']} on ")
    assert activity.start_time == mapping.parse_activity_time(blocked["timestamp"])
    assert_no_duplicates(connector)

    before = events(connector)
    summary = poll(connector)
    assert summary["incidents"]["created"] == summary["incidents"]["updated"] == 0, summary
    assert events(connector) == before
    assert connector.open_incident_ids() == truth_open(ctl)


def test_a_person_s_ticket_url_survives_re_reports_and_the_end(ma, poll):
    _, connector, ctl = ma
    poll(connector)
    device_id = ctl.truth()["non_compliant_devices"][0]["device_id"]
    incident = Incident.objects.get(source_incident_id=f"device:{device_id}")
    Incident.objects.filter(pk=incident.pk).update(ticket_url="https://tickets.example/42")
    ctl.act("set_compliance", device_id=device_id, status="non-compliant", severity="warning")
    poll(connector)  # re-reported, now a warning
    incident.refresh_from_db()
    assert incident.level == 3 and incident.ticket_url == "https://tickets.example/42"
    ctl.act("set_compliance", device_id=device_id, status="compliant")
    poll(connector)
    incident.refresh_from_db()
    assert not incident.open and incident.ticket_url == "https://tickets.example/42"
    assert incident.end_time >= incident.start_time


def test_a_stale_bookmark_means_a_full_resync_that_misses_nothing(ma, poll):
    _, connector, ctl = ma
    poll(connector)
    non_compliant = [d["device_id"] for d in ctl.truth()["non_compliant_devices"]]
    ctl.act("delete_device", device_id=non_compliant[0])
    ctl.act("set_compliance", device_id=non_compliant[1], status="compliant")
    ctl.advance(25 * 3600)  # a day of scenario: falls, recoveries, deletions; tokens expire
    # ... while the hub was down: the hub's own bookmarks are a day old too.
    shift_bookmarks(connector, 25)
    summary = poll(connector)
    assert summary["status"] == "ok", summary
    assert summary["full_sync"] is True and summary["pages"]["status_changed"] == 0
    assert connector.open_incident_ids() == truth_open(ctl)
    assert_no_duplicates(connector)
    for device_id in non_compliant[:2]:
        ended = Incident.objects.get(source_incident_id=f"device:{device_id}")
        assert ended.events.filter(type="END").count() == 1
    gone = VendorDevice.objects.get(connector=connector, vendor_id=non_compliant[0])
    assert gone.deleted  # absent from the complete list
    assert summary["pages"]["activities"] > 1  # 26 h of blocked activities, paged
    marks = bookmarks(connector)
    assert marks["full_sync"] == marks["status_changed"]
    # Back to deltas from here.
    assert poll(connector)["full_sync"] is False
    assert connector.open_incident_ids() == truth_open(ctl)


@pytest.mark.parametrize("fresh_change", [True, False], ids=["busy-now", "quiet-now"])
def test_a_gap_on_the_vendor_s_clock_is_caught_up_completely(ma, poll, fresh_change):
    """The chaos run: at the demo's 10× speed, two killed-worker leases (~100 s of the hub's
    time) were ~1,000 s on the vendor's, and a window measured on the hub's clock dropped new
    non-compliant devices and left recovered ones open for good. Here the vendor's clock jumps
    1,000 s while the hub's hardly moves: the window is measured on the vendor's clock (the
    newest ``last_seen`` it reports), widened, and nothing is lost — whether or not something
    changed just before the poll (quiet: one page of recent changes tells the vendor's time)."""
    server, connector, ctl = ma
    poll(connector)
    non_compliant = [d["device_id"] for d in ctl.truth()["non_compliant_devices"]]
    recovered = non_compliant[:8]
    fallen = compliant_ids(ctl, server, 4)
    for device_id in recovered:
        ctl.act("set_compliance", device_id=device_id, status="compliant")
    for device_id in fallen[:3]:
        ctl.act("set_compliance", device_id=device_id, status="non-compliant", severity="critical")
    ctl.advance(1000)
    if fresh_change:
        ctl.act("set_compliance", device_id=fallen[3], status="non-compliant", severity="warning")
    summary = poll(connector)
    assert summary["status"] == "ok" and summary["widened"] and not summary["full_sync"], summary
    assert summary["pages"]["clock"] == (0 if fresh_change else 1)
    open_ids = connector.open_incident_ids()
    assert open_ids == truth_open(ctl)
    assert {f"device:{d}" for d in fallen[:3]} <= open_ids
    assert not {f"device:{d}" for d in recovered} & open_ids
    assert_no_duplicates(connector)
    # Caught up: the next poll, with no gap, reads a normal window again.
    summary = poll(connector)
    assert summary["status"] == "ok" and not summary["widened"], summary
    assert connector.open_incident_ids() == truth_open(ctl)


def test_blocked_activities_of_a_gap_on_the_vendor_s_clock_are_read(ma, poll):
    """The activities window (whole hours) is measured on the vendor's clock too: three of its
    hours have passed, a few seconds of ours, and an activity from the start of the gap still
    arrives."""
    server, connector, ctl = ma
    poll(connector)
    device_id = compliant_ids(ctl, server, 1)[0]
    early = ctl.act("block_access", device_id=device_id, app_name="Dropbox")
    ctl.advance(3 * 3600)
    ctl.act("set_compliance", device_id=device_id, status="non-compliant", severity="warning")
    summary = poll(connector)
    assert summary["status"] == "ok" and summary["widened"], summary
    assert Incident.objects.filter(source_incident_id=mapping.activity_key(early)).exists()
    assert connector.open_incident_ids() == truth_open(ctl)
    assert_no_duplicates(connector)


def test_a_gap_longer_than_status_changed_reaches_is_a_full_resync(ma, poll):
    """More than a day on the vendor's clock, minutes on ours: the delta cannot reach back, so
    the full list now, instead of waiting for the hub's 24 h."""
    _, connector, ctl = ma
    poll(connector)
    gone = ctl.truth()["non_compliant_devices"][0]["device_id"]
    ctl.act("delete_device", device_id=gone)
    ctl.advance(25 * 3600)
    summary = poll(connector)
    assert summary["status"] == "ok" and summary["full_sync"] and summary["widened"], summary
    assert connector.open_incident_ids() == truth_open(ctl)
    assert VendorDevice.objects.get(connector=connector, vendor_id=gone).deleted
    assert_no_duplicates(connector)
    assert poll(connector)["full_sync"] is False


def test_status_changed_pages_and_a_413_ends_the_stream(ma, poll, control):
    server, connector, ctl = ma
    poll(connector)
    for device_id in compliant_ids(ctl, server, 24):
        ctl.act("set_compliance", device_id=device_id, status="non-compliant")
    connector.options = {**connector.options, "page_size": 10}
    connector.save()
    summary = poll(connector)
    assert summary["pages"]["status_changed"] >= 3
    assert connector.open_incident_ids() == truth_open(ctl)
    # Exactly full pages: the page after the last one is a 413, which is the end, not an error.
    seen = summary["devices_seen"]
    connector.options = {**connector.options, "page_size": seen}
    connector.save()
    ctl.http.delete("/_emulator/counters")
    summary = poll(connector)
    assert summary["status"] == "ok" and summary["devices_seen"] == seen, summary
    assert summary["pages"]["status_changed"] == 1
    statuses = ctl.counters()["endpoints"]["POST /o/api/v3/devices/status_changed"]["statuses"]
    assert statuses == {"200": 1, "413": 1}


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('count', 0)}")
def test_faults_lose_and_duplicate_nothing(ma, poll, fault):
    server, connector, ctl = ma
    poll(connector)
    before = bookmarks(connector)
    open_before = connector.open_incident_ids()
    ended_before = Event.objects.filter(incident__source=connector.source, type="END").count()
    fixed = ctl.truth()["non_compliant_devices"][0]["device_id"]
    ctl.act("set_compliance", device_id=fixed, status="compliant")
    (broken,) = compliant_ids(ctl, server, 1)
    ctl.act("set_compliance", device_id=broken, status="non-compliant")
    tokens_before = ctl.counters()["endpoints"].get("POST /o/oauth/token", {}).get("total", 0)
    ctl.fault(**fault)
    summary = poll(connector)
    if summary["status"] == "ok":
        assert connector.open_incident_ids() == truth_open(ctl)
        if fault["kind"] != "expire_credentials":  # the fault was met and retried through
            assert summary["retries"] + summary["rate_limited"] >= 1, summary
        if fault["kind"] == "rate_limit":  # waited out as the vendor asked, in the limiter
            # two waits of the asked second each (not one, not none)
            assert summary["rate_limited"] == 2 and summary["waited_seconds"] >= 1.5, summary
    else:
        assert fault.get("count") == 40, summary  # only the long faults may win
        state = ConnectorState.objects.get(pk=connector.pk)
        assert state.bookmarks == before and state.last_error
        assert connector.open_incident_ids() == open_before
        ends = Event.objects.filter(incident__source=connector.source, type="END").count()
        assert ends == ended_before
    if fault["kind"] == "expire_credentials":
        assert summary["status"] == "ok"
        tokens = ctl.counters()["endpoints"]["POST /o/oauth/token"]
        # refresh grant refused (the refresh token was revoked too), then a full login
        assert tokens["total"] - tokens_before == 2
    ctl.clear_faults()
    assert poll(connector)["status"] == "ok"
    assert connector.open_incident_ids() == truth_open(ctl)
    assert f"device:{broken}" in connector.open_incident_ids()
    assert_no_duplicates(connector)


def test_refresh_token_renews_an_expired_access_token(ma, poll):
    _, connector, ctl = ma
    poll(connector)
    ctl.advance(3700)  # access tokens live 3600 simulated seconds; refresh tokens survive
    ctl.http.delete("/_emulator/counters")
    assert poll(connector)["status"] == "ok"
    endpoints = ctl.counters()["endpoints"]
    assert endpoints["POST /o/oauth/token"]["total"] == 1  # one refresh grant, no login
    assert sum(e["statuses"].get("401", 0) for e in endpoints.values()) == 1


def test_blocked_activities_are_deduplicated_across_overlapping_polls(ma, poll):
    _, connector, ctl = ma
    poll(connector)
    device_id = ctl.truth()["non_compliant_devices"][0]["device_id"]
    made = [ctl.act("block_access", device_id=device_id, app_name=app) for app in ("Zoom", "Box")]
    again = ctl.act("block_access", device_id=device_id, app_name="Zoom")  # same second
    assert again == made[0]  # identical in every field: the same activity
    summary = poll(connector)
    assert summary["incidents"]["created"] == 2, summary
    count = Incident.objects.filter(source=connector.source, end_time__isnull=True).count()
    for _ in range(2):  # each window (≥ 1 h) re-reads them
        summary = poll(connector)
        assert summary["activities_seen"] > 0 and summary["incidents"]["created"] == 0
    assert Incident.objects.filter(source=connector.source, end_time__isnull=True).count() == (
        count
    )
    assert_no_duplicates(connector)


def test_check_reads_the_account(ma):
    _, connector, ctl = ma
    vendor = build(connector, {})
    try:
        seen = vendor.check()
    finally:
        vendor.http.close()
    assert seen["devices_used"] == ctl.truth()["devices"] and seen["account"]


# --- rate limits ------------------------------------------------------------------------------

# The connector paces at window/limit plus a margin; 10 % absorbs scheduling jitter on a busy
# test machine, which a 2 s window would otherwise turn into a 429 (in production, 10/min,
# the default 2 % is already 1.2 s of slack).
STRICT = {"limit": 10, "window": 2}


def strict(emulator, make_connector, control, name: str = "metaaccess-test"):
    server = emulator("metaaccess", seed=2, devices=300, clock=SimClock(speed=1e-9))
    ctl = control(server)
    ctl.ratelimit(**STRICT)
    options = {"rate_limit": [STRICT["limit"], STRICT["window"]], "rate_limit_margin": 0.1}
    return server, make_connector(server, name, **options), ctl


def test_a_multi_page_poll_stays_under_the_vendor_limit(emulator, make_connector, control, poll):
    _, connector, ctl = strict(emulator, make_connector, control)
    started = time.monotonic()
    summary = poll(connector)
    elapsed = time.monotonic() - started
    assert summary["status"] == "ok", summary
    assert summary["pages"]["devices"] >= 6
    assert ctl.counters()["rate_limited"] == 0
    # paced, not bursted: n requests need (n - 1) intervals
    interval = STRICT["window"] / STRICT["limit"]
    assert elapsed >= (summary["requests"] - 1) * interval * 0.95


@pytest.mark.django_db(transaction=True)
def test_two_pollers_of_one_credential_share_the_limit(emulator, make_connector, control):
    server, first, ctl = strict(emulator, make_connector, control, "ma-one")
    second = make_connector(
        server,
        "ma-two",
        rate_limit=[STRICT["limit"], STRICT["window"]],
        rate_limit_margin=0.1,
    )
    outcomes: dict[str, dict] = {}

    def run(connector) -> None:
        try:
            outcomes[connector.name] = run_poll(connector.pk).as_dict()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(o["status"] == "ok" for o in outcomes.values()), outcomes
    assert sum(o["requests"] for o in outcomes.values()) >= 14
    assert ctl.counters()["rate_limited"] == 0
    for connector in (first, second):
        assert connector.open_incident_ids() == truth_open(ctl)


# --- answers of the wrong shape -----------------------------------------------------------------

DEVICES = "/o/api/v3.6/devices"
STATUS_CHANGED = "/o/api/v3/devices/status_changed"


@pytest.fixture
def ma_proxied(emulator, make_connector, control, vendor_proxy):
    """As ``ma``, but the connector talks to the emulator through a VendorProxy, which can
    answer 200 with valid JSON of the wrong shape (no emulator fault does that)."""
    server = emulator("metaaccess", seed=2, devices=300, clock=SimClock(speed=1e-9))
    ctl = control(server)
    ctl.ratelimit(limit=500, window=1)
    proxy = vendor_proxy(server)
    connector = make_connector(server, url=proxy.url, rate_limit=[400, 1], timeout=1.0)
    return proxy, connector, ctl


def answer(path: str, body: object):
    """A rewrite that answers every request to ``path`` with 200 and ``body``."""
    content = json.dumps(body).encode()
    return lambda method, at, status, raw: (200, content) if at == path else None


def ends(connector) -> int:
    return Event.objects.filter(incident__source=connector.source, type="END").count()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"error": {"code": 500, "message": "Internal error"}},
        {"devices": None, "next_token": None},
        {"devices": {"device_id": "X"}, "next_token": None},
        {"devices": []},  # a list, but not whether more follow: not a complete list
    ],
    ids=["empty", "error", "null", "object", "no-next-token"],
)
def test_a_full_resync_page_without_its_device_list_ends_nothing(ma_proxied, poll, body):
    proxy, connector, ctl = ma_proxied
    assert poll(connector)["status"] == "ok"
    open_before = connector.open_incident_ids()
    assert open_before
    shift_bookmarks(connector, 25)  # the hub was down a day: the next poll is a full resync
    marks = bookmarks(connector)
    ended = ends(connector)
    proxy.rewrite = answer(DEVICES, body)
    summary = poll(connector)
    assert proxy.rewritten >= 1
    assert summary["status"] == "failed", summary
    assert "devices list" in summary["error"] or "next_token" in summary["error"], summary
    # Read as "the account has no devices", this would have ended every open incident and
    # marked every device deleted.
    assert connector.open_incident_ids() == open_before
    assert ends(connector) == ended
    assert not VendorDevice.objects.filter(connector=connector, deleted=True).exists()
    assert bookmarks(connector) == marks
    proxy.rewrite = None
    summary = poll(connector)
    assert summary["status"] == "ok" and summary["full_sync"] is True, summary
    assert connector.open_incident_ids() == truth_open(ctl)
    assert_no_duplicates(connector)


@pytest.mark.parametrize("body", [{}, {"error": "Service unavailable"}], ids=["empty", "error"])
def test_a_delta_without_its_lists_is_not_a_quiet_delta(ma_proxied, poll, body):
    proxy, connector, ctl = ma_proxied
    assert poll(connector)["status"] == "ok"
    fixed = ctl.truth()["non_compliant_devices"][0]["device_id"]
    ctl.act("set_compliance", device_id=fixed, status="compliant")
    marks = bookmarks(connector)
    proxy.rewrite = answer(STATUS_CHANGED, body)
    summary = poll(connector)
    assert summary["status"] == "failed" and "status_changed" in summary["error"], summary
    # Taken as "nothing changed", the bookmark would have moved past the change.
    assert bookmarks(connector) == marks
    proxy.rewrite = None
    assert poll(connector)["status"] == "ok"
    assert f"device:{fixed}" not in connector.open_incident_ids()
    assert connector.open_incident_ids() == truth_open(ctl)


def test_a_bookmark_in_our_future_means_a_full_resync(ma, poll):
    """The hub's clock was set back: how long ago the last poll was is unknown."""
    _, connector, ctl = ma
    poll(connector)
    fixed = ctl.truth()["non_compliant_devices"][0]["device_id"]
    ctl.act("delete_device", device_id=fixed)
    shift_bookmarks(connector, -2)  # the last poll "happened" two hours from now
    summary = poll(connector)
    assert summary["status"] == "ok" and summary["full_sync"] is True, summary
    assert connector.open_incident_ids() == truth_open(ctl)
    assert poll(connector)["full_sync"] is False  # and back to deltas


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_never_reach_logs_or_output(ma, poll, caplog, capsys, client_for, superuser):
    """The MetaAccess token travels in the query string, where httpx logs it. With every logger
    at DEBUG (httpx and httpcore included) through a login, polls and a refresh grant, no
    secret or token shows in the logs — nor in anything the API or the CLI prints."""
    _, connector, ctl = ma
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    assert poll(connector)["status"] == "ok"
    first_token = ConnectorState.objects.get(pk=connector.pk).auth_cache["access_token"]
    ctl.advance(3700)  # the access token expires: a 401, then the refresh grant
    assert poll(connector)["status"] == "ok"
    cache = ConnectorState.objects.get(pk=connector.pk).auth_cache
    secrets = {
        connector.credentials["client_secret"],
        first_token,
        cache["access_token"],
        cache["refresh_token"],
    }
    assert len(secrets) == 4
    # The emulator is the vendor: its own server (uvicorn) runs in this process only because
    # the test serves it from a thread, and its access log is the vendor's, not the hub's.
    logged = "\n".join(
        caplog.handler.format(r) for r in caplog.records if not r.name.startswith("uvicorn")
    )
    assert "HTTP Request: POST" in logged and "access_token=[redacted]" in logged
    api = client_for(superuser)
    outputs = [
        api.get("/api/v2/connectors/").content.decode(),
        api.get(f"/api/v2/connectors/{connector.pk}/").content.decode(),
        api.post(f"/api/v2/connectors/{connector.pk}/test/").content.decode(),
        api.post(f"/api/v2/connectors/{connector.pk}/sync/").content.decode(),
    ]
    for args in (["list"], ["show", connector.name], ["test", connector.name]):
        call_command("connector", *args)
    call_command("connector", "sync", connector.name)
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err]
    assert connector.name in captured.out and '"status": "ok"' in captured.out
    for text in [logged, *outputs]:
        for secret in secrets:
            assert secret not in text
