"""A project's Settings tab (`/projects/<slug>/settings/…`, namespace `project_settings`): the Key
policy (and whatever other sections exist, e.g. Webhooks), and the approval of personal keys."""

from django.urls import path

from .views import policy

settings_patterns = (
    [
        path("", policy.settings_page, name="settings"),
        path("out-of-policy/revoke/", policy.revoke_out_of_policy_keys, name="revoke_out_of_policy"),
        path("out-of-policy/shorten/", policy.shorten_expiry_view, name="shorten_expiry"),
        path("approvals/<str:key_id>/approve/", policy.approve, name="approve"),
        path("approvals/<str:key_id>/deny/", policy.deny, name="deny"),
    ],
    "project_settings",
)
