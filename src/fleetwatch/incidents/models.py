"""Argus's domain: source systems, incidents, tags, the append-only event log, acknowledgements.

``end_time`` carries the incident's state, as in Argus: NULL = stateless, ``INFINITY`` (or any
future time) = open, a past time = closed. ``INFINITY`` is a real, far-future timestamp rather
than PostgreSQL's ``'infinity'`` so that ``end_time > now()`` works the same on SQLite.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from fleetwatch.incidents import limits

# Far enough to never be reached, near enough that converting to any time zone cannot overflow.
INFINITY = datetime(9999, 12, 30, tzinfo=UTC)
TAG_KEY_RE = r"^[a-z0-9_]+$"
TAG_KEY_MESSAGE = "Enter a valid key consisting of lowercase letters, numbers and underscores."


def is_infinite(value: datetime | None) -> bool:
    return value is not None and value >= INFINITY


class Level(models.IntegerChoices):
    CRITICAL = 1, "Critical"
    HIGH = 2, "High"
    MODERATE = 3, "Moderate"
    LOW = 4, "Low"
    INFORMATION = 5, "Information"


class SourceSystemType(models.Model):
    name = models.TextField(
        primary_key=True,
        validators=[
            RegexValidator(r"^[^A-Z]+$", "The name must be lower case."),
            # Model validators, so the admin's forms refuse what the API refuses (limits.py).
            MaxLengthValidator(limits.SOURCE_TYPE_NAME_MAX_LENGTH),
        ],
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name = self.name.lower()
        super().save(*args, **kwargs)

    def clean_fields(self, exclude=None) -> None:
        """Validate (and check uniqueness of) the name as it will be stored: lower-case."""
        self.name = self.name.lower()
        super().clean_fields(exclude)


class SourceSystem(models.Model):
    """A system that reports incidents; it acts through its own (machine) user."""

    name = models.TextField(validators=[MaxLengthValidator(limits.SOURCE_NAME_MAX_LENGTH)])
    type = models.ForeignKey(SourceSystemType, on_delete=models.PROTECT, related_name="instances")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="source_system"
    )
    base_url = models.TextField(blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    # As in Argus 2.10: seconds (60 s to a day) within which the source promises to be heard
    # from; the worker opens a "missing heartbeat" incident when it is silent for longer.
    heartbeat_frequency = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(60), MaxValueValidator(86400)],
        help_text="Expected to be heard from (heartbeat, API request) at least every N seconds, "
        "60 to 86400; empty: not watched.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "type"], name="source_unique_name_per_type")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type_id})"


class Tag(models.Model):
    key = models.TextField(
        validators=[
            RegexValidator(TAG_KEY_RE, TAG_KEY_MESSAGE),
            MaxLengthValidator(limits.TAG_KEY_MAX_LENGTH),
        ]
    )
    value = models.TextField(validators=[MaxLengthValidator(limits.TAG_VALUE_MAX_LENGTH)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "value"], name="tag_unique_key_value")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class IncidentQuerySet(models.QuerySet["Incident"]):
    def open(self) -> "IncidentQuerySet":
        return self.filter(end_time__gt=Now())

    def closed(self) -> "IncidentQuerySet":
        return self.filter(end_time__lte=Now())

    def stateful(self) -> "IncidentQuerySet":
        return self.filter(end_time__isnull=False)

    def stateless(self) -> "IncidentQuerySet":
        return self.filter(end_time__isnull=True)

    def acked(self) -> "IncidentQuerySet":
        return self.filter(Exists(Acknowledgement.active_for(OuterRef("pk"))))

    def not_acked(self) -> "IncidentQuerySet":
        return self.exclude(Exists(Acknowledgement.active_for(OuterRef("pk"))))

    def with_state(self) -> "IncidentQuerySet":
        """Annotate ``is_acked`` and ``is_open`` in SQL: one query for a whole page.

        ``is_acked`` repeats its correlation as ``incident >= pk`` (always true beside ``=``):
        PostgreSQL cannot hash a subquery correlated by an inequality, so it probes each
        row's acks through the indexes. With many acks it hashed every acked incident instead,
        scanning the whole event table for each page: 135 ms → 1 ms at 100,000 incidents."""
        probed = Acknowledgement.active_for(OuterRef("pk")).filter(
            event__incident__gte=OuterRef("pk")
        )
        return self.annotate(
            is_acked=Exists(probed),
            is_open=Q(end_time__gt=Now()),
        )


# The incident's own columns but its pk, in the order the fast writers and the list use them.
INCIDENT_COLUMNS = (
    "start_time",
    "end_time",
    "source_id",
    "source_incident_id",
    "details_url",
    "description",
    "level",
    "ticket_url",
    "metadata",
)


class Incident(models.Model):
    start_time = models.DateTimeField(help_text="When the incident began at the source.")
    end_time = models.DateTimeField(
        null=True, blank=True, help_text="NULL: stateless; far future: open; past: closed."
    )
    source = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, related_name="incidents")
    source_incident_id = models.TextField(
        blank=True,
        default="",
        validators=[MaxLengthValidator(limits.SOURCE_INCIDENT_ID_MAX_LENGTH)],
    )
    details_url = models.TextField(blank=True)
    description = models.TextField(blank=True)
    level = models.PositiveSmallIntegerField(
        choices=Level.choices,
        default=Level.INFORMATION,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    ticket_url = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    objects = IncidentQuerySet.as_manager()
    # Not stored: set by ingest (ingest/rules.py) on the incidents it loads or builds — whether
    # the source itself ended the incident (its latest END/CLO event is an END).
    closed_by_source: bool

    class Meta:
        ordering = ["-start_time", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_incident_id"],
                condition=~Q(source_incident_id=""),
                name="incident_unique_source_incident_id_per_source",
            ),
            models.CheckConstraint(
                condition=Q(level__gte=1) & Q(level__lte=5), name="incident_level_1_to_5"
            ),
        ]
        indexes = [
            models.Index(fields=["-start_time", "-id"], name="incident_page_order"),
            models.Index(fields=["end_time"], name="incident_end_time"),
            # the console's sort by level, either way (fleetwatch.web.listing): a page is an
            # index range, not a sort of every incident
            models.Index(fields=["level", "id"], name="incident_level_order"),
        ]

    def __str__(self) -> str:
        return f"Incident #{self.pk} at {self.start_time}: {self.description}"

    @property
    def stateful(self) -> bool:
        return self.end_time is not None

    @property
    def open(self) -> bool:
        if hasattr(self, "is_open"):
            return bool(self.is_open)
        return self.end_time is not None and self.end_time > timezone.now()

    @property
    def acked(self) -> bool:
        if hasattr(self, "is_acked"):
            return bool(self.is_acked)
        return Acknowledgement.active_for(self.pk).exists()


class IncidentTagRelation(models.Model):
    """An incident carries a tag.

    ``start_time`` is the incident's own, copied (denormalised) so that a tag's incidents in
    the list's page order are one index range (``tag_page_order``): the newest incidents with
    a tag are read from the tag's end of the index, whatever the size of the hub
    (``incidents/tag_pages.py``). Every writer gives it (the COPY writers, the one-statement
    create and ``bulk_create`` pass the incident's; ``save()`` takes it from the incident when
    unset) and the column is NOT NULL, so a writer that forgot fails rather than misplaces
    the tag; a change of the incident's ``start_time`` (no API path changes it; the admin
    and a plain ``UPDATE`` can) is carried over by a trigger (migration
    ``0008_tag_relation_start_time_kept``).
    """

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="incident_relations")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tag_relations")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    added_time = models.DateTimeField(default=timezone.now)
    start_time = models.DateTimeField(
        editable=False, help_text="The incident's start_time (the tag's page order)."
    )

    class Meta:
        ordering = ["added_time", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tag", "incident"], name="tag_once_per_incident")
        ]
        indexes = [
            models.Index(fields=["tag", "-start_time", "-incident"], name="tag_page_order"),
        ]

    def __str__(self) -> str:
        return f"{self.tag} on incident #{self.incident_id}"

    def save(self, *args, **kwargs) -> None:
        """Take ``start_time`` from the incident when the caller did not give it."""
        if self.start_time is None:
            self.start_time = self.incident.start_time
        super().save(*args, **kwargs)


class Event(models.Model):
    class Type(models.TextChoices):
        INCIDENT_START = "STA", "Incident start"
        INCIDENT_END = "END", "Incident end"
        INCIDENT_CHANGE = "CHI", "Incident change"
        INCIDENT_RESTART = "RES", "Incident restart"
        CLOSE = "CLO", "Close"
        REOPEN = "REO", "Reopen"
        ACKNOWLEDGE = "ACK", "Acknowledge"
        OTHER = "OTH", "Other"
        STATELESS = "LES", "Stateless"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    timestamp = models.DateTimeField(help_text="When it happened.")
    received = models.DateTimeField(default=timezone.now, help_text="When the hub got it.")
    type = models.CharField(max_length=3, choices=Type.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["-timestamp", "-id"], name="event_page_order"),
            models.Index(fields=["incident", "type"], name="event_incident_type"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} on incident #{self.incident_id} at {self.timestamp}"


class Acknowledgement(models.Model):
    event = models.OneToOneField(
        Event, on_delete=models.CASCADE, primary_key=True, related_name="ack"
    )
    expiration = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-event__timestamp"]

    def __str__(self) -> str:
        return f"Acknowledgement of incident #{self.event.incident_id}"

    @classmethod
    def active_for(cls, incident) -> models.QuerySet:
        """Acks of ``incident`` (a pk or an OuterRef) that have not expired."""
        return cls.objects.filter(event__incident=incident).filter(
            Q(expiration__isnull=True) | Q(expiration__gt=Now())
        )

    @property
    def expired(self) -> bool:
        return self.expiration is not None and self.expiration <= timezone.now()
