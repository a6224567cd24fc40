"""What the device endpoints return (read-only; the link actions take ``{"record": id}``)."""

from rest_framework import serializers

from fleetwatch.api.serializers import StrictFieldsMixin
from fleetwatch.inventory import services
from fleetwatch.inventory.models import Device, DeviceLink


class LinkSerializer(serializers.ModelSerializer):
    """One vendor record of the device, its key fields and why it is linked here."""

    record = serializers.IntegerField(source="vendor_device_id")
    connector = serializers.CharField(source="vendor_device.connector.name")
    vendor = serializers.CharField(source="vendor_device.connector.vendor")
    vendor_id = serializers.CharField(source="vendor_device.vendor_id")
    name = serializers.CharField(source="vendor_device.name")
    mac = serializers.CharField(source="vendor_device.mac")
    ip = serializers.CharField(source="vendor_device.ip")
    os = serializers.CharField(source="vendor_device.os")
    last_seen = serializers.DateTimeField(source="vendor_device.last_seen")
    deleted = serializers.BooleanField(source="vendor_device.deleted")
    keys = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()
    linked_by = serializers.CharField(source="linked_by.username", default=None)

    class Meta:
        model = DeviceLink
        fields = [
            "record",
            "connector",
            "vendor",
            "vendor_id",
            "name",
            "mac",
            "ip",
            "os",
            "last_seen",
            "deleted",
            "keys",
            "rule",
            "reason",
            "conflict",
            "linked_by",
            "linked_at",
        ]

    def get_keys(self, link: DeviceLink) -> dict[str, list[str]]:
        keys = services.keys_of(link.vendor_device)
        return {
            "macs": sorted(keys.macs),
            "serials": sorted(keys.serials),
            "hostname": [keys.hostname] if keys.hostname else [],
        }

    def get_reason(self, link: DeviceLink) -> str:
        if link.key:
            return f"{link.get_rule_display()}: {link.key}={link.value}"
        return link.get_rule_display()


class DeviceSerializer(serializers.ModelSerializer):
    vendors = serializers.SerializerMethodField()
    open_incidents = serializers.IntegerField(default=0)
    vendors_in_trouble = serializers.IntegerField(default=0)

    class Meta:
        model = Device
        fields = [
            "pk",
            "name",
            "last_seen",
            "created",
            "vendors",
            "open_incidents",
            "vendors_in_trouble",
        ]

    def get_vendors(self, device: Device) -> list[str]:
        return sorted({link.vendor_device.connector.vendor for link in device.links.all()})

    def to_representation(self, device):
        data = super().to_representation(device)
        data["open_incidents"] = getattr(device, "open_incidents", None) or 0
        data["vendors_in_trouble"] = getattr(device, "vendors_in_trouble", None) or 0
        return data


class DeviceDetailSerializer(DeviceSerializer):
    records = LinkSerializer(source="links", many=True)

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "records"]


class LinkRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    record = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
