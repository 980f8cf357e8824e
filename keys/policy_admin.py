"""The admin's view of key policies and approvals: read-only. A policy is changed by the project's
owner on its Settings tab (`keys.policy.save_policy`: Confirm access, the event log, the API's
records refreshed); approvals on its API Key tab. Imported by keys/admin.py."""

from django.contrib import admin

from projects.admin import ReadOnlyAdmin
from projects.models import KeyPolicy

from .models import KeyApproval


@admin.register(KeyPolicy)
class KeyPolicyAdmin(ReadOnlyAdmin):
    list_display = [
        "project",
        "lifetime_label",
        "require_allowed_ips",
        "allowed_permissions",
        "approval_required",
        "two_factor_required",
        "updated_at",
        "updated_by",
    ]
    list_filter = ["require_allowed_ips", "approval_required", "two_factor_required"]
    search_fields = ["project__name", "project__slug"]

    @admin.display(description="Maximum key lifetime")
    def lifetime_label(self, obj):
        return obj.lifetime_label


@admin.register(KeyApproval)
class KeyApprovalAdmin(ReadOnlyAdmin):
    list_display = ["key", "project", "state", "requested_at", "decided_at", "decided_by"]
    list_filter = ["state"]
    search_fields = ["key__key_id", "key__name", "project__slug", "key__owner__email"]
    list_select_related = ["key", "project", "decided_by"]
