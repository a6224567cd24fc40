"""The device inventory: one ``Device`` per physical device, each vendor record linked to at
most one, the keys it was matched on, and the incidents tied to a device."""

from django.conf import settings
from django.db import models

from fleetwatch.connectors.models import VendorDevice
from fleetwatch.incidents.models import Incident

#: The tag the hub puts on an incident tied to a device: ``hub_device=<Device.pk>``. Not
#: ``device``: MetaAccess and Sensaphone incidents already carry ``device=<the vendor's name>``,
#: and clients filter on it.
DEVICE_TAG = "hub_device"


class Device(models.Model):
    """The hub's record of one physical device, joined from its vendors' records."""

    name = models.CharField(max_length=255, blank=True, db_index=True)
    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pk"]
        # The list's keyset: (created, pk) descending, one index range per page.
        indexes = [models.Index(fields=["created", "id"], name="inventory_device_page")]

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
