from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]


# allauth's own admin pages, made safe: an authenticator's `data` holds the TOTP secret and the
# recovery-code seed; email confirmations are HMAC links here (no stored keys to show).
from allauth.account.models import EmailConfirmation  # noqa: E402
from allauth.mfa.models import Authenticator  # noqa: E402

admin.site.unregister(Authenticator)
if admin.site.is_registered(EmailConfirmation):
    admin.site.unregister(EmailConfirmation)


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin):
    """Who has two-factor authentication; an authenticator can be deleted (lost phone), not read."""

    list_display = ["user", "type", "created_at", "last_used_at"]
    list_filter = ["type"]
    search_fields = ["user__email"]
    fields = ["user", "type", "created_at", "last_used_at"]
    readonly_fields = fields  # type: ignore[assignment]  # mypy widens `fields` to its base-class type

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def lookup_allowed(self, lookup, value, request=None):
        return "data" not in lookup.split("__") and super().lookup_allowed(lookup, value, request)
