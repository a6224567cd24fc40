"""The Sensaphone.net connector against the Sensaphone emulator, over real HTTP.

The emulator's clock is frozen at a fixed epoch (it moves only with ``control.advance``), so
each seed replays the same 48 hours of history and the same open alarms.
"""

from collections import Counter
from datetime import UTC, datetime

import pytest

from fleetwatch.codecs.sensaphone import from_sensaphone, to_sensaphone
from fleetwatch.connectors.engine import HEALTH_ID, build
from fleetwatch.connectors.http import ClientError, SessionExpired, VendorError
from fleetwatch.connectors.models import ConnectorState, VendorDevice
from fleetwatch.connectors.vendors.sensaphone import mapping
from fleetwatch.connectors.vendors.sensaphone.client import SensaphoneAPI, check_envelope
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.sensaphone.history import event_item
from fleetwatch.incidents.models import INFINITY, Event, Incident

EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SEED = 7  # at EPOCH: two open alarms (one acknowledged), one device offline
# The emulator has no rate limit of its own by default: pacing costs no real time here.
FAST = {"rate_limit": [500, 1.0], "timeout": 1.0}


def frozen() -> SimClock:
    return SimClock(EPOCH, speed=1e-9)


@pytest.fixture
def sensa(emulator, make_connector, control):
    server = emulator("sensaphone", seed=SEED, devices=300, clock=frozen())
    return server, make_connector(server, **FAST), control(server)


def hub_incidents(connector):
    return Incident.objects.filter(source=connector.source).exclude(
        source_incident_id__startswith=HEALTH_ID
    )


def hub_state(connector) -> dict[str, set]:
    """What the hub has open, keyed like the ground truth."""
    state: dict[str, set] = {"zone": set(), "offline": set(), "power": set(), "battery": set()}
    for sid in hub_incidents(connector).open().values_list("source_incident_id", flat=True):
        (kind, *ids), _ = mapping.parse_sid(sid)
        state[kind].add(tuple(ids) if kind == "zone" else ids[0])
    return state


def truth_state(ctl) -> dict[str, set]:
    truth = ctl.truth()
    return {
        "zone": {(a["device_id"], a["zone_id"]) for a in truth["open_alarms"]},
        "offline": {d["device_id"] for d in truth["offline_devices"]},
        "power": {p["device_id"] for p in truth["power_failures"]},
        "battery": {p["device_id"] for p in truth["power_failures"] if p["battery_low"]},
    }


def zone_sid(connector, device_id: int, zone_id: int) -> str:
    return (
        hub_incidents(connector)
        .open()
        .get(source_incident_id__startswith=f"zone:{device_id}:{zone_id}:")
        .source_incident_id
    )


def acks_of(incident) -> list[Event]:
    return list(
        Event.objects.filter(
            incident=incident, type=Event.Type.ACKNOWLEDGE, actor=incident.source.user
        )
    )


def assert_no_duplicates(connector) -> None:
    sids = list(hub_incidents(connector).values_list("source_incident_id", flat=True))
    assert len(sids) == len(set(sids))
    starts = Event.objects.filter(incident__source=connector.source, type__in=["STA", "LES"])
    assert starts.exclude(incident__source_incident_id__startswith=HEALTH_ID).count() == len(sids)
    ends = Counter(
        Event.objects.filter(incident__source=connector.source, type="END").values_list(
            "incident_id", flat=True
        )
    )
    assert not [pk for pk, n in ends.items() if n > 1]
    acks = Counter(
        Event.objects.filter(
            incident__source=connector.source, type="ACK", actor=connector.source.user
        ).values_list("incident_id", "timestamp")
    )
    assert not [key for key, n in acks.items() if n > 1]


def event_count(connector) -> int:
    return Event.objects.filter(incident__source=connector.source).count()


def a_zone(server, kind: str = "temperature", index: int = 0) -> tuple[int, int]:
    """The ``index``-th zone of that kind that is not in alarm, on a device that is online
    and powered."""
    timeline = server.emulator.timeline
    quiet = [
        (d.device_id, z.zone_id)
        for d in timeline.devices
        if d.device_id not in timeline.offline and d.device_id not in timeline.power_failures
        for z in d.zones
        if z.kind == kind and (d.device_id, z.zone_id) not in timeline.alarms
    ]
    return quiet[index]


# --- first poll --------------------------------------------------------------------------------
def test_first_poll_matches_ground_truth(emulator, make_connector, control, poll):
    server = emulator("sensaphone", seed=SEED, devices=300, clock=frozen())
    ctl = control(server)
    device_id, _ = a_zone(server)
    ctl.act("power_fail", device_id=device_id)
    connector = make_connector(server, page_size=20, **FAST)  # several pages
    summary = poll(connector)
    assert summary["status"] == "ok", summary
    truth = truth_state(ctl)
    assert truth["zone"] and truth["offline"] and truth["power"]
    assert hub_state(connector) == truth
    assert summary["event_log"]["pages"] > 3 and summary["event_log"]["truncated"] is False
    assert summary["event_log"]["reconciled"] == 0  # 72 h of log explain everything open
    requests = ctl.counters()["endpoints"]["POST /api/{version:sensaphone_version}/login"]
    assert requests["total"] == 1  # one login, reused by every read
    # Acknowledged in the vendor = acknowledged in the hub.
    for alarm in ctl.truth()["open_alarms"]:
        incident = Incident.objects.get(
            source=connector.source,
            source_incident_id=f"zone:{alarm['device_id']}:{alarm['zone_id']}:"
            f"{alarm['since_epoch']}",
        )
        assert incident.acked == alarm["acknowledged"]
        assert len(acks_of(incident)) == int(alarm["acknowledged"])
        assert incident.start_time == datetime.fromisoformat(alarm["since"])
        readings = incident.metadata["readings"]
        assert 1 <= len(readings) <= 4 and readings[-1]["alarm"] is True
        assert {"value", "units", "at", "alarm"} <= set(readings[0])
        tags = {r.tag.key: r.tag.value for r in incident.tag_relations.select_related("tag")}
        assert tags["device_id"] == str(alarm["device_id"])
        assert tags["zone_id"] == str(alarm["zone_id"]) and tags["zone"] == alarm["zone_name"]
        assert {"device", "zone_type", "site", "problem_type"} <= set(tags)
    # Past episodes from the replayed history are in the hub too, ended.
    assert hub_incidents(connector).closed().filter(source_incident_id__startswith="zone:")
    assert VendorDevice.objects.filter(connector=connector).count() == ctl.truth()["devices"]
    device = VendorDevice.objects.get(connector=connector, vendor_id=str(device_id))
    assert device.os and device.data["zones"] and device.last_seen is not None
    state = ConnectorState.objects.get(pk=connector.pk)
    mark = state.bookmarks["event_log"]
    assert mark["epoch"] > 0 and mark["ids"]
    assert_no_duplicates(connector)


# --- scripted scenario -------------------------------------------------------------------------
def test_alarm_ack_clear_power_and_offline_follow_the_vendor(sensa, poll, client_for):
    server, connector, ctl = sensa
    assert poll(connector)["status"] == "ok"
    device_id, zone_id = a_zone(server)
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id, value=91.2)
    assert poll(connector)["status"] == "ok"
    sid = zone_sid(connector, device_id, zone_id)
    incident = Incident.objects.get(source=connector.source, source_incident_id=sid)
    device = server.emulator.timeline.by_id[device_id]
    assert incident.description == (
        f"{device.site} Temperature high: 91.2 °F on {device.name} ({device.product})"
    )
    assert incident.level == 2 and incident.open and not incident.acked

    ctl.act("ack_alarm", device_id=device_id, zone_id=zone_id, user="bob@fleetwatch.local")
    for _ in range(3):  # the same vendor acknowledgement, read again and again: one ACK
        assert poll(connector)["status"] == "ok"
    api = client_for(connector.source.user)
    shown = api.get(f"/api/v2/incidents/{incident.pk}/").json()
    assert shown["acked"] is True and shown["open"] is True
    assert len(acks_of(incident)) == 1
    assert "Bob Night Shift" in acks_of(incident)[0].description

    ctl.act("clear_alarm", device_id=device_id, zone_id=zone_id)
    assert poll(connector)["status"] == "ok"
    incident.refresh_from_db()
    assert not incident.open
    assert Event.objects.filter(incident=incident, type="END").count() == 1

    # The zone alarms again: a new episode, the old one stays ended.
    ctl.advance(120)
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
    assert poll(connector)["status"] == "ok"
    assert zone_sid(connector, device_id, zone_id) != sid
    incident.refresh_from_db()
    assert not incident.open

    ctl.act("power_fail", device_id=device_id)
    ctl.act("go_offline", device_id=device_id)
    assert poll(connector)["status"] == "ok"
    assert device_id in hub_state(connector)["power"] & hub_state(connector)["offline"]
    power = (
        hub_incidents(connector).open().get(source_incident_id__startswith=f"power:{device_id}:")
    )
    assert power.description == f"Power failure on {device.name} ({device.product})"
    ctl.act("go_online", device_id=device_id)
    ctl.act("power_restore", device_id=device_id)
    assert poll(connector)["status"] == "ok"
    power.refresh_from_db()
    assert not power.open
    assert hub_state(connector) == truth_state(ctl)

    before = (event_count(connector), hub_incidents(connector).count())
    summary = poll(connector)  # nothing new: nothing changes
    assert (event_count(connector), hub_incidents(connector).count()) == before
    assert summary["incidents"]["created"] == summary["incidents"]["updated"] == 0
    assert summary["acks"] == 0 and summary["event_log"]["new"] == 0
    # The overlap re-read is not counted again as ignored events.
    assert set(summary["event_log"]) == {
        "read",
        "new",
        "pages",
        "truncated",
        "behind",
        "stalled",
        "probes",
        "malformed",
        "reconciled",
        "readings",
    }
    assert_no_duplicates(connector)


def test_battery_low_during_a_long_power_failure(sensa, poll):
    server, connector, ctl = sensa
    poll(connector)
    device_id, _ = a_zone(server)
    ctl.act("power_fail", device_id=device_id)
    ctl.advance(3 * 3600)  # the battery drains below its 11 V limit
    assert poll(connector)["status"] == "ok"
    assert device_id in hub_state(connector)["battery"]
    ctl.act("power_restore", device_id=device_id)
    assert poll(connector)["status"] == "ok"
    assert device_id not in hub_state(connector)["battery"] | hub_state(connector)["power"]
    assert hub_state(connector) == truth_state(ctl)
    assert_no_duplicates(connector)


def test_start_time_is_the_vendor_alarm_time_decoded_in_the_device_zone(sensa, poll):
    server, connector, ctl = sensa
    poll(connector)
    ctl.advance(37 * 60 + 13)
    device_id, zone_id = a_zone(server, "humidity")
    made = ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
    poll(connector)
    raw = next(
        event_item(e) for e in server.emulator.timeline.events if e.event_id == made["event_ids"][0]
    )
    tz = server.emulator.timeline.by_id[device_id].timezone
    incident = Incident.objects.get(
        source=connector.source, source_incident_id=zone_sid(connector, device_id, zone_id)
    )
    assert incident.start_time == from_sensaphone(raw["timestamp"], tz)
    assert to_sensaphone(incident.start_time, tz) == raw["timestamp"]
    assert incident.level == 3  # humidity


# --- sessions ----------------------------------------------------------------------------------
def login_count(ctl) -> int:
    endpoints = ctl.counters()["endpoints"]
    return endpoints["POST /api/{version:sensaphone_version}/login"]["statuses"].get("200", 0)


def test_an_expired_session_means_one_new_login(sensa, poll):
    _, connector, ctl = sensa
    assert poll(connector)["status"] == "ok"
    first = dict(ConnectorState.objects.get(pk=connector.pk).auth_cache)
    ctl.advance(86_400 + 60)  # the vendor's session is gone; our local expiry says it is not
    assert poll(connector)["status"] == "ok"
    again = ConnectorState.objects.get(pk=connector.pk).auth_cache
    assert again["session"] != first["session"] and login_count(ctl) == 2
    assert hub_state(connector) == truth_state(ctl)

    ctl.fault("expire_credentials")
    assert poll(connector)["status"] == "ok"
    assert login_count(ctl) == 3
    assert poll(connector)["status"] == "ok"
    assert login_count(ctl) == 3  # the new session is reused
    assert_no_duplicates(connector)


def test_wrong_password_opens_a_health_incident(sensa, poll):
    _, connector, _ = sensa
    creds = connector.credentials
    connector.credentials = {**creds, "password": "wrong-one"}
    connector.save()
    summary = poll(connector)
    assert summary["status"] == "failed" and "login refused" in summary["error"]
    health = Incident.objects.open().get(source=connector.source)
    assert "wrong-one" not in health.description
    connector.credentials = creds
    connector.save()
    assert poll(connector)["status"] == "ok"
    health.refresh_from_db()
    assert not health.open


def test_check_reads_the_session_under_any_api_version(sensa):
    server, connector, _ = sensa
    for base_url in (server.url, f"{server.url}/api/v3/"):
        connector.base_url = base_url
        vendor = build(connector, {})
        try:
            seen = vendor.check()
        finally:
            vendor.http.close()
        assert seen["acctid"] == server.emulator.acctid and seen["session_expires_in"] > 0


def test_the_envelope_decides_not_the_status():
    check_envelope({"result": {"success": True, "code": 0, "message": "Success"}})
    with pytest.raises(SessionExpired):
        check_envelope({"result": {"success": False, "code": 2, "message": "expired"}})
    with pytest.raises(ClientError, match=r"code 1\): filter 'changes' has an unknown value"):
        check_envelope(
            {
                "result": {
                    "success": False,
                    "code": 1,
                    "message": "filter 'changes' has an unknown value 'modify'",
                },
                "response": {},
            }
        )
    with pytest.raises(VendorError, match="envelope"):
        check_envelope({"device": []})


# --- faults ------------------------------------------------------------------------------------
FAULTS = [
    {"kind": "http_500", "count": 2},
    {"kind": "http_503", "count": 2},
    {"kind": "malformed_json", "count": 1},
    {"kind": "truncated_json", "count": 2},
    {"kind": "drop_connection", "count": 2},
    {"kind": "timeout", "count": 1, "delay": 1.5},
    {"kind": "expire_credentials"},
    {"kind": "http_500", "count": 50},  # more than the retries: the poll fails
    {"kind": "truncated_json", "count": 3, "path": "/api/v1/history/data_log"},
    # a 429 storm (Retry-After: 1 each, where the default 5 s would only cost real time)
    {"kind": "rate_limit", "count": 2, "path": "/api/v1/history/event_log", "delay": 1},
]


@pytest.mark.parametrize(
    "fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('count', 0)}{f.get('path', '')}"
)
def test_faults_lose_and_duplicate_nothing(sensa, poll, fault):
    server, connector, ctl = sensa
    assert poll(connector)["status"] == "ok"
    bookmarks = ConnectorState.objects.get(pk=connector.pk).bookmarks
    device_id, zone_id = a_zone(server)
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
    ctl.act("ack_alarm", device_id=device_id, zone_id=zone_id)
    ctl.fault(**fault)
    summary = poll(connector)
    state = ConnectorState.objects.get(pk=connector.pk)
    if summary["status"] != "ok":
        assert state.bookmarks == bookmarks  # a failed poll stores nothing
        assert (device_id, zone_id) not in hub_state(connector)["zone"]
    if fault["kind"] == "expire_credentials":
        assert login_count(ctl) == 2
    else:
        met = summary.get("retries", 0) + summary.get("rate_limited", 0)
        assert summary["status"] == "failed" or met >= 1  # the fault was met
    ctl.clear_faults()
    assert poll(connector)["status"] == "ok"
    assert hub_state(connector) == truth_state(ctl)
    incident = Incident.objects.get(
        source=connector.source, source_incident_id=zone_sid(connector, device_id, zone_id)
    )
    assert incident.acked and len(acks_of(incident)) == 1
    assert_no_duplicates(connector)


# --- re-reads ----------------------------------------------------------------------------------
def test_reading_everything_again_duplicates_nothing(sensa, poll):
    server, connector, ctl = sensa
    poll(connector)
    (d1, z1), (d2, z2) = a_zone(server), a_zone(server, "water")
    ctl.act("raise_alarm", device_id=d1, zone_id=z1)
    ctl.act("ack_alarm", device_id=d1, zone_id=z1)
    ctl.act("clear_alarm", device_id=d1, zone_id=z1)
    ctl.advance(60)
    ctl.act("raise_alarm", device_id=d1, zone_id=z1)  # a second episode, open
    ctl.act("raise_alarm", device_id=d2, zone_id=z2)
    ctl.act("power_fail", device_id=d2)
    ctl.advance(600)
    poll(connector)
    ctl.act("clear_alarm", device_id=d2, zone_id=z2)
    ctl.act("ack_alarm", device_id=d2, zone_id=z2)  # acknowledged after it ended
    poll(connector)
    before = (
        event_count(connector),
        hub_incidents(connector).count(),
        sorted(hub_incidents(connector).open().values_list("source_incident_id", flat=True)),
    )
    for bookmarks in ({}, {"event_log": {"epoch": 0, "ids": []}}):
        ConnectorState.objects.filter(pk=connector.pk).update(bookmarks=bookmarks)
        summary = poll(connector)
        assert summary["status"] == "ok" and summary["event_log"]["new"] > 0
        assert summary["incidents"]["created"] == summary["incidents"]["updated"] == 0
        assert summary["acks"] == 0
        after = (
            event_count(connector),
            hub_incidents(connector).count(),
            sorted(hub_incidents(connector).open().values_list("source_incident_id", flat=True)),
        )
        assert after == before
    assert hub_state(connector) == truth_state(ctl)
    ended = Incident.objects.get(
        source=connector.source,
        source_incident_id__startswith=f"zone:{d2}:{z2}:",
    )
    assert not ended.open and ended.acked  # the late ack found the ended episode
    assert_no_duplicates(connector)


def test_a_short_first_window_is_reconciled_from_the_device_states(
    emulator, make_connector, control, poll
):
    server = emulator("sensaphone", seed=SEED, devices=300, clock=frozen())
    ctl = control(server)
    device_id, zone_id = a_zone(server, "water")
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
    ctl.act("ack_alarm", device_id=device_id, zone_id=zone_id)
    ctl.act("power_fail", device_id=device_id)
    ctl.advance(30 * 60)  # everything above began before the 15-minute first window
    connector = make_connector(server, initial_hours=0.25, **FAST)
    summary = poll(connector)
    assert summary["status"] == "ok"
    assert summary["event_log"]["reconciled"] >= 3  # alarm, its ack, power (and battery)
    assert hub_state(connector) == truth_state(ctl)
    for alarm in ctl.truth()["open_alarms"]:
        sid = f"zone:{alarm['device_id']}:{alarm['zone_id']}:{alarm['since_epoch']}"
        incident = hub_incidents(connector).open().get(source_incident_id=sid)
        assert incident.acked == alarm["acknowledged"]
    assert poll(connector)["event_log"]["reconciled"] == 0  # the bookmark is set now
    assert_no_duplicates(connector)


def test_a_first_window_cut_by_max_pages_is_reconciled(emulator, make_connector, control, poll):
    server = emulator("sensaphone", seed=SEED, devices=300, clock=frozen())
    ctl = control(server)
    connector = make_connector(server, page_size=5, max_pages=2, api_version="v2", **FAST)
    summary = poll(connector)
    assert summary["event_log"]["truncated"] is True and summary["event_log"]["pages"] == 2
    assert hub_state(connector) == truth_state(ctl)


class GrowingLog:
    """A newest-first event log that gains ``arrivals`` (one batch per page read) while it is
    being paged, as a live account does."""

    def __init__(self, epochs: list[int], arrivals: list[list[int]] = ()) -> None:
        self.items = [{"event_id": n + 1, "epoch": e} for n, e in enumerate(epochs)][::-1]
        self.arrivals = [list(batch) for batch in arrivals]
        self.next_id = len(epochs) + 1

    def log_page(self, log: str, filters: dict, begin: int, size: int) -> list[dict]:
        page = self.items[begin : begin + size]
        if self.arrivals:
            new = [
                {"event_id": self.next_id + i, "epoch": e}
                for i, e in enumerate(self.arrivals.pop(0))
            ]
            self.next_id += len(new)
            self.items[:0] = new[::-1]
        return page


def read_with(vendor, log: GrowingLog, mark: dict | None):
    vendor.api = log
    return vendor.read_log(
        "event_log", "event_id", mark, lambda item: datetime.fromtimestamp(item["epoch"], UTC)
    )


def test_paging_misses_nothing_at_equal_seconds_or_when_pages_shift(sensa):
    _, connector, _ = sensa
    vendor = build(connector, {})
    vendor.options = {**vendor.options, "overlap_seconds": 0, "page_size": 3}
    try:
        # Three events in the bookmark's second, one of them seen: the other two are new.
        log = GrowingLog([80, 90, 100, 100, 100])
        read = read_with(vendor, log, {"epoch": 100, "ids": [3]})
        assert read.new == 2 and read.pages == 2
        assert read.bookmark == {"epoch": 100, "ids": [3, 4, 5]}
        assert [item["event_id"] for _, item in read.items] == [3, 4, 5]
        # Events arrive while we page: later pages repeat records (deduplicated), none is
        # skipped, and the newcomers are the next poll's new events.
        log = GrowingLog(list(range(10, 101, 10)), arrivals=[[110, 120], [130]])
        read = read_with(vendor, log, None)
        assert sorted(item["event_id"] for _, item in read.items) == list(range(1, 11))
        assert read.bookmark == {"epoch": 100, "ids": [10]}
        read = read_with(vendor, log, read.bookmark)
        assert read.new == 3 and read.bookmark == {"epoch": 130, "ids": [13]}
    finally:
        vendor.http.close()


def test_behind_reads_go_on_from_the_bookmark_and_skip_nothing_while_the_log_grows(sensa):
    """Far more since the bookmark than one read may hold: each read is the oldest chunk after
    the bookmark, contiguous with it, however records arrive meanwhile; reads go on until
    they reach the newest record, and together they have every record exactly once as new."""
    _, connector, _ = sensa
    vendor = build(connector, {})
    vendor.options = {**vendor.options, "overlap_seconds": 0, "page_size": 4, "max_pages": 2}
    try:
        epochs = [10 * n for n in range(1, 61)]  # 60 records, one every 10 s
        arrivals = [[700 + 10 * n] * (n % 4 == 0) for n in range(300)]  # one every 4 requests
        log = GrowingLog(epochs, arrivals)
        mark = {"epoch": 100, "ids": [10]}  # records 1–10 were read by an earlier poll
        seen: Counter = Counter()
        reads = []
        for _ in range(60):
            read = read_with(vendor, log, mark)
            reads.append(read)
            ids = {item["event_id"] for _, item in read.items}
            everything = {item["event_id"]: item["epoch"] for item in log.items}
            top = read.bookmark["epoch"]
            # Contiguous with the bookmark: every record between it and the new one.
            assert {i for i, e in everything.items() if mark["epoch"] < e < top} <= ids
            assert read.new <= 2 * 2 * 4  # bounded: max_pages pages, a page, arrivals
            assert top >= mark["epoch"]
            seen.update(i for i in ids if i not in read.old_ids)
            mark = read.bookmark
            if not read.behind:
                break
        assert reads[0].behind and reads[0].probes > 0 and len(reads) > 5
        assert not reads[-1].behind and not any(r.stalled for r in reads)
        # Every record up to the last bookmark (what arrived after that is the next poll's).
        assert set(seen) == {i for i, e in everything.items() if 100 < e <= mark["epoch"]}
        assert all(n == 1 for n in seen.values())  # each record new exactly once
    finally:
        vendor.http.close()


def test_a_read_that_cannot_reach_the_bookmark_stores_nothing(sensa):
    _, connector, _ = sensa
    vendor = build(connector, {})
    vendor.options = {**vendor.options, "overlap_seconds": 0, "page_size": 2, "max_pages": 1}
    try:
        # A page's worth of records arrives before every page: paging never gets there.
        log = GrowingLog(list(range(10, 201, 10)), arrivals=[[300, 300, 300]] * 50)
        mark = {"epoch": 50, "ids": [5]}
        read = read_with(vendor, log, mark)
        assert read.stalled and read.items == [] and read.new == 0
        assert read.bookmark == mark
    finally:
        vendor.http.close()


# --- a gap past the page cap, over HTTP ----------------------------------------------------------
def quiet_zones(server) -> list[tuple[int, int]]:
    timeline = server.emulator.timeline
    return [
        (d.device_id, z.zone_id)
        for d in timeline.devices
        if d.device_id not in timeline.offline and d.device_id not in timeline.power_failures
        for z in d.zones
        if z.kind in ("temperature", "water", "humidity")
    ]


def churn(server, ctl, zones: list[tuple[int, int]], cycles: int) -> None:
    """A busy account: ``cycles`` alarms raised and cleared (3 events each), 20 s apart."""
    alarms = server.emulator.timeline.alarms
    for n in range(cycles):
        device_id, zone_id = next(q for q in zones[n % len(zones) :] + zones if q not in alarms)
        ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
        ctl.advance(20)
        if (device_id, zone_id) in alarms:
            ctl.act("clear_alarm", device_id=device_id, zone_id=zone_id)
        ctl.advance(20)


def set_options(connector, **options) -> None:
    connector.options = {**connector.options, **options}
    connector.save()


def catch_up(connector, poll, limit: int = 60) -> list[dict]:
    """Poll until a poll is no longer behind; every poll succeeds, bookmarks only advance."""
    summaries, last = [], 0
    for _ in range(limit):
        summary = poll(connector)
        assert summary["status"] == "ok", summary
        summaries.append(summary)
        epoch = ConnectorState.objects.get(pk=connector.pk).bookmarks["event_log"]["epoch"]
        assert epoch >= last
        last = epoch
        if not summary["event_log"]["behind"]:
            return summaries
    raise AssertionError(f"still behind after {limit} polls")


def vendor_episodes(server) -> set[tuple[str, int | None]]:
    """Every zone alarm and power failure the vendor logged: (sid, end epoch or None)."""
    timeline = server.emulator.timeline
    out = {
        (f"zone:{d}:{z}:{span.start}", span.end)
        for (d, z), spans in timeline.alarm_spans.items()
        for span in spans
    }
    out |= {
        (f"power:{d}:{span.start}", span.end)
        for d, spans in timeline.power_spans.items()
        for span in spans
    }
    return out


def hub_episodes(connector) -> set[tuple[str, int | None]]:
    rows = (
        hub_incidents(connector)
        .filter(source_incident_id__regex=r"^(zone|power):")
        .values_list("source_incident_id", "end_time")
    )
    return {(sid, None if end == INFINITY else int(end.timestamp())) for sid, end in rows}


def test_an_end_past_the_page_cap_ends_its_incident_at_the_vendor_time(sensa, poll):
    server, connector, ctl = sensa
    assert poll(connector)["status"] == "ok"
    device_id, zone_id = a_zone(server)
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
    assert poll(connector)["status"] == "ok"
    sid = zone_sid(connector, device_id, zone_id)
    # The hub is away while the account logs many times what one poll may read (2 × 5).
    set_options(connector, page_size=5, max_pages=2)
    others = [q for q in quiet_zones(server) if q != (device_id, zone_id)]
    churn(server, ctl, others, 6)
    ctl.act("ack_alarm", device_id=device_id, zone_id=zone_id)
    ctl.advance(30)
    cleared = ctl.act("clear_alarm", device_id=device_id, zone_id=zone_id)
    churn(server, ctl, others, 6)
    power = others[-1][0]
    ctl.act("power_fail", device_id=power)  # a whole episode inside the gap
    ctl.advance(60)
    ctl.act("power_restore", device_id=power)
    churn(server, ctl, others, 4)
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)  # open at the end
    summaries = catch_up(connector, poll)
    notes = [s["event_log"] for s in summaries]
    assert notes[0]["behind"] and notes[0]["probes"] > 0 and len(notes) >= 4
    assert all(n["new"] <= 2 * 5 + 5 and not n["stalled"] for n in notes)  # bounded
    incident = Incident.objects.get(source=connector.source, source_incident_id=sid)
    assert not incident.open and incident.acked
    assert incident.end_time == datetime.fromisoformat(cleared["at"])  # not "superseded"
    assert Event.objects.filter(incident=incident, type="END").count() == 1
    assert not any(n.get("superseded") for n in notes)
    assert hub_state(connector) == truth_state(ctl)
    assert hub_episodes(connector) == vendor_episodes(server)  # nothing lost
    assert_no_duplicates(connector)
    quiet = poll(connector)  # caught up: a poll with nothing new changes nothing
    assert quiet["event_log"]["new"] == 0 and not quiet["event_log"]["behind"]
    assert quiet["incidents"]["created"] == quiet["incidents"]["updated"] == quiet["acks"] == 0


def test_a_429_storm_and_arrivals_mid_catch_up_lose_and_duplicate_nothing(sensa, poll, monkeypatch):
    server, connector, ctl = sensa
    assert poll(connector)["status"] == "ok"
    device_id, zone_id = a_zone(server)
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
    assert poll(connector)["status"] == "ok"
    sid = zone_sid(connector, device_id, zone_id)
    set_options(connector, page_size=5, max_pages=2)
    others = [q for q in quiet_zones(server) if q != (device_id, zone_id)]
    churn(server, ctl, others, 5)
    ctl.advance(30)
    cleared = ctl.act("clear_alarm", device_id=device_id, zone_id=zone_id)
    churn(server, ctl, others, 5)

    # While the connector pages: events arrive (offsets shift), then a 429 storm hits an
    # event_log page, and in a later poll 5xx outlast the retries (that poll fails).
    log_page = SensaphoneAPI.log_page
    calls = Counter()

    def meddling(api, log, filters, begin, size):
        calls["pages"] += 1
        n = calls["pages"]
        if n in (3, 9, 14):
            ctl.advance(7)
            churn(server, ctl, others[n % 2 :], 1)
        if n == 4:
            ctl.fault("rate_limit", count=2, path="/api/v1/history/event_log", delay=1)
        if n == 12:
            ctl.fault("http_500", count=5, path="/api/v1/history/event_log")
        return log_page(api, log, filters, begin, size)

    monkeypatch.setattr(SensaphoneAPI, "log_page", meddling)
    results = []
    for _ in range(60):
        mark = ConnectorState.objects.get(pk=connector.pk).bookmarks
        summary = poll(connector)
        results.append(summary)
        if summary["status"] != "ok":
            assert ConnectorState.objects.get(pk=connector.pk).bookmarks == mark
        elif not summary["event_log"]["behind"] and calls["pages"] > 14:
            break
    assert any(r.get("rate_limited", 0) >= 2 and r["status"] == "ok" for r in results)
    assert any(r["status"] == "failed" for r in results)
    assert results[-1]["status"] == "ok" and not results[-1]["event_log"]["behind"]
    incident = Incident.objects.get(source=connector.source, source_incident_id=sid)
    assert incident.end_time == datetime.fromisoformat(cleared["at"])
    assert hub_state(connector) == truth_state(ctl)
    assert hub_episodes(connector) == vendor_episodes(server)
    assert_no_duplicates(connector)


def test_setting_the_bookmark_back_past_the_cap_changes_nothing(sensa, poll):
    """Caught up again from the log's start, chunk by chunk: an episode whose end lies in a
    later chunk is not reopened meanwhile, and nothing is created, changed or acknowledged."""
    server, connector, ctl = sensa
    assert poll(connector)["status"] == "ok"
    others = quiet_zones(server)
    churn(server, ctl, others, 8)
    device_id, zone_id = next(q for q in others if q not in server.emulator.timeline.alarms)
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
    ctl.act("ack_alarm", device_id=device_id, zone_id=zone_id)
    assert poll(connector)["status"] == "ok"
    before = (
        event_count(connector),
        sorted(hub_incidents(connector).values_list("source_incident_id", "end_time")),
    )
    set_options(connector, page_size=10, max_pages=2)
    ConnectorState.objects.filter(pk=connector.pk).update(
        bookmarks={"event_log": {"epoch": 0, "ids": []}}
    )
    summaries = catch_up(connector, poll)
    assert len(summaries) >= 4
    for summary in summaries:
        assert summary["incidents"]["created"] == summary["incidents"]["updated"] == 0
        assert summary["acks"] == 0
        after = (
            event_count(connector),
            sorted(hub_incidents(connector).values_list("source_incident_id", "end_time")),
        )
        assert after == before
    assert sum(s["event_log"].get("ended_past_horizon", 0) for s in summaries) > 0
    assert hub_state(connector) == truth_state(ctl)
    assert_no_duplicates(connector)


def test_a_reset_bookmark_ends_an_open_incident_whose_end_is_older_than_the_window(sensa, poll):
    server, connector, ctl = sensa
    assert poll(connector)["status"] == "ok"
    device_id, zone_id = a_zone(server)
    ctl.act("raise_alarm", device_id=device_id, zone_id=zone_id)
    assert poll(connector)["status"] == "ok"
    sid = zone_sid(connector, device_id, zone_id)
    ctl.advance(60)
    cleared = ctl.act("clear_alarm", device_id=device_id, zone_id=zone_id)
    ctl.advance(3600)
    other = next(q for q in quiet_zones(server) if q != (device_id, zone_id))
    churn(server, ctl, [other], 1)  # the newest events: the first window is the last 15 min
    set_options(connector, initial_hours=0.25)
    ConnectorState.objects.filter(pk=connector.pk).update(bookmarks={})
    summary = poll(connector)
    assert summary["status"] == "ok" and summary["event_log"]["reconciled"] >= 1
    incident = Incident.objects.get(source=connector.source, source_incident_id=sid)
    assert not incident.open
    assert incident.end_time == datetime.fromisoformat(cleared["at"])
    assert hub_state(connector) == truth_state(ctl)
    assert_no_duplicates(connector)


# --- options -----------------------------------------------------------------------------------
def test_audit_log_is_off_by_default_and_stateless_when_on(emulator, make_connector, poll):
    server = emulator("sensaphone", seed=SEED, devices=300, clock=frozen())
    plain = make_connector(server, name="plain", **FAST)
    poll(plain)
    assert not hub_incidents(plain).filter(source_incident_id__startswith="audit:").exists()
    audited = make_connector(server, name="audited", audit_log=True, **FAST)
    summary = poll(audited)
    audits = hub_incidents(audited).filter(source_incident_id__startswith="audit:")
    assert audits.count() == summary["audit_log"]["read"] > 0
    assert {i.level for i in audits} == {5} and all(i.end_time is None for i in audits)
    ConnectorState.objects.filter(pk=audited.pk).update(bookmarks={})
    poll(audited)
    assert hub_incidents(audited).filter(source_incident_id__startswith="audit:").count() == (
        audits.count()
    )
    assert_no_duplicates(audited)


# --- mapping rules without HTTP ----------------------------------------------------------------
def event(event_id: int, kind: str, epoch: int, zone_id: int | None = 5001, **extra):
    return mapping.VendorEvent(
        event_id=event_id,
        type=kind,
        at=datetime.fromtimestamp(epoch, UTC),
        device_id=45000,
        zone_id=zone_id,
        text=extra.get("text", ""),
        value=extra.get("value", ""),
        device_name="Server Room",
        zone_name="Server Room Temperature",
    )


def test_tracker_ignores_unknown_types_and_never_ends_what_is_not_open():
    tracker = mapping.Tracker(["zone:45000:5001:100", "fleetwatch:connector-health:x"])
    for e in (
        event(1, "return_to_normal", 50),  # before the hub's open episode began: not its end
        event(2, "sms_sent", 60),
        event(3, "notification", 70),
        event(4, "return_to_normal", 150),
        event(5, "return_to_normal", 160),  # nothing open any more
        event(6, "alarm", 200, zone_id=None),
    ):
        tracker.apply(e, {})
    episode = tracker.episodes["zone:45000:5001:100"]
    assert episode.end == datetime.fromtimestamp(150, UTC)
    assert tracker.counts == Counter(
        {
            "ends_without_episode": 2,
            "unknown_type:sms_sent": 1,
            "informational": 1,
            "zone_events_without_zone": 1,
        }
    )


def test_a_new_alarm_supersedes_an_episode_whose_end_was_not_logged():
    tracker = mapping.Tracker([])
    tracker.apply(event(1, "alarm", 100, value="91.0 °F"), {})
    tracker.apply(event(2, "alarm", 300, value="95.0 °F"), {})
    first, second = tracker.episodes.values()
    assert first.end == datetime.fromtimestamp(300, UTC) and first.superseded
    assert second.end is None


def test_record_time_uses_the_codec_and_the_epoch_picks_the_fold():
    tz = "America/New_York"
    ts = to_sensaphone(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), tz)  # 01:30 EDT, then EST
    later = int(datetime(2026, 11, 1, 6, 30, tzinfo=UTC).timestamp())  # 01:30 EST
    assert mapping.record_time({"timestamp": ts}, tz) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert mapping.record_time({"timestamp": ts, "epoch": later}, tz).timestamp() == later
    assert mapping.record_time({"timestamp": ts, "epoch": later}, None).timestamp() == later
    assert mapping.record_time({}, tz) is None


def test_is_alarm_is_a_string_not_a_truth_value():
    assert mapping.as_bool("false") is False and mapping.as_bool("true") is True
    assert mapping.as_bool("maybe") is None
