from django.contrib import admin

from fleetwatch.incidents.models import (
    Acknowledgement,
    Event,
    Incident,
    IncidentTagRelation,
    SourceSystem,
    SourceSystemType,
    Tag,
)
from fleetwatch.incidents.signals import record_events


@admin.register(SourceSystemType)
class SourceSystemTypeAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(SourceSystem)
class SourceSystemAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "user", "base_url", "last_seen", "heartbeat_frequency"]
    list_filter = ["type"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]


class TagInline(admin.TabularInline):
    model = IncidentTagRelation
    extra = 0
    raw_id_fields = ["tag", "added_by"]


class EventInline(admin.TabularInline):
    model = Event
    extra = 0
    fields = ["type", "timestamp", "received", "actor", "description"]
    readonly_fields = fields
    can_delete = False
    ordering = ["timestamp", "id"]

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ARG002  (admin hook)
        return False  # events are added through the event admin (which announces them)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["id", "start_time", "end_time", "source", "level", "description"]
    list_filter = ["level", "source__type", "source"]
    search_fields = ["description", "source_incident_id"]
    date_hierarchy = "start_time"
    list_select_related = ["source"]
    raw_id_fields = ["source"]
    inlines = [TagInline, EventInline]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["key", "value"]
    search_fields = ["key", "value"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "incident", "type", "timestamp", "actor"]
    list_filter = ["type"]
    raw_id_fields = ["incident", "actor"]

    def save_model(self, request, obj, form, change) -> None:
        """A new event is announced like every other (notifications), inside the admin's
        transaction."""
        super().save_model(request, obj, form, change)
        if not change:
            record_events([obj])


@admin.register(Acknowledgement)
class AcknowledgementAdmin(admin.ModelAdmin):
    list_display = ["event", "expiration"]
    raw_id_fields = ["event"]
