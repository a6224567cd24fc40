"""One poll of one connector, start to finish.

1. Take the connector's lease (a conditional UPDATE): at most one poll in flight per
   connector, however many workers run; a dead worker's lease simply expires.
2. Let the vendor module read everything new (HTTP only, no database writes).
3. Store incidents, events, acks, device records and the new bookmarks in ONE transaction,
   after checking the lease is still ours. A poll that fails anywhere stores nothing.
4. Record health: last success / error, consecutive failures, requests used; the source's
   heartbeat; and an incident on the connector's own source while it keeps failing.
"""

import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fleetwatch.connectors.addresses import GuardedTransport
from fleetwatch.connectors.base import PollResult, VendorConnector
from fleetwatch.connectors.http import (
    AuthError,
    ClientError,
    RetryPolicy,
    VendorError,
    VendorHTTP,
)
from fleetwatch.connectors.hub import DatabaseHub
from fleetwatch.connectors.models import HEALTH_ID, Connector, ConnectorState, VendorDevice
from fleetwatch.connectors.options import OptionsError, clean_options, resolve_options
from fleetwatch.connectors.ratelimit import SharedRateLimiter
from fleetwatch.connectors.registry import connector_class
from fleetwatch.incidents.events import acknowledge
from fleetwatch.incidents.ingest import IncidentDraft, upsert_allowed, upsert_incidents
from fleetwatch.incidents.models import INFINITY, Event, Incident, SourceSystem
from fleetwatch.inventory import services as inventory

log = logging.getLogger("fleetwatch.connectors")


class LeaseLost(Exception):
    """Another worker took over this connector (ours expired): store nothing."""


@dataclass
class PollOutcome:
    status: str  # ok | failed | skipped
    summary: dict

    def as_dict(self) -> dict:
        return {"status": self.status, **self.summary}


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def state_for(connector: Connector) -> ConnectorState:
    state, _ = ConnectorState.objects.get_or_create(connector=connector)
    return state


def take_lease(connector_id: int, owner: str) -> bool:
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner)
    return (
        ConnectorState.objects.filter(pk=connector_id)
        .filter(free)
        .update(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=settings.CONNECTOR_LEASE_SECONDS),
            last_attempt_at=now,
        )
        == 1
    )


class LeaseKeeper:
    """Keeps the lease while a long poll runs: renewed on every request and during every wait
    (rate-limit pacing, a vendor's ``Retry-After``, retry backoff), at most every sixth of the
    lease, so neither slow requests nor long waits let it lapse."""

    def __init__(self, connector_id: int, owner: str, *, pause=time.sleep) -> None:
        self.connector_id, self.owner = connector_id, owner
        self.pause = pause
        self.last = time.monotonic()

    @staticmethod
    def step() -> float:
        return settings.CONNECTOR_LEASE_SECONDS / 6

    def __call__(self) -> None:
        if time.monotonic() - self.last < self.step():
            return
        self.last = time.monotonic()
        expires = timezone.now() + timedelta(seconds=settings.CONNECTOR_LEASE_SECONDS)
        renewed = ConnectorState.objects.filter(
            pk=self.connector_id, lease_owner=self.owner
        ).update(lease_expires_at=expires)
        if not renewed:
            raise LeaseLost(f"lease on connector {self.connector_id} was taken over")

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` in slices of a sixth of the lease, renewing it between them."""
        deadline = time.monotonic() + max(0.0, seconds)
        while (left := deadline - time.monotonic()) > 0:
            self.pause(min(left, self.step()))
            self()


def limiter_key(connector: Connector) -> str:
    """The shared rate limiter's key: one budget per vendor host and credential."""
    cls = connector_class(connector.vendor)
    return f"{connector.vendor}:{connector.base_url}:{cls.credential_id(connector)}"


class Deadline:
    """A total time budget for one vendor conversation (``connector test``): every wait
    (rate-limit pacing, ``Retry-After``, retry backoff) and every request's timeout is cut to
    what is left, and once it is spent the conversation ends with ``DeadlineExceeded``."""

    def __init__(self, seconds: float, *, pause=time.sleep, clock=time.monotonic) -> None:
        self.seconds, self.pause, self.clock = seconds, pause, clock
        self.ends = clock() + seconds
        self.http: VendorHTTP | None = None

    def left(self) -> float:
        return self.ends - self.clock()

    def expired(self) -> "DeadlineExceeded":
        requests = self.http.requests if self.http else 0
        return DeadlineExceeded(
            f"the vendor did not answer successfully within {self.seconds:g} s "
            f"({requests} requests made)"
        )

    def sleep(self, seconds: float) -> None:
        if seconds >= self.left():
            raise self.expired()
        self.pause(seconds)

    def before_request(self) -> None:
        left = self.left()
        if left <= 0:
            raise self.expired()
        if self.http is not None:  # no single request outlives the budget either
            self.http.client.timeout = httpx.Timeout(left, connect=min(left, 5.0))


class DeadlineExceeded(VendorError):
    """``Deadline`` ran out before the vendor answered successfully."""


def build(
    connector: Connector,
    auth_cache: dict,
    *,
    on_request=None,
    sleep=time.sleep,
    deadline: Deadline | None = None,
    transport: httpx.BaseTransport | None = None,
):
    """The vendor module wired to the shared HTTP layer and rate limiter, given its resolved
    options (checked, defaults filled in). ``transport``: instead of ``GuardedTransport``
    (tests: ``httpx.MockTransport``).

    Connections go through ``GuardedTransport`` (no link-local, metadata or — unless allowed —
    private addresses, checked on every connection). The limiter hears when each answer
    arrives, so a slow vendor paces the next request from the answer's completion. With a
    ``deadline``, the whole conversation fits in it.

    Raises OptionsError (a ValueError naming each option) when the stored options are bad.
    """
    cls = connector_class(connector.vendor)
    options = resolve_options(connector.vendor, connector.options)
    limit, window = options["rate_limit"]
    retry = RetryPolicy(**options["retry"])
    if deadline is not None:
        sleep = deadline.sleep
        on_request = _chain(deadline.before_request, on_request)
    limiter = SharedRateLimiter(
        limiter_key(connector),
        int(limit),
        float(window),
        margin=float(options["rate_limit_margin"]),
        sleep=sleep,
    )
    http = VendorHTTP(
        connector.base_url,
        limiter=limiter,
        retry=retry,
        timeout=float(options["timeout"]),
        on_request=on_request,
        sleep=sleep,
        transport=transport if transport is not None else GuardedTransport(),
    )
    http.client.event_hooks = {
        "request": [lambda _request: limiter.sent()],
        "response": [lambda _response: limiter.completed()],
    }
    if deadline is not None:
        deadline.http = http
    return cls(
        http=http,
        options=options,
        credentials=connector.credentials,
        auth_cache=auth_cache,
        name=connector.name,
    )


def _chain(*calls):
    def call() -> None:
        for each in calls:
            if each is not None:
                each()

    return call


def run_poll(
    connector_id: int, owner: str | None = None, progress: Callable[[], None] | None = None
) -> PollOutcome:
    """Poll once; ``progress`` is called after each vendor request (for a progress bar)."""
    owner = owner or worker_id()
    connector = Connector.objects.select_related("source__user").filter(pk=connector_id).first()
    if connector is None:  # deleted after the poll was queued
        return PollOutcome("skipped", {"reason": "the connector no longer exists"})
    state = state_for(connector)
    if not take_lease(connector_id, owner):
        return PollOutcome("skipped", {"reason": "another poll of this connector is running"})
    state.refresh_from_db()
    auth_cache = state.auth_cache
    started = time.monotonic()
    vendor: VendorConnector | None = None
    try:
        keeper = LeaseKeeper(connector_id, owner)

        def on_request() -> None:
            keeper()
            if progress is not None:
                progress()

        vendor = build(connector, auth_cache, on_request=on_request, sleep=keeper.sleep)
        result = vendor.poll(dict(state.bookmarks), timezone.now(), DatabaseHub(connector))
        summary = store(connector, owner, result, vendor, auth_cache, started)
        log.info("connector %s polled: %s", connector.name, summary)
        return PollOutcome("ok", summary)
    except (VendorError, LeaseLost, OptionsError) as exc:
        return record_failure(connector, owner, exc, vendor, auth_cache, started)
    except Exception as exc:  # a bug or an unexpected answer: keep the worker alive
        log.exception("connector %s: unexpected error", connector.name)
        return record_failure(connector, owner, exc, vendor, auth_cache, started)
    finally:
        if vendor is not None:
            vendor.http.close()


def _usage(vendor: VendorConnector | None, started: float) -> dict:
    http = vendor.http if vendor else None
    return {
        "requests": http.requests if http else 0,
        "retries": http.retries if http else 0,
        "rate_limited": http.rate_limited if http else 0,
        "waited_seconds": round(http.limiter.waited, 2) if http else 0.0,
        "seconds": round(time.monotonic() - started, 3),
    }


def store(connector, owner, result: PollResult, vendor, auth_cache, started) -> dict:
    now = timezone.now()
    with transaction.atomic():
        state = ConnectorState.objects.select_for_update().filter(pk=connector.pk).first()
        if state is None or state.lease_owner != owner:
            raise LeaseLost(f"lease on connector {connector.name} was taken over")
        devices = store_devices(connector, result.devices)
        drafts = clamp_ends(result.incidents, now)
        on_devices = inventory.tag_drafts(connector, drafts)
        # A draft that would take its incident past the tag cap is left out, not the poll.
        stored, refused = upsert_allowed(connector.source, connector.source.user, drafts)
        outcomes = list(stored.values())
        if refused:
            log.warning(
                "connector %s: %d incidents refused: %s",
                connector.name,
                len(refused),
                sorted(refused.values())[:3],
            )
        devices["incidents_linked"] = inventory.attach_incidents(outcomes, on_devices)
        acked = store_acks(connector.source, result.acks)
        summary = {
            **result.notes,  # first: the engine's own keys below always win
            **_usage(vendor, started),
            "incidents": {
                s: sum(o.status == s for o in outcomes) for s in ("created", "updated", "unchanged")
            },
            "acks": acked,
            "devices": devices,
        }
        state.bookmarks = {**state.bookmarks, **result.bookmarks}
        state.auth_cache = auth_cache
        state.last_success_at = now
        state.consecutive_failures = 0
        state.requests_total += summary["requests"]
        state.last_poll_requests = summary["requests"]
        state.last_poll_seconds = summary["seconds"]
        state.last_poll_summary = summary
        state.lease_owner, state.lease_expires_at = "", None
        state.save()
        SourceSystem.objects.filter(pk=connector.source_id).update(last_seen=now)
        set_health_incident(connector, None)
    return summary


def clamp_ends(drafts: list[IncidentDraft], now) -> list[IncidentDraft]:
    """Vendor times in our future (the vendor's clock runs ahead) become "now": an end the
    vendor reports is positive evidence and must not read as still open, and a start may not
    come after that end. The vendor's own times stay in the metadata."""
    for draft in drafts:
        if draft.end_time is not None and draft.end_time != INFINITY and draft.end_time > now:
            draft.metadata = {
                **(draft.metadata or {}),
                "vendor_end_time": draft.end_time.isoformat(),
            }
            draft.end_time = now
        if draft.start_time > now:
            draft.metadata = {
                **(draft.metadata or {}),
                "vendor_start_time": draft.start_time.isoformat(),
            }
            draft.start_time = now
    return drafts


_CLIENT_ERROR = re.compile(r"^(\d{3}) from ([A-Z]+ \S+?):?(?:\s|$)")


def public_error(exc: BaseException) -> str:
    """What users see of a failure (health, the health incident, ``test/``): the kind of
    failure and the vendor's status, never the vendor's own answer text, which can reveal
    what listens at an address (or echo something it should not)."""
    if isinstance(exc, ClientError):
        match = _CLIENT_ERROR.match(str(exc))
        if match is None:  # a vendor-level refusal: our words before the vendor's text
            return str(exc).split(": ", 1)[0][:200]
        status = int(match.group(1))
        try:
            phrase = f" {HTTPStatus(status).phrase}"
        except ValueError:
            phrase = ""
        return f"{status}{phrase} from {match.group(2)}: the vendor refused the request"
    if isinstance(exc, VendorError | LeaseLost | OptionsError):
        return (str(exc) or type(exc).__name__)[:500]
    return f"unexpected answer from the vendor ({type(exc).__name__})"


def record_failure(connector, owner, exc, vendor, auth_cache, started) -> PollOutcome:
    now = timezone.now()
    message = public_error(exc)
    summary = {**_usage(vendor, started), "error": message}
    with transaction.atomic():
        state = ConnectorState.objects.select_for_update().filter(pk=connector.pk).first()
        if state is None:  # the connector was deleted while it polled
            return PollOutcome("failed", summary)
        if state.lease_owner == owner:
            state.lease_owner, state.lease_expires_at = "", None
        state.auth_cache = auth_cache  # a token fetched before the failure stays usable
        state.last_error, state.last_error_at = message[:2000], now
        state.consecutive_failures += 1
        state.requests_total += summary["requests"]
        state.last_poll_requests = summary["requests"]
        state.last_poll_seconds = summary["seconds"]
        state.last_poll_summary = summary
        state.save()
        threshold = failure_threshold(connector)
        if isinstance(exc, AuthError) or state.consecutive_failures >= threshold:
            set_health_incident(connector, message)
    log.warning(
        "connector %s poll failed (%d in a row): %s",
        connector.name,
        state.consecutive_failures,
        message,
    )
    if message != str(exc):  # the vendor's own words, for operators only
        log.debug("connector %s: the failure in full: %s", connector.name, str(exc)[:2000])
    return PollOutcome("failed", summary)


def failure_threshold(connector: Connector) -> int:
    """Failures in a row before the health incident opens (3 unless the options say)."""
    try:
        return int(clean_options(connector.vendor, connector.options).get("failure_threshold", 3))
    except OptionsError:
        return 3


def set_health_incident(connector: Connector, error: str | None) -> None:
    """Open or update (error) or end (None) the incident saying this connector is failing.

    Each failure episode is its own incident (``source_incident_id`` carries its start), so a
    later episode never reopens an earlier one.
    """
    current = (
        Incident.objects.open()
        .filter(source=connector.source, source_incident_id__startswith=f"{HEALTH_ID}:")
        .first()
    )
    if current is None and error is None:
        return
    now = timezone.now()
    draft = IncidentDraft(
        start_time=current.start_time if current else now,
        end_time=INFINITY if error else now,
        source_incident_id=current.source_incident_id
        if current
        else f"{HEALTH_ID}:{now:%Y%m%dT%H%M%S.%f}",
        description=f"Connector {connector.name} failing: {error}"[:1000]
        if error
        else current.description,
        level=2,
        tags=[("connector", connector.name), ("problem_type", "connector_failure")],
    )
    upsert_incidents(connector.source, connector.source.user, [draft])


def store_acks(source: SourceSystem, acks) -> int:
    """Acknowledge each incident once per vendor acknowledgement (same timestamp = same ack)."""
    if not acks:
        return 0
    incidents = {
        i.source_incident_id: i
        for i in Incident.objects.filter(
            source=source, source_incident_id__in={a.source_incident_id for a in acks}
        )
    }
    seen = set(
        Event.objects.filter(
            incident__in=incidents.values(), type=Event.Type.ACKNOWLEDGE, actor=source.user
        ).values_list("incident_id", "timestamp")
    )
    made = 0
    for ack in acks:
        incident = incidents.get(ack.source_incident_id)
        if incident is None or (incident.pk, ack.timestamp) in seen:
            continue
        acknowledge(incident, source.user, ack.timestamp, ack.description)
        seen.add((incident.pk, ack.timestamp))
        made += 1
    return made


DEVICE_FIELDS = ["name", "mac", "ip", "os", "last_seen", "data", "deleted"]


def store_devices(connector: Connector, records) -> dict:
    if not records:
        return {"created": 0, "updated": 0}
    latest = {r.vendor_id: r for r in records}  # the last report of a device wins
    existing = {
        d.vendor_id: d
        for d in VendorDevice.objects.filter(connector=connector, vendor_id__in=latest)
    }
    new, changed = [], []
    for vendor_id, record in latest.items():
        values = {name: getattr(record, name) for name in DEVICE_FIELDS}
        values["mac"] = (values["mac"] or "").upper()
        device = existing.get(vendor_id)
        if device is None:
            new.append(VendorDevice(connector=connector, vendor_id=vendor_id, **values))
        elif any(getattr(device, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(device, k, v)
            changed.append(device)
    # One upsert for new and changed rows: bulk_update's CASE per field and row cost 12 ms
    # of CPU per record (10,000 changed records: 2 minutes); INSERT … ON CONFLICT, 0.2 ms.
    VendorDevice.objects.bulk_create(
        new + changed,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["connector", "vendor_id"],
        update_fields=[*DEVICE_FIELDS, "updated"],
    )
    # The inventory matches what changed, in this transaction (constant queries per batch).
    stored = (
        set(
            VendorDevice.objects.filter(
                connector=connector, vendor_id__in=[d.vendor_id for d in new + changed]
            ).values_list("pk", flat=True)
        )
        if new or changed
        else set()
    )
    unmatched = VendorDevice.objects.filter(connector=connector, link__isnull=True)
    stored.update(unmatched.values_list("pk", flat=True)[:10000])
    matched = inventory.match_records(stored)
    return {"created": len(new), "updated": len(changed), "matched": sum(matched.values())}
