"""How allauth behaves here (settings.ACCOUNT_ADAPTER).

- Addresses are stored lower-cased, as the User manager stores them, so the login lookup, the
  failed-login bucket (allauth keys it on the lower-cased address) and the stored address are one
  and the same string: no other spelling of an address reaches the account with a fresh bucket.
- The client address comes from `keys_console.client_ip` (TRUSTED_PROXIES), like everywhere else.
- Mails (address confirmation, password reset, security notices) are rendered in the request and
  sent by a task (keys_console/mail.py): a slow or unreachable SMTP server does not slow sign-ups.
- Counting failed logins fails open: if the cache (Redis) cannot be reached, the password is still
  checked, without the brake, and a warning is logged, rather than every login answering 500.
- Confirm access: allauth's own guarded actions (email addresses, 2FA) use the same window as key
  actions: a login less than ACCOUNT_REAUTHENTICATION_TIMEOUT ago counts as a confirmation
  (`accounts.reauth.recently_logged_in`); allauth alone counts only explicit confirmations.
"""

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.reauth import recently_logged_in
from keys_console.client_ip import client_ip
from keys_console.mail import send_later

logger = logging.getLogger("accounts")


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        return super().clean_email(email).strip().lower()

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's send_mail, with the rendered message enqueued instead of sent."""
        request = allauth_context.request  # as allauth's own send_mail: the request being handled
        ctx = {"request": request, "email": email, "current_site": get_current_site(request), **context}
        send_later(self.render_mail(template_prefix, email, ctx))

    def get_client_ip(self, request) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client address.")
        return ip

    def pre_authenticate(self, request, **credentials) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            raise  # too many failed attempts
        except Exception as exc:  # connection refused, timeout: fail open (module docstring)
            logger.warning(
                "Login rate limit: cache unavailable (%s); checking the password without it", type(exc).__name__
            )

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        required = super().is_reauthentication_required(app=app, **kwargs)
        request = self.request
        if required and request is not None and hasattr(request, "session"):
            return not recently_logged_in(request)
        return required
