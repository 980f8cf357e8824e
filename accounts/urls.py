"""Account pages: allauth's (log in, sign up, email confirmation, password change and reset,
Confirm access, two-factor authentication) under /accounts/, plus our Account overview.

Each route declares whether it asks to Confirm access (accounts/sensitive.py): ours around the
view, allauth's by URL name in `ALLAUTH_ROUTES`, here where they are included."""

from django.urls import include, path

from . import sso, views
from .sensitive import CHANGES, CONFIRM, CONFIRM_ON_SUBMIT, READS, Rule, classify_included, reads

# allauth's routes, by URL name (an unnamed one by its route under /accounts/). A route allauth
# adds in an upgrade is not here: it asks on submit until classified, and the route sweep
# (tests/accounts/test_route_sweep.py) names it.
ALLAUTH_ROUTES: dict[str, Rule] = {
    "account_login": CHANGES,
    "account_logout": CHANGES,
    "account_inactive": READS,
    "account_signup": CHANGES,
    "account_reauthenticate": CHANGES,  # Confirm access itself
    "account_request_reauthentication_code": CHANGES,
    "account_confirm_reauthentication_code": CHANGES,
    "account_email": CONFIRM_ON_SUBMIT,  # add, remove, make primary, resend: reading the list is free
    "account_email_verification_sent": READS,
    "account_confirm_email": CHANGES,  # the mailed link is the proof
    "account_change_password": CONFIRM,
    "account_set_password": CONFIRM,
    "account_reset_password": CHANGES,
    "account_reset_password_done": READS,
    "account_reset_password_from_key": CHANGES,  # the mailed token is the proof
    "account_reset_password_from_key_done": READS,
    "account_confirm_login_code": CHANGES,
    "openid_connect_login": CHANGES,  # starts a sign-in with the provider (a POST)
    "openid_connect_callback": CHANGES,  # back from the provider: signs in (or confirms access)
    "socialaccount_signup": CHANGES,
    "socialaccount_login_cancelled": READS,
    "socialaccount_login_error": READS,
    "socialaccount_connections": CONFIRM_ON_SUBMIT,  # disconnecting an identity asks
    # allauth's old addresses of the same pages: redirects
    **{f"route:social/{old}/": READS for old in ("login/cancelled", "login/error", "signup", "connections")},
    "mfa_index": READS,
    "mfa_authenticate": CHANGES,  # the second step of logging in
    "mfa_reauthenticate": CHANGES,  # Confirm access with a 2FA code
    "mfa_activate_totp": CONFIRM,
    "mfa_deactivate_totp": CONFIRM,
    "mfa_view_recovery_codes": CONFIRM,  # shows the codes: allauth asks as well
    "mfa_generate_recovery_codes": CONFIRM,
    "mfa_download_recovery_codes": CONFIRM,
}

urlpatterns = [
    path("", reads(views.account), name="account"),
    # Confirm access through single sign-on (accounts/sso.py)
    path("sso/reauthenticate/", reads(sso.reauthenticate), name="account_sso_reauthenticate"),
    path("", classify_included(include("allauth.urls"), ALLAUTH_ROUTES)),
]
