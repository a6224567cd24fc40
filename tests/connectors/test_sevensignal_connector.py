"""The 7SIGNAL connector against the 7SIGNAL emulator, over real HTTP."""

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


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f['kind']}-{f.get('count', 0)}")
def test_faults_lose_and_duplicate_nothing(seven, poll, fault):
    _, connector, ctl = seven
    poll(connector)
    bookmarks = ConnectorState.objects.get(pk=connector.pk).bookmarks
    made = ctl.act("create_incident")
    ctl.fault(**fault)
    summary = poll(connector)
    state = ConnectorState.objects.get(pk=connector.pk)
    if summary["status"] != "ok":
        assert state.bookmarks == bookmarks  # a failed poll advances nothing
        assert state.consecutive_failures == 1 and state.last_error
        assert made["id"] not in connector.open_incident_ids()
    ctl.clear_faults()
    assert poll(connector)["status"] == "ok"
    assert connector.open_incident_ids() == truth_open(ctl)
    assert_no_duplicates(connector)


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
