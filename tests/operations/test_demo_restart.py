"""A second `fleetwatch demo` run on the same data: the emulated vendors start over with a new
timeline, so the demo connectors start over too (``connectors.services.reset_connector``).

The demo's own steps run in-process here, against emulators served by this test; the end-to-end
run of the command is ``test_demo.py``.
"""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fleetwatch.connectors.engine import run_poll
from fleetwatch.connectors.models import Connector, ConnectorState, RateLimitSlot
from fleetwatch.emulators.clock import SimClock
from fleetwatch.incidents.models import Incident
from fleetwatch.operations.management.commands.demo import RESTART_NOTE
from fleetwatch.operations.management.commands.demo import Command as Demo

EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VENDORS = ("7signal", "metaaccess")


def control(server, method: str, path: str, **body) -> dict:
    answer = httpx.request(method, f"{server.url}/_emulator/{path}", json=body or None, timeout=10)
    return answer.raise_for_status().json()


def truth_open(vendor: str, server) -> set[str]:
    truth = control(server, "GET", "truth")
    if vendor == "7signal":
        return {i["id"] for i in truth["open_incidents"]}
    return {f"device:{d['device_id']}" for d in truth["non_compliant_devices"]}


def start_emulators(emulator, epoch: datetime) -> dict:
    servers = {}
    for vendor in VENDORS:
        server = emulator(vendor, seed=1, devices=60, clock=SimClock(epoch, speed=1e-9))
        if vendor == "metaaccess":  # the vendor's 10/min would make this test minutes long
            control(server, "PUT", "ratelimit", enabled=False)
        servers[vendor] = server
    return servers


def run_demo_setup(servers: dict) -> int:
    """What `fleetwatch demo` does with the emulators it started; returns incidents closed."""
    closed = 0
    for vendor, server in servers.items():
        info = {"url": server.url, "credentials": server.emulator.credentials()}
        closed += Demo().configure_connector(vendor, info, 15)
        connector = Connector.objects.get(name=f"demo-{vendor}")
        connector.options = {**connector.options, "rate_limit": [50, 1.0]}
        connector.save(update_fields=["options"])
    return closed


def test_a_second_run_starts_the_demo_connectors_over(db, emulator):
    first = start_emulators(emulator, EPOCH)
    assert run_demo_setup(first) == 0
    connectors = {v: Connector.objects.get(name=f"demo-{v}") for v in VENDORS}
    for vendor, server in first.items():
        control(server, "POST", "clock/advance", seconds=2 * 3600)  # the first run ran a while
        assert run_poll(connectors[vendor].pk).status == "ok"
    old_open = {v: c.open_incident_ids() for v, c in connectors.items()}
    assert all(old_open.values())
    assert old_open["7signal"] == truth_open("7signal", first["7signal"])
    for server in first.values():
        server.stop()

    # The second run: fresh emulators whose clocks start before where the first ones stopped.
    second = start_emulators(emulator, EPOCH + timedelta(minutes=10))
    closed = run_demo_setup(second)
    assert closed == sum(len(ids) for ids in old_open.values())
    for vendor, connector in connectors.items():
        state = ConnectorState.objects.get(pk=connector.pk)
        assert state.bookmarks == {} and state.auth_cache == {} and state.lease_owner == ""
        assert state.next_run_at is None  # polled at once
        assert not connector.open_incident_ids()
        for sid in old_open[vendor]:
            incident = Incident.objects.get(source=connector.source, source_incident_id=sid)
            end = incident.events.get(type="END")
            assert end.description == RESTART_NOTE and end.actor == connector.source.user
    assert not RateLimitSlot.objects.filter(key__contains=first["7signal"].url).exists()

    for vendor, connector in connectors.items():
        outcome = run_poll(connector.pk)
        assert outcome.status == "ok", outcome.summary
        # Only what the new run's vendor reports is open: nothing stale, nothing missed.
        assert connector.open_incident_ids() == truth_open(vendor, second[vendor])
    assert run_poll(connectors["metaaccess"].pk).summary["full_sync"] is False
    # The first run's 7SIGNAL incidents the new timeline does not know stay closed.
    stale = old_open["7signal"] - truth_open("7signal", second["7signal"])
    assert stale and not (stale & connectors["7signal"].open_incident_ids())


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_first_run_closes_nothing(db, emulator, vendor):
    server = emulator(vendor, seed=1, devices=20, clock=SimClock(EPOCH, speed=1e-9))
    info = {"url": server.url, "credentials": server.emulator.credentials()}
    assert Demo().configure_connector(vendor, info, 15) == 0
    connector = Connector.objects.get(name=f"demo-{vendor}")
    assert connector.base_url == server.url and connector.poll_interval == 15
