"""What a vendor module declares, and what one poll hands back to the engine."""

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from fleetwatch.connectors.auth import Authenticator
from fleetwatch.connectors.http import VendorHTTP
from fleetwatch.incidents.ingest import IncidentDraft
from fleetwatch.incidents.models import Incident


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


class VendorConnector(ABC):
    """One vendor: its rate limit, its authenticator, and ``poll``.

    ``poll`` only reads from the vendor (through ``self.http``) and returns a PollResult;
    it never writes to the database. It must be idempotent over overlapping windows: the
    engine upserts by ``source_incident_id``.
    """

    vendor: str = ""
    #: (requests, seconds) the vendor allows per credential; ``options["rate_limit"]`` overrides.
    rate_limit: tuple[int, float] = (5, 1.0)
    #: The vendor's own options: ``{name: options.Spec}`` (the shared ones are added). None:
    #: the keys are not checked.
    option_specs: ClassVar[dict | None] = None

    def __init__(self, connector, http: VendorHTTP, auth_cache: dict) -> None:
        self.connector = connector
        self.options = connector.options or {}
        self.http = http
        self.auth = self.authenticator(connector.credentials, auth_cache)

    @abstractmethod
    def authenticator(self, credentials: dict, cache: dict) -> Authenticator: ...

    @abstractmethod
    def poll(self, bookmarks: dict, now: datetime) -> PollResult: ...

    @abstractmethod
    def check(self) -> dict:
        """A cheap authenticated call, for ``fleetwatch connector test``: what it saw."""

    def open_incident_ids(self, prefix: str = "") -> set[str]:
        """``source_incident_id`` of this connector's incidents open in the hub (a read).

        Lets a vendor module end only incidents the hub has open, and skip records that
        would only create an incident already closed.
        """
        return self.connector.open_incident_ids(prefix)

    def stored_incidents(
        self, *, sids: Iterable[str] | None = None, prefix: str = "", open_only: bool = False
    ) -> dict[str, StoredIncident]:
        """This connector's incidents (by ``sids``, or all starting with ``prefix``; only open
        ones if asked) and the fields an ending or re-reading draft keeps — one read."""
        incidents = Incident.objects.open() if open_only else Incident.objects.all()
        incidents = incidents.filter(
            source=self.connector.source, source_incident_id__startswith=prefix
        )
        if sids is not None:
            sids = list(sids)
            if not sids:
                return {}
            incidents = incidents.filter(source_incident_id__in=sids)
        rows = incidents.values_list("source_incident_id", *STORED_FIELDS)
        return {sid: StoredIncident(*fields) for sid, *fields in rows}

    @staticmethod
    def credential_id(connector) -> str:
        """Which credential the shared rate limiter keys on (never the secret itself)."""
        creds = connector.credentials
        return str(creds.get("client_id") or creds.get("user_name") or connector.pk)
