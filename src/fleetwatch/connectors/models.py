"""Connectors as configured data, their poll state, the shared rate-limit slots, and the
vendor device records they keep."""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from fleetwatch import vendors
from fleetwatch.connectors import secrets
from fleetwatch.incidents.models import Incident, SourceSystem

# The source_incident_id prefix of the incidents that say a connector is failing.
HEALTH_ID = "fleetwatch:connector-health"


#: The database choices, from the one vendor list (``fleetwatch.vendors``).
#: django-stubs type only the functional API's ``name → value`` form, not ``(value, label)``.
Vendor = models.TextChoices("Vendor", {v.name: (v.slug, v.label) for v in vendors.VENDORS})  # type: ignore[call-overload]


class Connector(models.Model):
    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", "Use lower-case letters, digits, - and _.")
        ],
    )
    vendor = models.CharField(max_length=20, choices=Vendor.choices)
    base_url = models.URLField(max_length=500)
    # Fernet-encrypted JSON; never returned by the API, never logged.
    credentials_encrypted = models.TextField(blank=True, editable=False)
    poll_interval = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5)], help_text="seconds between polls"
    )
    enabled = models.BooleanField(default=True)
    options = models.JSONField(default=dict, blank=True, help_text="vendor-specific settings")
    source = models.OneToOneField(
        SourceSystem, on_delete=models.PROTECT, related_name="connector", editable=False
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.vendor})"

    def open_incident_ids(self, prefix: str = "") -> set[str]:
        """``source_incident_id`` of the vendor's incidents open in the hub for this connector
        (its own health incident excluded)."""
        return set(
            Incident.objects.open()
            .filter(source=self.source_id, source_incident_id__startswith=prefix)
            .exclude(source_incident_id__startswith=HEALTH_ID)
            .values_list("source_incident_id", flat=True)
        )

    @property
    def credentials(self) -> dict:
        return secrets.decrypt(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict) -> None:
        self.credentials_encrypted = secrets.encrypt(value)


class ConnectorState(models.Model):
    """What the poller keeps between runs; one row per connector, written only by polls."""

    connector = models.OneToOneField(
        Connector, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    bookmarks = models.JSONField(default=dict, blank=True)
    auth_cache_encrypted = models.TextField(blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    requests_total = models.PositiveBigIntegerField(default=0)
    last_poll_requests = models.PositiveIntegerField(default=0)
    last_poll_seconds = models.FloatField(null=True, blank=True)
    last_poll_summary = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"state of {self.connector_id}"

    @property
    def auth_cache(self) -> dict:
        try:
            return secrets.decrypt(self.auth_cache_encrypted)
        except secrets.SecretError:
            return {}  # a rotated key only costs a fresh login

    @auth_cache.setter
    def auth_cache(self, value: dict) -> None:
        self.auth_cache_encrypted = secrets.encrypt(value) if value else ""


class RateLimitSlot(models.Model):
    """The next moment a request may be sent for one credential, shared by every worker."""

    key = models.CharField(max_length=200, primary_key=True)
    next_at = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key


class VendorDevice(models.Model):
    """A device as one vendor reports it; the cross-vendor inventory joins these on MAC/name."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="devices")
    vendor_id = models.CharField(max_length=200)
    name = models.CharField(max_length=255, blank=True)
    mac = models.CharField(max_length=17, blank=True, db_index=True)
    ip = models.CharField(max_length=45, blank=True)
    os = models.CharField(max_length=200, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    deleted = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connector", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "vendor_id"], name="device_once_per_connector"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name or self.vendor_id} ({self.connector_id})"
