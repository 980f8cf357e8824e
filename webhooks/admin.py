"""The admin's view of webhooks: each project's endpoints and what was delivered to them.

Operators see every endpoint and every delivery with its attempts (status code, time, the start of
the receiver's answer), as a project's admins do in its Settings tab. The signing secrets are never
shown (they are revealed once, in the console). Endpoints are added in the console (where the secret
is shown); here an operator disables a misbehaving endpoint, enables it again or deletes it, each
through webhooks/services.py (the same rules as the console, written to the project's event log).
Deliveries are a log: nothing is changed or deleted here.
"""

from django.contrib import admin, messages

from projects.actors import Actor
from projects.admin import NoSecretLookups, ReadOnlyAdmin

from .models import Attempt, Delivery, Endpoint
from .services import endpoint_delete, endpoint_set_enabled

# Shown, and read-only (never the secrets: secret_encrypted, previous_secret_encrypted).
ENDPOINT_FIELDS = (
    "project",
    "url",
    "description",
    "all_events",
    "event_types",
    "enabled",
    "disabled_reason",
    "failing_since",
    "previous_secret_until",
    "created_by",
    "created_at",
)
ATTEMPT_FIELDS = (
    "number",
    "manual",
    "started_at",
    "status_code",
    "duration_ms",
    "succeeded",
    "error",
    "response_excerpt",
)
DELIVERY_FIELDS = ("id", "endpoint", "event_type", "status", "attempts", "next_attempt_at", "created_at", "body")


def _admin(request) -> Actor:
    return Actor.from_request(request, prefix="admin: ")


@admin.register(Endpoint)
class EndpointAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["url", "project", "enabled", "events", "failing_since", "disabled_reason", "created_at"]
    list_filter = ["enabled", "project"]
    search_fields = ["url", "description", "project__name", "project__slug"]
    list_select_related = ["project"]
    # Never the secrets (secret_encrypted, previous_secret_encrypted): not even encrypted.
    fields = readonly_fields = ENDPOINT_FIELDS
    actions = ["disable_selected", "enable_selected"]
    # Disabling only stops deliveries (like revoking a key): never held back by Confirm access.
    actions_without_confirm_access = ("disable_selected",)

    def has_add_permission(self, request):
        return False  # the console adds endpoints: it shows the signing secret once

    @admin.display(description="Events")
    def events(self, obj):
        return "all" if obj.all_events else ", ".join(obj.event_types)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        actor = _admin(request)
        changed = 0
        for endpoint in queryset.select_related("project"):
            if endpoint.enabled != enabled:
                endpoint_set_enabled(endpoint=endpoint, enabled=enabled, actor=actor, reason="Disabled by an operator.")
                changed += 1
        done = "Enabled" if enabled else "Disabled"
        self.message_user(request, f"{done} {changed} endpoint(s).", messages.SUCCESS)

    @admin.action(description="Disable selected endpoints (nothing is sent; Enable undoes it)", permissions=["change"])
    def disable_selected(self, request, queryset):
        self._set_enabled(request, queryset, enabled=False)

    @admin.action(description="Enable selected endpoints", permissions=["change"])
    def enable_selected(self, request, queryset):
        self._set_enabled(request, queryset, enabled=True)

    def delete_model(self, request, obj):
        endpoint_delete(endpoint=obj, actor=_admin(request))

    def delete_queryset(self, request, queryset):
        actor = _admin(request)
        for endpoint in queryset.select_related("project"):
            endpoint_delete(endpoint=endpoint, actor=actor)


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = readonly_fields = ATTEMPT_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Every message sent (or being retried) to an endpoint, with its attempts. Read-only."""

    list_display = ["id", "event_type", "endpoint", "project", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["id", "endpoint__url", "endpoint__project__name"]
    list_select_related = ["endpoint__project"]
    date_hierarchy = "created_at"
    fields = readonly_fields = DELIVERY_FIELDS
    inlines = [AttemptInline]

    @admin.display(description="Project", ordering="endpoint__project__name")
    def project(self, obj):
        return obj.endpoint.project
