"""A project's Settings tab (`/projects/<slug>/settings/…`, namespace `project_settings`): the Key
policy (and whatever other sections exist, e.g. Webhooks), and the approval of personal keys.
Each route declares whether it asks to Confirm access (accounts/sensitive.py)."""

from django.urls import path

from accounts.sensitive import changes, confirm, confirm_on_submit

from .views import policy

settings_patterns = (
    [
        # reading the policy is free; saving it asks
        path("", confirm_on_submit(policy.settings_page), name="settings"),
        path("out-of-policy/revoke/", confirm(policy.revoke_out_of_policy_keys), name="revoke_out_of_policy"),
        path("out-of-policy/shorten/", confirm(policy.shorten_expiry_view), name="shorten_expiry"),
        # a member's own key, capped by their role
        path("approvals/<str:key_id>/approve/", changes(policy.approve), name="approve"),
        path("approvals/<str:key_id>/deny/", changes(policy.deny), name="deny"),
    ],
    "project_settings",
)
