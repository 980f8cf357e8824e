"""How allauth behaves here (settings.ACCOUNT_ADAPTER).

- Addresses are stored lower-cased, as the User manager stores them, so the login lookup, the
  failed-login bucket (allauth keys it on the lower-cased address) and the stored address are one
  and the same string: no other spelling of an address reaches the account with a fresh bucket.
- The client address comes from `keys_console.client_ip` (TRUSTED_PROXIES), like everywhere else.
- Mails (address confirmation, password reset, security notices) are rendered in the request and
  sent by a task (keys_console/mail.py): a slow or unreachable SMTP server does not slow sign-ups.
- A page to land on after the login that confirms a new address (the Sandbox's API Key tab: the
  projects app sets it through `set_landing_url` when the address is confirmed) wins over
  LOGIN_REDIRECT_URL, for that person only.
- Counting failed logins fails open: if the cache (Redis) cannot be reached, the password is still
  checked, without the brake, and a warning is logged, rather than every login answering 500.
- Single sign-on (accounts/sso.py): an address of SSO_REQUIRED_DOMAINS is refused here before its
  password is checked; an account without a password confirms access through the provider.
- Confirm access: allauth's own guarded actions (email addresses, 2FA) use the same window as key
  actions: a login less than ACCOUNT_REAUTHENTICATION_TIMEOUT ago counts as a confirmation
  (`accounts.reauth.recently_logged_in`); allauth alone counts only explicit confirmations.
"""

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import sso
from accounts.reauth import recently_logged_in
from keys_console.client_ip import client_ip
from keys_console.mail import send_later

logger = logging.getLogger("accounts")
LANDING_SESSION_KEY = "accounts_landing"


def set_landing_url(request, user, url: str) -> None:
    """After `user`'s next login in this session (or the one under way), go to `url` once."""
    request.session[LANDING_SESSION_KEY] = [user.pk, url]


def pop_landing_url(request) -> str | None:
    landing = request.session.pop(LANDING_SESSION_KEY, None) if hasattr(request, "session") else None
    if isinstance(landing, list) and len(landing) == 2 and landing[0] == request.user.pk:
        return str(landing[1])
    return None


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        return super().clean_email(email).strip().lower()

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's send_mail, with the rendered message enqueued instead of sent."""
        request = allauth_context.request  # as allauth's own send_mail: the request being handled
        ctx = {"request": request, "email": email, "current_site": get_current_site(request), **context}
        send_later(self.render_mail(template_prefix, email, ctx))

    def get_login_redirect_url(self, request) -> str:
        return pop_landing_url(request) or super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request) -> str:
        if request.user.is_authenticated:
            landing = pop_landing_url(request)
            if landing:
                return landing
        return super().get_signup_redirect_url(request)

    def post_login(self, request, user, **kwargs):
        response = super().post_login(request, user, **kwargs)
        # Used above, or passed over for an explicit `next` (an invitation): either way, once.
        if hasattr(request, "session"):
            request.session.pop(LANDING_SESSION_KEY, None)
        return response

    def get_client_ip(self, request) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client address.")
        return ip

    def pre_authenticate(self, request, **credentials) -> None:
        email = str(credentials.get("email") or "")
        if sso.required_for(email):  # before the password is looked at: no oracle either way
            raise ValidationError(sso.refusal(email))
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            raise  # too many failed attempts
        except Exception as exc:  # connection refused, timeout: fail open (module docstring)
            logger.warning(
                "Login rate limit: cache unavailable (%s); checking the password without it", type(exc).__name__
            )

    def get_reauthentication_methods(self, user) -> list[dict]:
        """An account without a password (or whose address must use single sign-on) confirms
        access through the provider again (accounts/sso.py)."""
        without_password = not user.has_usable_password() or sso.required_for(user.email)
        if user.is_authenticated and without_password and sso.has_sso_account(user):
            url = reverse("account_sso_reauthenticate")
            return [{"id": "sso_reauthenticate", "description": sso.button_label(), "url": url}]
        return super().get_reauthentication_methods(user)

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        required = super().is_reauthentication_required(app=app, **kwargs)
        request = self.request
        if required and request is not None and hasattr(request, "session"):
            return not recently_logged_in(request)
        return required
