import json

from django import forms
from django.contrib import admin

from fleetwatch.connectors.models import Connector, ConnectorState, VendorDevice
from fleetwatch.connectors.options import OptionsError, clean_options
from fleetwatch.connectors.services import (
    connector_health,
    delete_connector,
    validate_base_url,
    validate_credentials,
)


class ConnectorForm(forms.ModelForm):
    """Credentials can be replaced here but are never shown (the field starts empty)."""

    new_credentials = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='JSON, e.g. {"client_id": "...", "client_secret": "..."}. '
        "Leave empty to keep the stored credentials.",
    )

    class Meta:
        model = Connector
        fields = ["name", "vendor", "base_url", "poll_interval", "enabled", "options"]

    def clean_base_url(self):
        try:
            return validate_base_url(self.cleaned_data["base_url"])
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["base_url"]) from None

    def clean(self):
        data = super().clean()
        # On the change form the vendor is read-only, so it is not among the form's fields.
        vendor = data.get("vendor") if "vendor" in self.fields else self.instance.vendor
        if "options" in data:
            try:
                data["options"] = clean_options(vendor, data["options"])
            except OptionsError as exc:
                self.add_error("options", exc.messages)
        raw = data.get("new_credentials")
        if raw:
            try:
                credentials = json.loads(raw)
            except ValueError:
                self.add_error("new_credentials", "Not valid JSON.")
            else:
                if vendor:  # no vendor: its own field already says what is wrong
                    try:
                        data["credentials"] = validate_credentials(vendor, credentials)
                    except forms.ValidationError as exc:
                        self.add_error(
                            "new_credentials", [m for ms in exc.message_dict.values() for m in ms]
                        )
        elif self.instance.pk is None:
            self.add_error("new_credentials", "New connectors need credentials.")
        return data

    def save(self, commit=True):
        if "credentials" in self.cleaned_data:
            self.instance.credentials = self.cleaned_data["credentials"]
        return super().save(commit)


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorForm
    list_display = ["name", "vendor", "enabled", "poll_interval", "last_success", "failures"]
    list_filter = ["vendor", "enabled"]
    readonly_fields = ["source", "health"]

    def get_readonly_fields(self, request, obj=None):
        # The source is made with the connector; name and vendor are fixed after that.
        return [*self.readonly_fields, "name", "vendor"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            from fleetwatch.connectors.services import create_connector

            created = create_connector(
                name=obj.name,
                vendor=obj.vendor,
                base_url=obj.base_url,
                credentials=form.cleaned_data["credentials"],
                poll_interval=obj.poll_interval,
                enabled=obj.enabled,
                options=obj.options,
            )
            obj.pk, obj.source = created.pk, created.source
            return
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        delete_connector(obj)  # keeps the source and its incidents, ends the health incident

    def delete_queryset(self, request, queryset):
        for connector in queryset.select_related("source"):
            delete_connector(connector)

    @admin.display(description="health")
    def health(self, obj):
        return json.dumps(connector_health(obj), indent=2, default=str) if obj.pk else "-"

    @admin.display(description="last success")
    def last_success(self, obj):
        return getattr(getattr(obj, "state", None), "last_success_at", None)

    @admin.display(description="failures")
    def failures(self, obj):
        return getattr(getattr(obj, "state", None), "consecutive_failures", 0)


@admin.register(ConnectorState)
class ConnectorStateAdmin(admin.ModelAdmin):
    list_display = ["connector", "last_success_at", "consecutive_failures", "next_run_at"]
    exclude = ["auth_cache_encrypted"]

    def has_add_permission(self, request):
        return False


@admin.register(VendorDevice)
class VendorDeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "connector", "vendor_id", "mac", "ip", "os", "last_seen", "deleted"]
    list_filter = ["connector", "deleted"]
    search_fields = ["name", "vendor_id", "mac", "ip"]
