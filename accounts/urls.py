"""Account pages: allauth's (log in, sign up, email confirmation, password change and reset,
Confirm access, two-factor authentication) under /accounts/, plus our Account overview."""

from django.urls import include, path

from . import sso, views

# Which of these ask to Confirm access (password, email, 2FA): accounts/sensitive.py.
urlpatterns = [
    path("", views.account, name="account"),
    path("sso/reauthenticate/", sso.reauthenticate, name="account_sso_reauthenticate"),
    path("", include("allauth.urls")),
]
