"""The delivery log in the admin: read-only (the workers write it), with a "send again"
action for failed or dropped deliveries."""

from django.contrib import admin
from django.utils import timezone

from fleetwatch.notifications.models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "created", "media", "destination", "status", "attempts", "sent_at"]
    list_filter = ["status", "media"]
    search_fields = ["last_error", "provider_message_id", "destination__user__username"]
    date_hierarchy = "created"
    list_select_related = ["destination"]
    raw_id_fields = ["event", "destination", "profile"]
    readonly_fields = [
        "event",
        "destination",
        "profile",
        "media",
        "status",
        "attempts",
        "next_attempt_at",
        "drop_if_resolved",
        "last_error",
        "provider_message_id",
        "message",
        "created",
        "sent_at",
    ]
    actions = ["send_again"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Send again (failed or dropped deliveries)")
    def send_again(self, request, queryset) -> None:
        count = queryset.filter(
            status__in=[Delivery.Status.FAILED, Delivery.Status.DROPPED]
        ).update(
            status=Delivery.Status.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            drop_if_resolved=False,
        )
        self.message_user(request, f"{count} deliveries will be sent again.")
