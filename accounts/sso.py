"""Single sign-on through the team's OpenID Connect provider (django-allauth's `openid_connect`
provider; settings: OIDC_ISSUER_URL, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_NAME,
OIDC_ALLOW_SIGNUP, SSO_REQUIRED_DOMAINS).

- allauth does the protocol: discovery from the issuer, the authorization code flow with PKCE, the
  ID token's signature, issuer and audience. Here, only what this console decides:
- the provider must say the address is verified (`email_verified`), or nobody is signed in;
- a verified address that matches an account signs into it (allauth's email authentication); a new
  one creates an account without a password, unless OIDC_ALLOW_SIGNUP=0. A new account gets its
  Sandbox as one confirmed by mail does (allauth's `email_confirmed`, which projects/ listens to);
- an address of SSO_REQUIRED_DOMAINS signs in through the provider only: password login, password
  reset and password sign-up refuse it with `refusal()`, which points to the button;
- Confirm access for an account without a password goes through the provider again
  (`reauthenticate`: the same person must come back from the provider, asked to log in again with
  `prompt=login`); then the suspended request goes on, as after a password.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from .reauth import LOGGED_IN_AT

logger = logging.getLogger("accounts")

PROVIDER = "openid_connect"
PROVIDER_ID = "sso"  # settings.SOCIALACCOUNT_PROVIDERS: /accounts/oidc/sso/login/
REAUTH_SESSION_KEY = "accounts.sso_reauthenticate"  # the user's id while Confirm access is at the provider


def configured() -> bool:
    apps = settings.SOCIALACCOUNT_PROVIDERS.get(PROVIDER, {}).get("APPS", [])
    return any(app.get("provider_id") == PROVIDER_ID for app in apps)


def name() -> str:
    return settings.OIDC_NAME


def button_label() -> str:
    return f"Sign in with {name()}"


def login_url() -> str:
    return reverse("openid_connect_login", kwargs={"provider_id": PROVIDER_ID})


def required_for(email: str) -> bool:
    """Does `email` sign in through the provider only (SSO_REQUIRED_DOMAINS)?"""
    domain = email.rpartition("@")[2].strip().lower()
    return bool(domain) and configured() and domain in settings.SSO_REQUIRED_DOMAINS


def refusal(email: str) -> str:
    domain = email.rpartition("@")[2].strip().lower()
    return f"Addresses at {domain} sign in with {name()} only: use the “{button_label()}” button."


def has_sso_account(user) -> bool:
    return configured() and SocialAccount.objects.filter(user=user, provider=PROVIDER_ID).exists()


def context(request) -> dict:
    """Template context processor: the button, where it is configured."""
    if not configured():
        return {"sso": None}
    return {"sso": {"label": button_label(), "url": login_url()}}


# --- the adapter (settings.SOCIALACCOUNT_ADAPTER) --------------------------------------------


def _refuse(request: HttpRequest, message: str, status: int = 403):
    response = render(request, "account/sso_refused.html", {"message": message}, status=status)
    raise ImmediateHttpResponse(response)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return bool(settings.OIDC_ALLOW_SIGNUP)

    def pre_social_login(self, request, sociallogin) -> None:
        verified = [address for address in sociallogin.email_addresses if address.verified]
        if not verified:
            logger.warning("Single sign-on refused: the provider did not say the email address is verified")
            _refuse(
                request,
                f"{name()} did not say that your email address is verified, so you cannot sign in with it. "
                "Verify your address with your organisation first.",
            )
        pending = request.session.get(REAUTH_SESSION_KEY)
        if pending is not None:
            _confirm_access(request, sociallogin, pending)

    def save_user(self, request, sociallogin, form=None):
        """A new account from the provider: no password, its verified address confirmed — and,
        like an address confirmed by mail, that tells projects/ to make its Sandbox."""
        user = super().save_user(request, sociallogin, form)
        address = EmailAddress.objects.filter(user=user, verified=True).order_by("-primary").first()
        if address is not None:
            email_confirmed.send(sender=EmailAddress, request=request, email_address=address)
        return user


# --- Confirm access through the provider -----------------------------------------------------


@login_required
@require_GET
def reauthenticate(request):
    """The Confirm access page of an account without a password: a button that signs in with the
    provider again (the provider is asked to ask for the login again: `prompt=login`)."""
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = reverse("account")
    request.session[REAUTH_SESSION_KEY] = request.user.pk
    action = login_url() + "?" + urlencode({"auth_params": "prompt=login&max_age=0"})
    template = "account/sso_reauthenticate.html"
    return render(request, template, {"next": next_url, "action": action, "label": button_label()})


def _confirm_access(request, sociallogin, pending) -> None:
    """Back from the provider while Confirm access was asked: the same person counts as a
    confirmation, and the suspended request goes on; anyone else is refused (and nobody is
    signed in or out)."""
    del request.session[REAUTH_SESSION_KEY]
    user = request.user
    if not user.is_authenticated or user.pk != pending or sociallogin.user is None or sociallogin.user.pk != user.pk:
        logger.warning("Confirm access through single sign-on refused: another identity came back")
        _refuse(
            request,
            f"{name()} signed in someone other than {getattr(user, 'email', 'you')}. Confirm access was not given.",
        )
    if (
        not sociallogin.is_existing
        or not SocialAccount.objects.filter(user=user, provider=PROVIDER_ID, uid=sociallogin.account.uid).exists()
    ):
        _refuse(request, f"This {name()} identity is not the one linked to your account.")
    request.session[LOGGED_IN_AT] = time.time()  # accounts.reauth: a confirmation, like a fresh login
    raise ImmediateHttpResponse(_resume(request, sociallogin))


def _resume(request, sociallogin):
    """The request Confirm access suspended goes on (a POST is replayed, as after a password)."""
    from allauth.account.internal.flows.reauthentication import resume_request

    next_url = sociallogin.state.get("next") or reverse("account")
    request.GET = request.GET.copy()
    request.GET["next"] = next_url
    response = resume_request(request)
    return response or HttpResponseRedirect(next_url)
