import pytest

from fleetwatch.connectors.base import DeviceRecord
from fleetwatch.connectors.engine import store_devices
from fleetwatch.connectors.models import Connector, ConnectorState
from fleetwatch.incidents.sources import create_source


@pytest.fixture
def connectors(db):
    """One connector per vendor, made directly (no emulator, no credential checks)."""
    made = {}
    for vendor in ("7signal", "metaaccess", "sensaphone"):
        source = create_source(f"inv-{vendor}", vendor, username=f"inv-{vendor}", create_type=True)
        made[vendor] = Connector.objects.create(
            name=f"inv-{vendor}", vendor=vendor, base_url="https://example.org", source=source
        )
        ConnectorState.objects.create(connector=made[vendor])
    return made


@pytest.fixture
def store(connectors):
    """store(vendor, DeviceRecord(...), ...): what a poll does with its device records."""

    def run(vendor: str, *records: DeviceRecord) -> dict:
        return store_devices(connectors[vendor], list(records))

    return run
