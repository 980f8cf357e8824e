from django.conf import settings
from django.db import models
from django.utils import timezone

from .project import Project


class EventKind(models.TextChoices):
    CREATED = "created", "Key created"
    ROTATED = "rotated", "Key rotated"
    REVOKED = "revoked", "Key revoked"
    DELETED = "deleted", "Key deleted"
    UPDATED = "updated", "Key changed"
    REVOKED_KEY_USED = "revoked_key_used", "Revoked key presented"
    EXPIRED_KEY_USED = "expired_key_used", "Expired key presented"
    RATE_LIMITED = "rate_limited", "Rate limit reached"


class KeyEvent(models.Model):
    """One line of a project's event log. Keeps the key's id and name after the key is deleted."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    api_key = models.ForeignKey(
        "projects.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    key_id = models.CharField("Key ID", max_length=32, db_index=True)
    key_name = models.CharField(max_length=64)
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, help_text="Who acted: an email, 'cli', 'admin: …' or 'api'.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "key event"
        verbose_name_plural = "key events"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at", "-id"], name="event_project_time_idx"),
            models.Index(fields=["project", "kind", "-created_at"], name="event_project_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.key_name} ({self.key_id})"
