from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from .models import User

# What only a superuser may see or change: what would let its holder grant itself more.
SUPERUSER_ONLY_FIELDS = ("is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Staff holding `change_user` manage people (names, addresses, active, staff), but they
    cannot grant what they do not hold: superuser status, groups and permissions are shown and
    changed by superusers only, another person's password is set by superusers only, and a
    superuser's account is changed or deleted by superusers only (changing its address, then
    resetting its password, would be the same takeover)."""

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

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        hidden = set(SUPERUSER_ONLY_FIELDS)
        if obj is not None and obj.pk != request.user.pk:
            hidden.add("password")  # and its link to the password form: someone else's
        return tuple(
            (name, {**options, "fields": tuple(f for f in options["fields"] if f not in hidden)})
            for name, options in fieldsets
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [f for f in SUPERUSER_ONLY_FIELDS if f not in readonly]
        return readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser and str(request.user.pk) != unquote(id):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


# Groups are bundles of permissions: whoever may change one may grant what it holds, to
# themselves among others. Superusers' business, like the permissions and groups of a person.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    """Staff with a group's view permission may look; only superusers add, change or delete one."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


# allauth's own admin pages, made safe: an authenticator's `data` holds the TOTP secret and the
# recovery-code seed; email confirmations are HMAC links here (no stored keys to show).
from allauth.account.models import EmailConfirmation  # noqa: E402
from allauth.mfa.models import Authenticator  # noqa: E402

admin.site.unregister(Authenticator)
if admin.site.is_registered(EmailConfirmation):
    admin.site.unregister(EmailConfirmation)

# Single sign-on (accounts/sso.py): the provider is configured from the environment, never in the
# database (no SocialApp page: it would show a client secret), and its tokens are not kept (no
# SocialToken page). Who is linked to which provider identity (SocialAccount) stays visible.
from allauth.socialaccount.models import SocialApp, SocialToken  # noqa: E402

for _model in (SocialApp, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


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

    def has_delete_permission(self, request, obj=None):
        # Taking a superuser's second factor away is a superuser's decision too.
        if obj is not None and obj.user.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def lookup_allowed(self, lookup, value, request=None):
        return "data" not in lookup.split("__") and super().lookup_allowed(lookup, value, request)
