"""Account pages: allauth's (log in, sign up, email confirmation, password change and reset,
Confirm access, two-factor authentication) under /accounts/, plus our Account overview."""

from allauth.account.views import password_change
from django.urls import include, path

from . import views
from .reauth import confirm_access_required

urlpatterns = [
    path("", views.account, name="account"),
    # The password is managed like keys: Confirm access first when the login is stale (allauth
    # guards its email and 2FA pages itself: settings.ACCOUNT_REAUTHENTICATION_REQUIRED).
    path("password/change/", confirm_access_required(password_change), name="account_change_password"),
    path("", include("allauth.urls")),
]
