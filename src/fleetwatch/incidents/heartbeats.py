"""Source heartbeats, as Argus 2.10 has them: a source with a ``heartbeat_frequency`` promises
to be heard from at least that often; when it is silent for longer, the hub opens a "Missing
heartbeat from source NAME (TYPE), dead?" incident on its own source, and ends it when the
source is heard again.

"Heard from" is ``last_seen``: ``POST .../sources/heartbeat/``, a good connector poll, or —
for a source that has a heartbeat frequency — any authenticated API request it makes (written
at most every ``TOUCH_EVERY``, so a busy source costs one UPDATE per half minute, not one per
request as in Argus; sources without a frequency cost nothing).

Each silence is its own incident, identified by the source and the ``last_seen`` it went
silent at (``source_incident_id`` ``fleetwatch:missing-heartbeat:<pk>:<last_seen>``), so the
check is idempotent: every worker may run it at the same moment and one incident results.
A source never heard from is not judged (it may not have started yet).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from fleetwatch.incidents.events import post_event
from fleetwatch.incidents.ingest import IncidentDraft, upsert_incidents
from fleetwatch.incidents.models import Event, Incident, SourceSystem, SourceSystemType

log = logging.getLogger("fleetwatch.heartbeats")

# The hub's own source system: incidents the hub raises about itself and its sources come
# from it (Argus calls its own "argus"). Created on first use.
HUB_SOURCE_NAME = "fleetwatch"
HUB_SOURCE_TYPE = "fleetwatch"
SID_PREFIX = "fleetwatch:missing-heartbeat:"
# Argus's grace: a heartbeat this late is still on time.
FUDGE = timedelta(seconds=10)
TOUCH_EVERY = timedelta(seconds=30)
LEVEL = 4
DESCRIPTION = "Missing heartbeat from source {source}, dead?"
ALIVE = 'Source "{source}" is again alive and well'
UNWATCHED = 'Source "{source}" is no longer watched for heartbeats'
GONE = "The source of this incident is gone"


def hub_source() -> SourceSystem:
    """The hub's own source (type and machine user too), created on first use; safe when
    several workers ask at once."""
    try:
        return SourceSystem.objects.select_related("user").get(
            name=HUB_SOURCE_NAME, type_id=HUB_SOURCE_TYPE
        )
    except SourceSystem.DoesNotExist:
        pass
    users = get_user_model().objects
    try:
        with transaction.atomic():
            source_type, _ = SourceSystemType.objects.get_or_create(name=HUB_SOURCE_TYPE)
            username, n = HUB_SOURCE_NAME, 1
            while users.filter(username=username).exists():
                n += 1
                username = f"{HUB_SOURCE_NAME}-{n}"
            user = users.create_user(username=username, password=None)
            return SourceSystem.objects.create(name=HUB_SOURCE_NAME, type=source_type, user=user)
    except IntegrityError:  # another worker created it first
        return SourceSystem.objects.select_related("user").get(
            name=HUB_SOURCE_NAME, type_id=HUB_SOURCE_TYPE
        )


def touch(source: SourceSystem | None, now: datetime | None = None) -> None:
    """Record that a watched source was heard from (an API request it made). Does nothing
    for sources without a heartbeat frequency or seen within ``TOUCH_EVERY``."""
    if source is None or not source.heartbeat_frequency:
        return
    now = now or timezone.now()
    if source.last_seen is not None and now - source.last_seen < TOUCH_EVERY:
        return
    SourceSystem.objects.filter(pk=source.pk).update(last_seen=now)
    source.last_seen = now


def is_silent(source: SourceSystem, now: datetime) -> bool:
    if not source.heartbeat_frequency or source.last_seen is None:
        return False
    return source.last_seen + timedelta(seconds=source.heartbeat_frequency) + FUDGE < now


@dataclass
class HeartbeatCheck:
    opened: list[int] = field(default_factory=list)  # source pks
    ended: list[int | None] = field(default_factory=list)  # None: its id names no source
    silent: list[int] = field(default_factory=list)


def _source_pk(source_incident_id: str) -> int | None:
    """The watched source's pk from a heartbeat incident's ``source_incident_id``."""
    try:
        return int(source_incident_id.removeprefix(SID_PREFIX).split(":", 1)[0])
    except ValueError:
        return None


def check_heartbeats(now: datetime | None = None) -> HeartbeatCheck:
    """Open an incident for every watched source that fell silent, end those of sources heard
    again (or no longer watched, or gone). Three queries when nothing changes."""
    now = now or timezone.now()
    hub = hub_source()
    result = HeartbeatCheck()
    watched: dict[int | None, SourceSystem] = {
        s.pk: s
        for s in SourceSystem.objects.filter(heartbeat_frequency__isnull=False).exclude(pk=hub.pk)
    }
    open_by_source: dict[int | None, list[Incident]] = {}
    for incident in Incident.objects.open().filter(
        source=hub, source_incident_id__startswith=SID_PREFIX
    ):
        open_by_source.setdefault(_source_pk(incident.source_incident_id), []).append(incident)

    current = _open_silent(watched, open_by_source, hub, now, result)
    _end_heard(watched, open_by_source, current, hub, now, result)
    return result


def _open_silent(
    watched: dict[int | None, SourceSystem],
    open_by_source: dict[int | None, list[Incident]],
    hub: SourceSystem,
    now: datetime,
    result: HeartbeatCheck,
) -> dict[int | None, str]:
    """Open an incident for each silent source that has none yet for the same silence; return
    the silent ones' heartbeat incident ids."""
    drafts: list[IncidentDraft] = []
    drafted: list[int] = []  # the source pk of each draft
    current: dict[int | None, str] = {}  # the silent ones' heartbeat incident ids
    for source in watched.values():
        last_seen, frequency = source.last_seen, source.heartbeat_frequency
        if last_seen is None or not frequency or not is_silent(source, now):
            continue
        result.silent.append(source.pk)
        sid = current[source.pk] = f"{SID_PREFIX}{source.pk}:{last_seen.isoformat()}"
        if any(i.source_incident_id == sid for i in open_by_source.get(source.pk, [])):
            continue
        overdue_since = last_seen + timedelta(seconds=frequency)
        drafted.append(source.pk)
        drafts.append(
            IncidentDraft(
                start_time=min(overdue_since, now),
                source_incident_id=sid,
                description=DESCRIPTION.format(source=source),
                level=LEVEL,
                tags=[("problem_type", "missing_heartbeat"), ("source_system_id", str(source.pk))],
            )
        )
    if drafts:
        outcomes = upsert_incidents(hub, hub.user, drafts)
        for outcome, pk, draft in zip(outcomes, drafted, drafts, strict=True):
            if outcome.status == "created":
                result.opened.append(pk)
                log.warning("%s", draft.description)
    return current


def _end_heard(
    watched: dict[int | None, SourceSystem],
    open_by_source: dict[int | None, list[Incident]],
    current: dict[int | None, str],
    hub: SourceSystem,
    now: datetime,
    result: HeartbeatCheck,
) -> None:
    """End the open heartbeat incidents that are not the current silence of their source."""
    for source_pk, incidents in open_by_source.items():
        heard = watched.get(source_pk)
        for incident in incidents:
            if incident.source_incident_id == current.get(source_pk):
                continue  # still silent since the same moment
            why = _why_ended(heard, source_pk)
            if _end(incident, hub, now, why):
                result.ended.append(source_pk)
                log.info("%s", why)


def _why_ended(heard: SourceSystem | None, source_pk: int | None) -> str:
    """The END event's description: heard again, no longer watched, or gone."""
    if heard is not None:  # heard again (perhaps silent again since: a new incident)
        return ALIVE.format(source=heard)
    if other := SourceSystem.objects.filter(pk=source_pk or 0).first():
        return UNWATCHED.format(source=other)
    return GONE


def _end(incident: Incident, hub: SourceSystem, now: datetime, description: str) -> bool:
    """End the incident unless another worker just did (no second END event)."""
    with transaction.atomic():
        still_open = Incident.objects.select_for_update().filter(pk=incident.pk).open().exists()
        if not still_open:
            return False
        post_event(incident, hub.user, Event.Type.INCIDENT_END, now, description)
    return True
