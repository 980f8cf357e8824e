"""A project's webhook endpoints, the messages queued for them and every try to deliver one."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from keys.models import ApiKey
from projects.models import Project

from .event_types import EVENT_TYPES


def message_id() -> str:
    """`webhook-id`: unique per message, kept across its retries (receivers drop duplicates by it)."""
    return "msg_" + secrets.token_urlsafe(18)


class Endpoint(models.Model):
    """Where a project's events are POSTed. The signing secret is stored encrypted
    (`webhooks.secrets`): it must be readable to sign, and is shown to a person only once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    all_events = models.BooleanField(default=False)
    event_types = models.JSONField(default=list, blank=True)
    secret_encrypted = models.TextField()
    # After Rotate secret the old one keeps signing (a second `v1,` signature) until this time.
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # The first failed delivery since the last success: failing for FAILING_DAYS disables it.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.all_events or event_type in self.event_types

    @property
    def event_types_label(self) -> str:
        if self.all_events:
            return "All events"
        return ", ".join(t for t in EVENT_TYPES if t in self.event_types) or "None"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One message to one endpoint (`id` is its `webhook-id`), with the exact body that is signed."""

    id = models.CharField(primary_key=True, max_length=40, default=message_id, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id}"


class Attempt(models.Model):
    """One try to deliver a message: when, what came back (the body truncated), how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    manual = models.BooleanField(default=False)  # Resend
    started_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=200, blank=True)
    succeeded = models.BooleanField(default=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"


class ExpiryNotice(models.Model):
    """`key.expiring` sent for this key at this many days before expiry (each once)."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    days = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "days"], name="webhook_expiry_notice_once")]

    def __str__(self) -> str:
        return f"{self.key_id} {self.days}d"
