"""The admin's view of keys. Every write goes through keys/services.py (validated by the same
functions as the console, the CLI and the API, and logged); the hash is never shown, and keys are
made in the console or the CLI (where the plaintext can be revealed once), so there is no "add"."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from keys_console.errors import Refused
from projects.actors import Actor
from projects.admin import NoSecretLookups

from .errors import KeyRuleError
from .forms import KeyFormMixin
from .models import ApiKey, KeyUsageDay
from .models.api_key import Kind, Status
from .services import (
    api_key_delete,
    api_key_disable,
    api_key_enable,
    api_key_revoke,
    api_key_update,
    clean_key_update,
    require_changeable,
)


def _admin(request) -> Actor:
    return Actor.from_request(request, prefix="admin: ")


class ApiKeyAdminForm(KeyFormMixin, forms.ModelForm):
    """What an operator may change on a key, judged by the services' own rules."""

    class Meta:
        model = ApiKey
        fields = ["rate_limit_per_minute"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None or self.errors:
            return cleaned
        try:
            require_changeable(self.instance)
            clean_key_update(
                name=self.instance.name,
                permissions=self.instance.permissions,
                rate_limit_per_minute=cleaned.get("rate_limit_per_minute"),
            )
        except Refused as exc:
            self.add_rule_errors(exc)
        return cleaned


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Status.choices

    def queryset(self, request, queryset):
        if self.value() in Status.values:
            return queryset.with_status(self.value())
        return queryset


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return Kind.choices

    def queryset(self, request, queryset):
        if self.value() == Kind.ACCOUNT:
            return queryset.filter(owner__isnull=False)
        if self.value() == Kind.PROJECT:
            return queryset.filter(project__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(NoSecretLookups, admin.ModelAdmin):
    form = ApiKeyAdminForm
    """Oversight of keys. The hash is never shown; keys are generated in the console or the CLI,
    where the plaintext can be revealed once, so there is no "add" here."""

    list_display = [
        "name",
        "key_id",
        "masked",
        "kind_label",
        "project",
        "owner",
        "scope",
        "permission_list",
        "status_badge",
        "created_at",
        "last_used_at",
        "expires_at",
        "rate_limit_per_minute",
    ]
    list_filter = [StatusFilter, KindFilter, "is_test", "project"]
    search_fields = ["name", "key_id", "project__name", "project__slug", "owner__email"]
    list_select_related = ["project", "owner"]
    fields = [
        "project",
        "owner",
        "all_projects",
        "scope",
        "name",
        "key_id",
        "masked",
        "is_test",
        "permissions",
        "expiry_rule",
        "created_by",
        "created_at",
        "expires_at",
        "state",
        "stops_at",
        "revoked_at",
        "revoked_by",
        "disabled_at",
        "disabled_by",
        "rotated_from",
        "last_used_at",
        "last_used_ip",
        "allowed_ips",
        "reminded_7d_at",
        "reminded_1d_at",
        "reminded_unused_at",
        "rate_limit_per_minute",
    ]
    # Operators tune a key's rate limit here; everything else is shown read-only.
    readonly_fields = [f for f in fields if isinstance(f, str) and f not in ApiKeyAdminForm.Meta.fields]
    actions = ["revoke_selected", "disable_selected", "enable_selected"]
    # Never ask to Confirm access (accounts/sensitive.py): revoking (and pausing) stays one click and
    # its confirmation page away, for incident response; Enable and every other change ask.
    actions_without_confirm_access = ("revoke_selected", "disable_selected")

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("scope_projects")

    @admin.display(description="Kind")
    def kind_label(self, obj):
        return Kind(obj.kind).label

    @admin.display(description="Scope")
    def scope(self, obj):
        if not obj.is_account_key:
            return "—"
        if obj.all_projects:
            return "All their projects"
        return ", ".join(p.slug for p in obj.scope_projects.all()) or "—"

    @admin.display(description="Key")
    def masked(self, obj):
        return obj.masked

    @admin.display(description="Permissions")
    def permission_list(self, obj):
        return ", ".join(obj.sorted_permissions)

    @admin.display(description="Status")
    def status_badge(self, obj):
        if obj.is_disabled and obj.authenticates:
            return f"{obj.status_label}, disabled"
        return obj.status_label

    def _pause(self, request, queryset, service, done: str):
        """Disable or enable the chosen keys through the service (logged, caches invalidated);
        both are undone as easily, so no confirmation page."""
        actor = _admin(request)
        changed = skipped = 0
        for key in queryset.select_related("project", "owner"):
            try:
                service(key=key, actor=actor)
                changed += 1
            except KeyRuleError:
                skipped += 1
        self.message_user(
            request,
            f"{done} {changed} key(s)." + (f" {skipped} skipped (revoked, expired or already so)." if skipped else ""),
            messages.SUCCESS,
        )

    @admin.action(description="Disable selected API keys (pause; Enable undoes it)", permissions=["change"])
    def disable_selected(self, request, queryset):
        self._pause(request, queryset, api_key_disable, "Disabled")

    @admin.action(description="Enable selected API keys", permissions=["change"])
    def enable_selected(self, request, queryset):
        self._pause(request, queryset, api_key_enable, "Enabled")

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        """Like "Delete selected": a page listing the keys first; revoking happens on its POST,
        through the same service as the console (event logged, caches invalidated)."""
        keys = list(queryset.select_related("project", "owner").order_by("project__name", "owner__email", "name"))
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Revoke API keys?",
                "opts": self.model._meta,
                "keys": keys,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            return TemplateResponse(request, "admin/keys/apikey/revoke_selected_confirmation.html", context)
        actor = _admin(request)
        revoked = skipped = 0
        for key in keys:
            try:
                api_key_revoke(key=key, actor=actor)
                revoked += 1
            except KeyRuleError:
                skipped += 1
        self.message_user(
            request,
            f"Revoked {revoked} key(s)." + (f" {skipped} were already revoked." if skipped else ""),
            messages.SUCCESS,
        )
        return None

    def save_model(self, request, obj, form, change):
        # Through the service: the same rules as the console's Edit dialog, and the same event.
        stored = ApiKey.objects.get(pk=obj.pk)
        updated = api_key_update(
            key=stored,
            actor=_admin(request),
            name=stored.name,
            permissions=stored.permissions,
            rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
        )
        obj.rate_limit_per_minute = updated.rate_limit_per_minute

    def delete_model(self, request, obj):
        api_key_delete(key=obj, actor=_admin(request))

    def delete_queryset(self, request, queryset):
        actor = _admin(request)
        for key in queryset.select_related("project"):
            api_key_delete(key=key, actor=actor)


@admin.register(KeyUsageDay)
class KeyUsageDayAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["day", "api_key", "success", "client_error", "server_error"]
    list_filter = ["day"]
    search_fields = ["api_key__key_id", "api_key__name"]
    list_select_related = ["api_key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


from . import policy_admin  # noqa: E402, F401  # key policies and approvals, read-only (#29)
