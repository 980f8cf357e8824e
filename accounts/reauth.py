"""Confirm access (GitHub's "sudo mode") for sensitive console actions.

    from accounts.reauth import confirm_access_required

    @login_required
    @confirm_access_required
    def key_new(request, slug): ...

A guarded view runs only when the person logged in, or confirmed their password (and 2FA code),
less than `ACCOUNT_REAUTHENTICATION_TIMEOUT` seconds ago (15 minutes). Otherwise allauth's
`reauthentication_required` takes over: its middleware keeps the request (a POST with its form
data, in the session), sends the person to "Confirm access" (`account/reauthenticate.html`: a
page, or a dialog when the request came from htmx), and after a correct password replays the
request, so the action goes on where it stopped. Both GET (opening the dialog) and POST (doing
it) are guarded: a dialog left open past the timeout asks again on submit.

A fresh login counts as a confirmation (allauth counts only explicit ones): `user_logged_in`
stamps the session, and `recently_logged_in` turns allauth's check off inside the window.
"""

import time
from functools import wraps

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

LOGGED_IN_AT = "accounts.logged_in_at"


@receiver(user_logged_in, dispatch_uid="accounts.reauth.stamp_login")
def _stamp_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[LOGGED_IN_AT] = time.time()


def recently_logged_in(request) -> bool:
    at = request.session.get(LOGGED_IN_AT)
    return isinstance(at, (int, float)) and 0 <= time.time() - at < settings.ACCOUNT_REAUTHENTICATION_TIMEOUT


def confirm_access_required(view):
    """Ask for the password again (Confirm access) unless the last login or confirmation is recent."""
    guarded = reauthentication_required(view, enabled=lambda request: not recently_logged_in(request))
    return wraps(view)(guarded)


def context(request) -> dict:
    """Template context processor: the Confirm access window, for its wording."""
    return {"confirm_access_minutes": settings.ACCOUNT_REAUTHENTICATION_TIMEOUT // 60}
