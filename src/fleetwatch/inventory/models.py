"""The device inventory: one ``Device`` per physical device, each vendor record linked to at
most one, the keys it was matched on, and the incidents tied to a device."""

from django.conf import settings
from django.db import models

from fleetwatch.connectors.models import VendorDevice
from fleetwatch.incidents.models import Incident

#: The tag the hub puts on an incident tied to a device: ``device=<Device.pk>``. MetaAccess and
#: Sensaphone incidents also carry ``device=<the vendor's name>`` (kept: notification filters
#: use it): two values of one key, as Argus tags allow. ``?device=<id>`` on incident lists
#: selects by the link (``IncidentDevice``), never by the tag, so a vendor name that happens to
#: be a number selects nothing.
DEVICE_TAG = "device"
#: The key the hub used before (``hub_device=<id>``); the data migration renames it.
OLD_DEVICE_TAG = "hub_device"


class Device(models.Model):
    """The hub's record of one physical device, joined from its vendors' records."""

    name = models.CharField(max_length=255, blank=True, db_index=True)
    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # Kept up to date by ``trouble.refresh`` whenever an incident of the device opens, ends, is
    # linked, moved or deleted (incidents.signals), so the list's trouble filters read a column
    # instead of counting incidents per device. ``open_ends_at``: the earliest *finite* end
    # time among the counted incidents (an incident whose end_time was set in the future stops
    # being open without any event); past it, the filters check the incidents themselves.
    open_incident_count = models.PositiveIntegerField(default=0)
    trouble_vendor_count = models.PositiveIntegerField(default=0)
    open_ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        # The list's keyset: (created, pk) descending, one index range per page; the devices
        # in trouble (a few percent) have their own, so their pages read only them.
        indexes = [
            models.Index(fields=["created", "id"], name="inventory_device_page"),
            models.Index(
                fields=["created", "id"],
                name="inventory_device_open_page",
                condition=models.Q(open_incident_count__gt=0),
            ),
            models.Index(
                fields=["-trouble_vendor_count", "-open_incident_count", "-id"],
                name="inventory_device_trouble",
                condition=models.Q(open_incident_count__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'device'} #{self.pk}"


class DeviceLink(models.Model):
    """Which device a vendor record belongs to, and why (rule, key, value)."""

    class Rule(models.TextChoices):
        MANUAL = "manual", "linked by hand"
        MANUAL_UNLINK = "manual-unlink", "unlinked by hand"
        MAC = "mac", "same MAC address"
        SERIAL = "serial", "same serial number"
        HOSTNAME = "hostname", "same hostname"
        NEW = "new", "no match: a device of its own"
        CONFLICT = "conflict", "conflicting evidence: not merged"

    vendor_device = models.OneToOneField(
        VendorDevice, on_delete=models.CASCADE, primary_key=True, related_name="link"
    )
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="links")
    rule = models.CharField(max_length=20, choices=Rule.choices)
    key = models.CharField(max_length=20, blank=True)
    value = models.CharField(max_length=255, blank=True)
    #: ``[{"key", "value", "devices": [ids]}]`` when the evidence pointed at several devices.
    conflict = models.JSONField(default=list, blank=True)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    linked_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["rule"], name="inventory_link_rule")]

    def __str__(self) -> str:
        return f"{self.vendor_device_id} → {self.device_id} ({self.rule})"

    @property
    def manual(self) -> bool:
        return self.rule in (self.Rule.MANUAL, self.Rule.MANUAL_UNLINK)


class RecordKey(models.Model):
    """One normalised matching key of a vendor record (MAC, serial, hostname)."""

    vendor_device = models.ForeignKey(VendorDevice, on_delete=models.CASCADE, related_name="keys")
    kind = models.CharField(max_length=10)
    value = models.CharField(max_length=255)

    class Meta:
        indexes = [models.Index(fields=["kind", "value"], name="inventory_key_lookup")]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor_device", "kind", "value"], name="inventory_key_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


class IncidentDevice(models.Model):
    """The device an incident is about (kept here: the incidents app knows no inventory)."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, primary_key=True, related_name="device_link"
    )
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="incident_links")
    vendor_device = models.ForeignKey(
        VendorDevice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"incident {self.incident_id} → device {self.device_id}"


class PendingIncidentKey(models.Model):
    """A MAC or hostname an incident's tags named when no single device had it: when a device
    with it becomes known (``match_records``), the incident is linked then. Deleted once the
    incident is linked."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10)
    value = models.CharField(max_length=255)

    class Meta:
        indexes = [models.Index(fields=["kind", "value"], name="inventory_pending_lookup")]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "kind", "value"], name="inventory_pending_once"
            )
        ]

    def __str__(self) -> str:
        return f"incident {self.incident_id}: {self.kind}={self.value}"
