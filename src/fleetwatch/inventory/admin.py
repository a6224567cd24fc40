"""Admin pages for the inventory. Manual decisions go through the services (so they are
recorded as manual and survive polls), never by editing rows."""

from django.contrib import admin, messages

from fleetwatch.inventory import services
from fleetwatch.inventory.models import Device, DeviceLink, IncidentDevice


class LinkInline(admin.TabularInline):
    model = DeviceLink
    fields = ["vendor_device", "rule", "key", "value", "conflict", "linked_by", "linked_at"]
    readonly_fields = [
        "vendor_device",
        "rule",
        "key",
        "value",
        "conflict",
        "linked_by",
        "linked_at",
    ]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ARG002  (Django signature)
        return False


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["pk", "name", "last_seen", "created"]
    search_fields = ["name", "links__vendor_device__mac", "links__vendor_device__name"]
    readonly_fields = ["name", "last_seen", "created", "updated"]
    inlines = [LinkInline]
    list_filter = ["links__vendor_device__connector__vendor", "links__rule"]


@admin.register(DeviceLink)
class DeviceLinkAdmin(admin.ModelAdmin):
    """Change a link's device here to link by hand (recorded as manual; wins over the rules)."""

    list_display = ["vendor_device", "device", "rule", "key", "value", "linked_by", "linked_at"]
    list_filter = ["rule", "vendor_device__connector__vendor"]
    search_fields = ["vendor_device__name", "vendor_device__mac", "value"]
    raw_id_fields = ["device"]
    fields = ["vendor_device", "device", "rule", "key", "value", "conflict", "linked_by"]
    readonly_fields = ["vendor_device", "rule", "key", "value", "conflict", "linked_by"]
    actions = ["unlink_by_hand", "release_to_rules"]

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:  # noqa: ARG002
        if "device" in form.changed_data:
            services.link(obj.vendor_device, obj.device, request.user)

    @admin.action(description="Unlink by hand (each becomes a device of its own)")
    def unlink_by_hand(self, request, queryset) -> None:
        for link in queryset.select_related("vendor_device"):
            services.unlink(link.vendor_device, request.user)
        messages.success(request, f"{queryset.count()} records unlinked.")

    @admin.action(description="Drop the manual decision (the rules place them again)")
    def release_to_rules(self, request, queryset) -> None:
        for link in queryset.select_related("vendor_device"):
            services.release(link.vendor_device)
        messages.success(request, "Released to the automatic rules.")


@admin.register(IncidentDevice)
class IncidentDeviceAdmin(admin.ModelAdmin):
    list_display = ["incident", "device", "reason"]
    raw_id_fields = ["incident", "device", "vendor_device"]
    search_fields = ["reason"]
