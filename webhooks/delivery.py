"""Delivering a webhook message: signed, sent off the request path, retried, logged.

The `deliver` task (django.tasks: django-tasks-db's worker in production, the immediate backend in
development and tests) makes one try: it signs the message as Standard Webhooks do (`webhook-id`,
kept across retries; `webhook-timestamp` of this try; `webhook-signature` with one `v1,` signature
per live secret, two for 24 h after Rotate secret), POSTs it through `guard.post` (10 s timeout,
no redirects, the answer's body truncated) and records the try. A 2xx answer is a success; anything
else is retried on the Standard Webhooks schedule (RETRY_DELAYS: 5 s, 5 min, 30 min, 2 h, 5 h,
10 h, 10 h), each try a task of its own run later (`run_after`). A backend that cannot run tasks
later (the immediate one) leaves the retry's time on the message, and `manage.py
send_webhook_retries` (cron, or by hand) sends what is due. Each try is claimed with a conditional
UPDATE first, so a try is never made twice. An endpoint whose deliveries have failed for
FAILING_DAYS days is disabled, and its project's owners and admins are mailed.
"""

import logging
import time
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.tasks import task
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from keys_console.mail import send_mail_later
from projects.actors import Actor
from projects.events import record_event
from projects.membership import manager_emails
from projects.models.event import EventKind

from . import guard, signing
from .models import Attempt, Delivery, DeliveryStatus, Endpoint

logger = logging.getLogger("webhooks")

RETRY_DELAYS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
FAILING_DAYS = 5
NEVER_TRIED_AFTER = timedelta(minutes=1)
# A try lasts seconds (10 s per socket operation); one still unfinished after this is taken as lost.
LEASE = timedelta(minutes=15)
# The Deliveries list keeps a message this long after it was written (prune_webhook_deliveries).
KEEP_DELIVERIES = timedelta(days=30)
USER_AGENT = "NBQ-Keys-Console-Webhooks/1"


def retry_delay(attempt: int) -> int | None:
    """Seconds to wait after try `attempt` failed, or None: that was the last try."""
    if 1 <= attempt <= len(RETRY_DELAYS):
        return RETRY_DELAYS[attempt - 1]
    return None


@sensitive_variables("secrets_now", "secret")
def signed_headers(endpoint: Endpoint, delivery: Delivery, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    secrets_now = [signing.decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        secrets_now.append(signing.decrypt(endpoint.previous_secret_encrypted))
    return {
        "webhook-id": delivery.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signing.signature(secret, delivery.id, timestamp, delivery.body) for secret in secrets_now
        ),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def _claim(delivery_id: str, attempt: int, manual: bool) -> Delivery | None:
    """Take try number `attempt` of a message, once: None when it was taken (or is not due). The
    message's retry time becomes a lease (LEASE from now): if the worker dies during the try, the
    message is due again then, and send_webhook_retries makes the next try."""
    rows = Delivery.objects.filter(pk=delivery_id, attempts=attempt - 1)
    if not manual:
        rows = rows.filter(status=DeliveryStatus.PENDING, endpoint__enabled=True)
    lease = timezone.now() + LEASE
    if rows.update(attempts=attempt, status=DeliveryStatus.PENDING, next_attempt_at=lease) != 1:
        return None
    return Delivery.objects.select_related("endpoint", "endpoint__project").get(pk=delivery_id)


@task()
def fan_out(*, delivery_ids: list[str], manual: bool = False) -> int:
    """One event's messages, one task each (so a slow receiver delays no other endpoint)."""
    for delivery_id in delivery_ids:
        deliver.enqueue(delivery_id=delivery_id, attempt=1, manual=manual)
    return len(delivery_ids)


@task()
def deliver(*, delivery_id: str, attempt: int = 1, manual: bool = False) -> int | None:
    """Try number `attempt` of one message (a task: only the message's id travels in the queue).
    Returns the receiver's status code (None: no answer)."""
    delivery = _claim(delivery_id, attempt, manual)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    now = timezone.now()
    try:
        headers = signed_headers(endpoint, delivery, now)
    except signing.SecretUnreadable as exc:
        answer = guard.Response(None, "", str(exc), 0)
    else:
        answer = guard.post(endpoint.url, delivery.body.encode(), headers)
    succeeded = answer.status_code is not None and 200 <= answer.status_code < 300
    record(delivery, attempt, answer, succeeded=succeeded, manual=manual, started_at=now)
    return answer.status_code


def record(
    delivery: Delivery, attempt: int, answer: guard.Response, *, succeeded: bool, manual: bool, started_at: datetime
) -> Attempt | None:
    """Log the try and decide what comes next; None when the endpoint was deleted meanwhile."""
    endpoint = delivery.endpoint
    now = timezone.now()
    delay = None if succeeded else retry_delay(attempt)
    next_at = now + timedelta(seconds=delay) if delay is not None else None
    try:
        tried = _log_try(
            delivery, attempt, answer, succeeded=succeeded, manual=manual, started_at=started_at, next_at=next_at
        )
    except IntegrityError:  # the endpoint (and its messages) were deleted during the try
        return None

    if not succeeded:
        logger.warning(
            "Webhook %s (%s) to endpoint %s failed on try %d: %s",
            delivery.id,
            delivery.event_type,
            endpoint.pk,
            attempt,
            answer.status_code or answer.error,
        )
        if _disable_if_failing_too_long(endpoint, now):
            return tried
        if next_at is not None:
            _schedule(delivery.id, attempt + 1, next_at)
    return tried


def _log_try(
    delivery: Delivery,
    attempt: int,
    answer: guard.Response,
    *,
    succeeded: bool,
    manual: bool,
    started_at: datetime,
    next_at: datetime | None,
) -> Attempt:
    endpoint = delivery.endpoint
    with transaction.atomic():
        tried = Attempt.objects.create(
            delivery=delivery,
            number=attempt,
            manual=manual,
            started_at=started_at,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            response_excerpt=answer.excerpt[: guard.RESPONSE_EXCERPT_BYTES],
            error=answer.error[:200],
            succeeded=succeeded,
            next_attempt_at=next_at,
        )
        if succeeded:
            Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        else:
            status = DeliveryStatus.PENDING if next_at else DeliveryStatus.FAILED
            Delivery.objects.filter(pk=delivery.pk).update(status=status, next_attempt_at=next_at)
            Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=started_at)
    return tried


def _schedule(delivery_id: str, attempt: int, when: datetime) -> None:
    """Enqueue a later try where the backend can run it later; else send_webhook_retries will."""
    if not deliver.get_backend().supports_defer:
        return
    transaction.on_commit(lambda: deliver.using(run_after=when).enqueue(delivery_id=delivery_id, attempt=attempt))


def _disable_if_failing_too_long(endpoint: Endpoint, now: datetime) -> bool:
    since = Endpoint.objects.filter(pk=endpoint.pk).values_list("failing_since", flat=True).first()
    if since is None or now - since < timedelta(days=FAILING_DAYS):
        return False
    reason = f"Every delivery failed for {FAILING_DAYS} days."
    with transaction.atomic():
        if Endpoint.objects.filter(pk=endpoint.pk, enabled=True).update(enabled=False, disabled_reason=reason) != 1:
            return True
        record_event(
            project=endpoint.project,
            kind=EventKind.WEBHOOK_DISABLED,
            actor=Actor(user=None, label="webhooks"),
            subject=endpoint.url,
            details={"reason": reason},
        )
    Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None
    )
    recipients = manager_emails(endpoint.project_id)
    if recipients:
        project = endpoint.project
        try:
            send_mail_later(
                f"Webhook endpoint disabled in {project.name}",
                (
                    f"Deliveries to the webhook endpoint {endpoint.url} of the project {project.name} have failed "
                    f"for {FAILING_DAYS} days, so it was disabled and no more events are sent to it.\n\n"
                    "Fix the receiver, then enable the endpoint again in the project's Settings tab, section "
                    "Webhooks, where its Deliveries list shows what each try answered.\n"
                ),
                recipients,
            )
        except Exception:
            logger.exception("Could not enqueue the mail about disabled webhook endpoint %s", endpoint.pk)
    logger.warning("Webhook endpoint %s disabled: failing since %s", endpoint.pk, since.isoformat())
    return True


def send_due(now: datetime | None = None, *, limit: int = 500) -> int:
    """Make the next try of every message whose retry time has come, and of any message whose
    task was lost (never tried a minute after it was written) (`send_webhook_retries`). Returns
    how many tries were made."""
    now = now or timezone.now()
    never_tried = Q(attempts=0, next_attempt_at__isnull=True, created_at__lte=now - NEVER_TRIED_AFTER)
    due = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, endpoint__enabled=True)
        .filter(Q(next_attempt_at__lte=now) | never_tried)
        .values_list("id", "attempts")[:limit]
    )
    made = 0
    for delivery_id, attempts in list(due):
        started = time.monotonic()
        deliver.call(delivery_id=delivery_id, attempt=attempts + 1)
        made += 1
        logger.debug("Webhook retry %s took %.0f ms", delivery_id, (time.monotonic() - started) * 1000)
    return made


def resend(delivery: Delivery) -> None:
    """Resend (a person's choice): a new try of the same message, same `webhook-id`, now."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
    attempts = Delivery.objects.filter(pk=delivery.pk).values_list("attempts", flat=True).get()
    transaction.on_commit(lambda: deliver.enqueue(delivery_id=delivery.pk, attempt=attempts + 1, manual=True))


def prune(now: datetime | None = None) -> int:
    """Delete the messages written more than KEEP_DELIVERIES ago, with their tries, unless one is
    still waiting for a retry. Returns how many messages went."""
    now = now or timezone.now()
    old = Delivery.objects.filter(created_at__lt=now - KEEP_DELIVERIES).exclude(
        status=DeliveryStatus.PENDING, next_attempt_at__gte=now
    )
    deleted, by_model = old.delete()
    return by_model.get(Delivery._meta.label, 0)
