"""The key pages: a project's API Key tab (`/projects/<slug>/keys/…`, namespace `project_keys`) and
the person's Personal API keys and Security log (`/account/…`, namespace `account_keys`). The same
views serve both, against a KeyHolder (keys/views/key_holders.py).

Each route declares whether it asks to Confirm access (accounts/sensitive.py): `reads`, `changes`
(never asks), `confirm` (asks before the form opens too)."""

from django.urls import path

from accounts.sensitive import changes, confirm, reads

from .views import keys, security_log, usage

project_patterns = (
    [
        path("", reads(keys.api_keys), name="api_keys"),
        path("new/", confirm(keys.key_new), name="key_new"),
        # revoking, several at once: never held back, like revoking one
        path("revoke-selected/", changes(keys.keys_revoke_selected), name="keys_revoke_selected"),
        path("<str:key_id>/", reads(keys.key_detail), name="key_detail"),
        # permissions, rate limit, IP addresses, expiry, scope
        path("<str:key_id>/edit/", confirm(keys.key_edit), name="key_edit"),
        path("<str:key_id>/rotate/", confirm(keys.key_rotate), name="key_rotate"),
        # incident response: never held back
        path("<str:key_id>/revoke/", changes(keys.key_revoke), name="key_revoke"),
        # only a dead key can be deleted: nothing left to misuse
        path("<str:key_id>/delete/", changes(keys.key_delete), name="key_delete"),
        # only stops a key, like revoking
        path("<str:key_id>/disable/", changes(keys.key_disable), name="key_disable"),
        # makes a stopped key work again, like generating one
        path("<str:key_id>/enable/", confirm(keys.key_enable), name="key_enable"),
    ],
    "project_keys",
)

# The same pages for a person's own keys: the same rule for each (the reasons above).
account_patterns = (
    [
        path("api-keys/", reads(keys.api_keys), name="api_keys"),
        path("api-keys/new/", confirm(keys.key_new), name="key_new"),
        path("api-keys/revoke-selected/", changes(keys.keys_revoke_selected), name="keys_revoke_selected"),
        path("api-keys/<str:key_id>/", reads(keys.key_detail), name="key_detail"),
        path("api-keys/<str:key_id>/rotate/", confirm(keys.key_rotate), name="key_rotate"),
        path("api-keys/<str:key_id>/revoke/", changes(keys.key_revoke), name="key_revoke"),
        path("api-keys/<str:key_id>/delete/", changes(keys.key_delete), name="key_delete"),
        path("api-keys/<str:key_id>/edit/", confirm(keys.key_edit), name="key_edit"),
        path("api-keys/<str:key_id>/disable/", changes(keys.key_disable), name="key_disable"),
        path("api-keys/<str:key_id>/enable/", confirm(keys.key_enable), name="key_enable"),
        path("security-log/", reads(security_log.security_log), name="security_log"),
    ],
    "account_keys",
)

# A project's Usage tab (`/projects/<slug>/usage/`, #31): every key that reached the project.
usage_patterns = (
    [
        path("", reads(usage.usage), name="usage"),
        path("export.csv", reads(usage.usage_csv), name="usage_csv"),
    ],
    "project_usage",
)
