"""Mail about a key to the people who answer for it: THE one place key mails are sent from.

A personal (account) key's mail goes to its holder; a project key's to the project's owners and
admins. Mail leaves the request through the task queue (keys_console/mail.py: the immediate
backend in development and tests, django-tasks-db's worker in production, retried when SMTP is
down), so a leak report costs the same time whether its keys were real or not. A failure to
enqueue is logged, never raised: the change the mail tells about has already happened.
"""

import logging

from django.template.loader import render_to_string

from keys_console.mail import send_mail_later
from projects.invitations import neutralise
from projects.membership import manager_emails

from .models import ApiKey

logger = logging.getLogger("keys")


def key_recipients(key: ApiKey) -> list[str]:
    """Who hears about `key`: its holder (account key), or its project's owners and admins."""
    if key.is_account_key:
        return [key.owner.email] if key.owner is not None and key.owner.is_active else []
    return manager_emails(key.project_id)


def send_key_mail(key: ApiKey, template: str, context: dict) -> bool:
    """Render `keys/email/<template>_subject.txt` and `_body.txt` and mail them about `key`.
    True when a mail went out. The full key is never in `context` (only its name, ID and mask)."""
    recipients = key_recipients(key)
    if not recipients:
        return False
    context = {
        "key_name": _one_line(key.name),
        "key_id": key.key_id,
        "masked": key.masked,
        "project_name": _one_line(key.project.name) if key.project is not None else None,
        **context,
    }
    try:
        send_mail_later(
            render_to_string(f"keys/email/{template}_subject.txt", context).strip(),
            render_to_string(f"keys/email/{template}_body.txt", context),
            recipients,
        )
    except Exception:
        logger.exception("Could not enqueue the %s mail about %s", template, key.key_id)
        return False
    return True


def _one_line(text: str) -> str:
    return neutralise(text)
