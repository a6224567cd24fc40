"""The database side of ``base.HubView``: what the hub knows about one connector's incidents
and devices, read on demand, in bounded queries, never written. The engine builds one per poll
and hands it to the vendor module, which itself imports no model."""

from collections.abc import Iterable

from fleetwatch.connectors.base import STORED_FIELDS, DeviceRecord, StoredIncident
from fleetwatch.connectors.models import HEALTH_ID, Connector, VendorDevice
from fleetwatch.incidents.models import Incident, IncidentQuerySet

CHUNK = 500  # bounded IN lists


class DatabaseHub:
    """``HubView`` over the database for one connector."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    def _incidents(self) -> IncidentQuerySet:
        return Incident.objects.filter(source=self.connector.source_id)

    @staticmethod
    def _stored(queryset: IncidentQuerySet) -> dict[str, StoredIncident]:
        rows = queryset.values_list("source_incident_id", *STORED_FIELDS)
        return {sid: StoredIncident(*fields) for sid, *fields in rows}

    def open_incidents(self, prefix: str = "") -> dict[str, StoredIncident]:
        return self._stored(
            self._incidents()
            .open()
            .filter(source_incident_id__startswith=prefix)
            .exclude(source_incident_id__startswith=HEALTH_ID)
        )

    def incidents(self, sids: Iterable[str]) -> dict[str, StoredIncident]:
        wanted = sorted(set(sids))
        found: dict[str, StoredIncident] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            found.update(self._stored(self._incidents().filter(source_incident_id__in=chunk)))
        return found

    def incident_ids(self, prefix: str) -> set[str]:
        return set(
            self._incidents()
            .filter(source_incident_id__startswith=prefix)
            .values_list("source_incident_id", flat=True)
        )

    def device_ids(self) -> set[str]:
        return set(
            VendorDevice.objects.filter(connector=self.connector, deleted=False).values_list(
                "vendor_id", flat=True
            )
        )

    def devices(self, vendor_ids: Iterable[str]) -> dict[str, DeviceRecord]:
        ids = sorted(set(vendor_ids))
        found: dict[str, DeviceRecord] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            for d in VendorDevice.objects.filter(connector=self.connector, vendor_id__in=chunk):
                found[d.vendor_id] = DeviceRecord(
                    vendor_id=d.vendor_id,
                    name=d.name,
                    mac=d.mac,
                    ip=d.ip,
                    os=d.os,
                    last_seen=d.last_seen,
                    data=d.data,
                    deleted=d.deleted,
                )
        return found
