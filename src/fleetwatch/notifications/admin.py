"""Admin pages for every notifications model. Validation is the models' ``clean()`` (the same
checks as the API); webhook secrets are never shown."""

import json
from typing import cast

from django import forms
from django.contrib import admin

from fleetwatch.notifications.media import all_media, get_medium
from fleetwatch.notifications.media.base import SECRET_MASK
from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)


class TimeRecurrenceInline(admin.TabularInline):
    model = TimeRecurrence
    extra = 0


@admin.register(Timeslot)
class TimeslotAdmin(admin.ModelAdmin):
    list_display = ["name", "user"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]
    inlines = [TimeRecurrenceInline]


@admin.register(Filter)
class FilterAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "public"]
    list_select_related = ["user"]
    list_filter = ["public"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]


class DestinationForm(forms.ModelForm):
    """``settings`` is edited as JSON; secrets are shown masked and kept unless replaced."""

    # A field, not Form.media: the form metaclass moves it into base_fields (the stubs can't
    # tell, as the model's field is named ``media``).
    media = forms.ChoiceField(choices=[])  # type: ignore[assignment]

    class Meta:
        model = Destination
        fields = ["user", "media", "label", "settings", "managed", "phone_number"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        media = cast(forms.ChoiceField, self.fields["media"])
        media.choices = [(m.slug, m.name) for m in all_media()]
        medium = get_medium(self.instance.media) if self.instance.pk else None
        if medium is not None and medium.secret_fields:
            self.initial["settings"] = json.dumps(medium.public_settings(self.instance.settings))

    def clean_settings(self):
        """A secret left masked keeps its stored value."""
        settings = self.cleaned_data["settings"]
        medium = get_medium(self.instance.media) if self.instance.pk else None
        if medium is not None and isinstance(settings, dict):
            stored = Destination.objects.get(pk=self.instance.pk).settings
            for key in medium.secret_fields:
                if settings.get(key) == SECRET_MASK and stored.get(key):
                    settings[key] = stored[key]
        return settings


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    form = DestinationForm
    list_display = ["__str__", "media", "user", "managed"]
    list_select_related = ["user"]
    list_filter = ["media", "managed"]
    search_fields = ["label", "user__username"]
    raw_id_fields = ["user", "phone_number"]


@admin.register(NotificationProfile)
class NotificationProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "timeslot", "active", "delay_minutes"]
    list_select_related = ["user", "timeslot"]
    list_filter = ["active"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user", "timeslot"]
    filter_horizontal = ["filters", "destinations"]


@admin.register(PlannedMaintenance)
class PlannedMaintenanceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "start_time", "end_time", "recurrence", "duration", "created_by"]
    list_select_related = ["created_by"]
    search_fields = ["description"]
    raw_id_fields = ["created_by"]
    filter_horizontal = ["filters"]
    readonly_fields = ["created"]

    def save_model(self, request, obj, form, change) -> None:
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# The delivery log (owner: the delivery layer).
from fleetwatch.notifications import admin_deliveries  # noqa: E402, F401
