"""Admin for users, phone numbers and login tokens (DRF tokens: ``rest_framework.authtoken``)."""

from typing import override

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.urls import URLPattern, path
from django.views.generic import RedirectView
from rest_framework.authtoken.models import Token

from fleetwatch.accounts.models import ExternalIdentity, LoginToken, PhoneNumber, User


class PhoneNumberInline(admin.TabularInline):
    model = PhoneNumber
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, plus phone numbers and whether the user is a source system."""

    inlines = [PhoneNumberInline]
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_source_system")
    list_select_related = ["source_system"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),  # the stubs allow None; Django's is a tuple
        ("Notifications", {"fields": ["time_zone"]}),
    )

    @admin.display(boolean=True, description="source system")
    def is_source_system(self, user: User) -> bool:
        return user.is_source_system


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = ["phone_number", "user"]
    list_select_related = ["user"]
    search_fields = ["phone_number", "user__username"]
    raw_id_fields = ["user"]


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    """Single sign-on links (README, "Single sign-on"): add one to let an identity at the
    provider log in as an existing user (a superuser too); delete it to unlink."""

    list_display = ["subject", "issuer", "user", "created", "last_login"]
    list_select_related = ["user"]
    search_fields = ["subject", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["created", "last_login"]


@admin.register(LoginToken)
class LoginTokenAdmin(admin.ModelAdmin):
    """Login tokens can be looked at and revoked (deleted) here, never made or edited: a key
    exists only in the login response. The digest is not shown; the prefix identifies a token."""

    list_display = ["prefix", "user", "created", "expiry", "minted_with"]
    list_select_related = ["user", "parent"]
    list_filter = ["expiry"]
    search_fields = ["user__username", "prefix"]
    fields = ("prefix", "user", "created", "expiry", "minted_with")
    readonly_fields = ("prefix", "user", "created", "expiry", "minted_with")

    @admin.display(description="minted with")
    def minted_with(self, token: LoginToken) -> str:
        """What revokes this token besides itself (README, "Tokens")."""
        if token.drf_token_id is not None:
            return "the user's DRF token"
        if token.parent is not None:
            return f"login token {token.parent}"
        return "a password or session"

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @override
    def has_change_permission(self, request: HttpRequest, obj: LoginToken | None = None) -> bool:
        return False


@admin.register(Token)
class ArgusTokenPathAdmin(admin.ModelAdmin):
    """Keeps ``/admin/authtoken/token/`` (where Argus's docs send operators for tokens) working.

    DRF now serves its token admin for a proxy model at ``/admin/authtoken/tokenproxy/``, so
    that admin URLs and the admin log carry the user's id, never the key; registering the
    concrete model's own admin would undo that. This one only redirects, and is not listed.
    """

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}

    def get_urls(self) -> list[URLPattern]:
        redirect = RedirectView.as_view(
            pattern_name="admin:authtoken_tokenproxy_changelist", query_string=True
        )
        return [
            path("", self.admin_site.admin_view(redirect), name="authtoken_token_changelist"),
        ]
