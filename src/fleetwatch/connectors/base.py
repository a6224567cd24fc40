"""The one connector contract: what a vendor module declares, what it is given, and what one
poll hands back to the engine.

A vendor module gets, from ``engine.build``: its *resolved* options (checked, every default
filled in from its ``option_specs``), the shared HTTP layer (``self.http``, any httpx
transport), its credentials and auth cache; and for each poll a read-only :class:`HubView`
of what the hub already knows (open incidents, known devices). It reads the vendor and
returns a :class:`PollResult`; it never touches the database, and imports no Django model
(``tests/connectors/test_contract.py`` checks the imports). Everything a vendor module needs
from the hub's side — ``IncidentDraft``, ``INFINITY``, ``is_infinite`` — is re-exported here.
"""

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Protocol

from fleetwatch import vendors
from fleetwatch.connectors.auth import Authenticator
from fleetwatch.connectors.http import VendorHTTP
from fleetwatch.incidents.ingest import IncidentDraft
from fleetwatch.incidents.models import INFINITY, is_infinite

__all__ = [
    "INFINITY",
    "AckRecord",
    "DeviceRecord",
    "HubView",
    "IncidentDraft",
    "MemoryHub",
    "PollResult",
    "StoredIncident",
    "VendorConnector",
    "is_infinite",
]


@dataclass(slots=True)
class AckRecord:
    """The vendor says a person acknowledged this incident (e.g. a Sensaphone alarm)."""

    source_incident_id: str
    timestamp: datetime
    description: str = ""


@dataclass(slots=True)
class DeviceRecord:
    vendor_id: str
    name: str = ""
    mac: str = ""
    ip: str = ""
    os: str = ""
    last_seen: datetime | None = None
    data: dict = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class StoredIncident:
    """What the hub holds for one of this connector's incidents. A draft that only ends (or
    re-reads) an incident re-sends these, so the end is one END event, not also a change."""

    start_time: datetime
    description: str
    level: int
    details_url: str
    ticket_url: str
    metadata: dict
    end_time: datetime | None


STORED_FIELDS = (
    "start_time",
    "description",
    "level",
    "details_url",
    "ticket_url",
    "metadata",
    "end_time",
)


@dataclass
class PollResult:
    """Everything one poll learned; the engine stores it all, bookmarks included, in one
    transaction — or nothing, if the poll failed."""

    incidents: list[IncidentDraft] = field(default_factory=list)
    acks: list[AckRecord] = field(default_factory=list)
    devices: list[DeviceRecord] = field(default_factory=list)
    bookmarks: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # counts for the poll summary


class HubView(Protocol):
    """What the hub knows about this connector's incidents and devices, read-only.

    Built by the engine for each poll (``connectors/hub.py`` reads the database, lazily and
    in bounded queries); :class:`MemoryHub` is the same view over plain dicts, for unit
    tests. Lets a vendor module end only incidents the hub has open, keep stored fields on
    an end, and mark as deleted only devices the hub knows — without an ORM query of its own.
    """

    def open_incidents(self, prefix: str = "") -> Mapping[str, StoredIncident]:
        """This connector's open incidents (its health incident excluded), by
        ``source_incident_id``, those starting with ``prefix``."""
        ...

    def incidents(self, sids: Iterable[str]) -> Mapping[str, StoredIncident]:
        """Those of ``sids`` the hub has, open or closed."""
        ...

    def incident_ids(self, prefix: str) -> set[str]:
        """Every ``source_incident_id`` starting with ``prefix``, open or closed."""
        ...

    def device_ids(self) -> set[str]:
        """Vendor ids of the devices the hub knows as live (not marked deleted)."""
        ...

    def devices(self, vendor_ids: Iterable[str]) -> Mapping[str, DeviceRecord]:
        """What the hub stored about these devices (deleted ones too)."""
        ...


@dataclass
class MemoryHub:
    """A :class:`HubView` over plain dicts (unit tests; a first poll knows nothing)."""

    stored: dict[str, StoredIncident] = field(default_factory=dict)
    known: dict[str, DeviceRecord] = field(default_factory=dict)

    def open_incidents(self, prefix: str = "") -> dict[str, StoredIncident]:
        now = datetime.now(UTC)
        return {
            sid: incident
            for sid, incident in self.stored.items()
            if sid.startswith(prefix) and incident.end_time is not None and incident.end_time > now
        }

    def incidents(self, sids: Iterable[str]) -> dict[str, StoredIncident]:
        return {sid: self.stored[sid] for sid in sids if sid in self.stored}

    def incident_ids(self, prefix: str) -> set[str]:
        return {sid for sid in self.stored if sid.startswith(prefix)}

    def device_ids(self) -> set[str]:
        return {vid for vid, record in self.known.items() if not record.deleted}

    def devices(self, vendor_ids: Iterable[str]) -> dict[str, DeviceRecord]:
        return {vid: self.known[vid] for vid in vendor_ids if vid in self.known}


class VendorConnector(ABC):
    """One vendor: its options, rate limit, authenticator, ``check`` and ``poll``.

    ``poll`` only reads from the vendor (through ``self.http``) and the ``hub`` view, and
    returns a PollResult; it never writes to the database. It must be idempotent over
    overlapping windows: the engine upserts by ``source_incident_id``.
    """

    vendor: str = ""
    #: (requests, seconds) the vendor allows per credential; ``options["rate_limit"]`` overrides.
    rate_limit: tuple[int, float] = (5, 1.0)
    #: The vendor's own options: ``{name: options.Spec}``, each with its default (the shared
    #: ones are added). None: the keys are not checked.
    option_specs: ClassVar[dict | None] = None

    def __init__(
        self,
        *,
        http: VendorHTTP,
        options: dict,
        credentials: dict,
        auth_cache: dict,
        name: str = "",
    ) -> None:
        """``options`` are the resolved ones (``options.resolve_options``): every key the
        vendor declares is there."""
        self.name = name or self.vendor
        self.options = options
        self.http = http
        self.log = logging.getLogger(vendors.BY_SLUG[self.vendor].logger)
        http.log = self.log  # retries and waits are logged as this vendor's
        self.auth = self.authenticator(credentials, auth_cache)

    @abstractmethod
    def authenticator(self, credentials: dict, cache: dict) -> Authenticator: ...

    @abstractmethod
    def poll(self, bookmarks: dict, now: datetime, hub: HubView) -> PollResult: ...

    @abstractmethod
    def check(self) -> dict:
        """A cheap authenticated call, for ``fleetwatch connector test``: what it saw."""

    @staticmethod
    def credential_id(connector) -> str:
        """Which credential the shared rate limiter keys on (never the secret itself)."""
        creds = connector.credentials
        return str(creds.get("client_id") or creds.get("user_name") or connector.pk)
