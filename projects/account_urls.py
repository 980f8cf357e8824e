"""Account → API keys and Security log (`/account/…`)."""

from django.urls import path

from .views import account_keys

app_name = "account"

urlpatterns = [
    path("api-keys/", account_keys.api_keys, name="api_keys"),
    path("api-keys/new/", account_keys.key_new, name="key_new"),
    path("api-keys/<str:key_id>/", account_keys.key_detail, name="key_detail"),
    path("api-keys/<str:key_id>/rotate/", account_keys.key_rotate, name="key_rotate"),
    path("api-keys/<str:key_id>/revoke/", account_keys.key_revoke, name="key_revoke"),
    path("api-keys/<str:key_id>/delete/", account_keys.key_delete, name="key_delete"),
    path("api-keys/<str:key_id>/edit/", account_keys.key_edit, name="key_edit"),
    path("security-log/", account_keys.security_log, name="security_log"),
]
