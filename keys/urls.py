"""The key pages: a project's API Key tab (`/projects/<slug>/keys/…`, namespace `project_keys`) and
the person's Personal API keys and Security log (`/account/…`, namespace `account_keys`). The same
views serve both, against a KeyHolder (keys/views/key_holders.py)."""

from django.urls import path

from .views import keys, security_log, usage

project_patterns = (
    [
        path("", keys.api_keys, name="api_keys"),
        path("new/", keys.key_new, name="key_new"),
        path("revoke-selected/", keys.keys_revoke_selected, name="keys_revoke_selected"),
        path("<str:key_id>/", keys.key_detail, name="key_detail"),
        path("<str:key_id>/edit/", keys.key_edit, name="key_edit"),
        path("<str:key_id>/rotate/", keys.key_rotate, name="key_rotate"),
        path("<str:key_id>/revoke/", keys.key_revoke, name="key_revoke"),
        path("<str:key_id>/delete/", keys.key_delete, name="key_delete"),
        path("<str:key_id>/disable/", keys.key_disable, name="key_disable"),
        path("<str:key_id>/enable/", keys.key_enable, name="key_enable"),
    ],
    "project_keys",
)

account_patterns = (
    [
        path("api-keys/", keys.api_keys, name="api_keys"),
        path("api-keys/new/", keys.key_new, name="key_new"),
        path("api-keys/revoke-selected/", keys.keys_revoke_selected, name="keys_revoke_selected"),
        path("api-keys/<str:key_id>/", keys.key_detail, name="key_detail"),
        path("api-keys/<str:key_id>/rotate/", keys.key_rotate, name="key_rotate"),
        path("api-keys/<str:key_id>/revoke/", keys.key_revoke, name="key_revoke"),
        path("api-keys/<str:key_id>/delete/", keys.key_delete, name="key_delete"),
        path("api-keys/<str:key_id>/edit/", keys.key_edit, name="key_edit"),
        path("api-keys/<str:key_id>/disable/", keys.key_disable, name="key_disable"),
        path("api-keys/<str:key_id>/enable/", keys.key_enable, name="key_enable"),
        path("security-log/", security_log.security_log, name="security_log"),
    ],
    "account_keys",
)

# A project's Usage tab (`/projects/<slug>/usage/`): every key that reached the project.
usage_patterns = (
    [
        path("", usage.usage, name="usage"),
        path("export.csv", usage.usage_csv, name="usage_csv"),
    ],
    "project_usage",
)
