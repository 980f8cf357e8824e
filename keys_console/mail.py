"""Mail off the request path, through Django's tasks framework (`django.tasks`).

A request renders its mail and enqueues it (`send_later`); the `send_email` task sends it. In
production the backend is django-tasks-db's (settings.TASKS): the task is a row in the database
and `manage.py db_worker` sends it, so a slow or unreachable SMTP server costs the request
nothing. A send that fails is tried again later (RETRY_DELAYS, then given up and logged); the
mail's content is only in the task's row until it is sent. In development and the tests the
backend is the immediate one: the task runs at once, in the request, and a failure is logged.
"""

import logging
from datetime import timedelta

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.tasks import TaskContext, task
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger("keys_console.mail")

# Seconds to wait before each new try of a failed send: 8 tries over about 6 hours.
RETRY_DELAYS = (10, 60, 300, 900, 1800, 3600, 3 * 3600)


def retry_delay(attempt: int) -> int | None:
    """Seconds before try number `attempt + 1` after try `attempt` failed, or None: give up."""
    if attempt < 1 or attempt > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempt - 1]


def forget_body(context: TaskContext, subject: str, to: list[str]) -> None:
    """Once a try is over, its row in the queue keeps who and what, not the body: a mail may carry
    a link that signs in or joins a project (password reset, invitation)."""
    if isinstance(send_email.get_backend(), DatabaseBackend):
        DBTaskResult.objects.filter(id=context.task_result.id).update(
            args_kwargs={"args": [], "kwargs": {"subject": subject, "to": to, "body": "(removed once tried)"}}
        )


@task(takes_context=True)
def send_email(
    context: TaskContext,
    *,
    subject: str,
    body: str,
    from_email: str | None,
    to: list[str],
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attempt: int = 1,
) -> int:
    """Send one mail (a task: its arguments are JSON); returns the number sent (1). On failure,
    enqueue the next try when the backend can defer tasks (the database backend), else log and
    give up (the immediate backend); either way this try ends failed, with the error recorded."""
    message = EmailMultiAlternatives(subject, body, from_email, to, headers=headers)
    if html is not None:
        message.attach_alternative(html, "text/html")
    try:
        return message.send()
    except Exception as exc:
        delay = retry_delay(attempt)
        backend = send_email.get_backend()
        if delay is None or not backend.supports_defer:
            logger.error(
                "Could not send the mail “%s” after %d tr%s (%s); giving up",
                subject,
                attempt,
                "y" if attempt == 1 else "ies",
                type(exc).__name__,
            )
            raise
        send_email.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
            subject=subject, body=body, from_email=from_email, to=to, html=html, headers=headers, attempt=attempt + 1
        )
        logger.warning(
            "Could not send the mail “%s” (%s); trying again in %d s (try %d)",
            subject,
            type(exc).__name__,
            delay,
            attempt + 1,
        )
        raise  # this try's row records the failure; the next try is a task of its own
    finally:
        forget_body(context, subject, to)


def send_later(message: EmailMessage) -> None:
    """Enqueue `message` (rendered: subject, text, optional HTML alternative, headers) for sending."""
    html = None
    for content, mimetype in getattr(message, "alternatives", []) or []:
        if mimetype == "text/html":
            html = str(content)
    if message.content_subtype == "html":  # an HTML-only message (allauth's, without a .txt template)
        html, body = str(message.body), ""
    else:
        body = str(message.body)
    send_email.enqueue(
        subject=str(message.subject),
        body=body,
        from_email=message.from_email,
        to=[str(address) for address in message.to],
        html=html,
        headers={str(k): str(v) for k, v in (message.extra_headers or {}).items()} or None,
    )


def send_mail_later(subject: str, body: str, to: list[str], from_email: str | None = None) -> None:
    """`django.core.mail.send_mail`, enqueued."""
    send_later(EmailMessage(subject, body, from_email, to))
