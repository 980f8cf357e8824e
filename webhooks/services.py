"""Webhook endpoints' rules, in plain functions the views (and any other door) call."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from projects.actors import Actor
from projects.events import record_event
from projects.models import Project
from projects.models.event import EventKind

from . import guard, signing
from .event_types import SUBSCRIBABLE
from .models import Delivery, DeliveryStatus, Endpoint
from .outbox import queue

ROTATION_OVERLAP = timedelta(hours=24)
# Who acted when no person did (the 5-day disable in webhooks/delivery.py).
SYSTEM = Actor(user=None, label="webhooks")
ENDPOINTS_PER_PROJECT = 20


class EndpointRefused(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def clean_endpoint(*, url: str, all_events: bool, event_types) -> tuple[str, list[str]]:
    """THE validation of an endpoint: a URL the SSRF rules accept (`guard.check_url`), and at least
    one known event type (or all). Raises EndpointRefused naming the field."""
    url = (url or "").strip()
    if not url:
        raise EndpointRefused("Enter the URL to send events to.", field="url")
    if len(url) > 500:
        raise EndpointRefused("Use a URL of at most 500 characters.", field="url")
    try:
        guard.check_url(url)
    except guard.UnsafeUrl as exc:
        raise EndpointRefused(exc.message, field="url") from None
    chosen = [t for t in SUBSCRIBABLE if t in set(event_types or ())]
    if not all_events and not chosen:
        raise EndpointRefused("Choose at least one event type, or all events.", field="event_types")
    return url, ([] if all_events else chosen)


@sensitive_variables("secret")
def endpoint_create(
    *, project: Project, url: str, description: str = "", all_events: bool, event_types, actor: Actor = SYSTEM
) -> tuple[Endpoint, str]:
    """Add an endpoint; returns it and its signing secret (shown once, never again). Every change
    to an endpoint is a line in the project's event log: it decides where the project's events go."""
    url, chosen = clean_endpoint(url=url, all_events=all_events, event_types=event_types)
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        if Endpoint.objects.filter(project=project).count() >= ENDPOINTS_PER_PROJECT:
            raise EndpointRefused(f"A project has at most {ENDPOINTS_PER_PROJECT} endpoints.", field=None)
        secret = signing.new_secret()
        endpoint = Endpoint.objects.create(
            project=project,
            url=url,
            description=(description or "").strip()[:200],
            all_events=all_events,
            event_types=chosen,
            secret_encrypted=signing.encrypt(secret),
            created_by=actor.user,
        )
        _log(endpoint, EventKind.WEBHOOK_ADDED, actor, {"events": endpoint.event_types_label})
    return endpoint, secret


def _log(endpoint: Endpoint, kind: str, actor: Actor, details: dict | None = None) -> None:
    record_event(project=endpoint.project, kind=kind, actor=actor, subject=endpoint.url, details=details)


@sensitive_variables("secret")
def endpoint_rotate_secret(*, endpoint: Endpoint, actor: Actor = SYSTEM) -> str:
    """A new secret; the old one keeps signing alongside it for 24 h (two `v1,` signatures)."""
    secret = signing.new_secret()
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret_encrypted = locked.secret_encrypted
        locked.previous_secret_until = timezone.now() + ROTATION_OVERLAP
        locked.secret_encrypted = signing.encrypt(secret)
        locked.save(update_fields=["previous_secret_encrypted", "previous_secret_until", "secret_encrypted"])
        _log(locked, EventKind.WEBHOOK_SECRET_ROTATED, actor)
    return secret


def endpoint_set_enabled(
    *, endpoint: Endpoint, enabled: bool, actor: Actor = SYSTEM, reason: str = "Disabled by a person."
) -> Endpoint:
    """Disable (nothing is sent, pending retries stop) or enable again (failures counted afresh)."""
    with transaction.atomic():
        changed = Endpoint.objects.filter(pk=endpoint.pk, enabled=not enabled).update(
            enabled=enabled, disabled_reason="" if enabled else reason, failing_since=None
        )
        if changed:
            details = {} if enabled else {"reason": reason}
            _log(endpoint, EventKind.WEBHOOK_ENABLED if enabled else EventKind.WEBHOOK_DISABLED, actor, details)
        if not enabled:
            Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.FAILED, next_attempt_at=None
            )
    endpoint.refresh_from_db()
    return endpoint


def endpoint_delete(*, endpoint: Endpoint, actor: Actor = SYSTEM) -> None:
    with transaction.atomic():
        _log(endpoint, EventKind.WEBHOOK_DELETED, actor)
        endpoint.delete()


def endpoint_send_test(*, endpoint: Endpoint, actor_label: str) -> Delivery:
    """Queue a `webhook.test` message to this endpoint (enabled or not is the person's business:
    a test is how one checks a receiver before enabling it again)."""
    data = {
        "project": endpoint.project.slug,
        "actor": actor_label,
        "endpoint": {"url": endpoint.url, "description": endpoint.description},
        "message": "A test event from NBQ Keys Console.",
    }
    with transaction.atomic():
        (delivery,) = queue([endpoint], "webhook.test", data, manual=True)
    return delivery
