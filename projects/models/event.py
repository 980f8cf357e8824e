from django.conf import settings
from django.db import models
from django.utils import timezone

from ..event_kinds import EventKind
from .project import Project

__all__ = ["EventKind", "KeyEvent"]


class KeyEvent(models.Model):
    """One line of a project's event log (its audit log): keys, members, invitations, questions,
    settings. The class keeps its first name; the rows are "project events".

    Facts are copied onto the row (key id and name, `subject`, `details`), so a line still reads
    right after its key, member or question is gone. `key_id` is set for key events only.
    """

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    # Account keys: the person whose Security log shows the line (empty for project keys' events and
    # for the copies of an account key's lifecycle events in the projects of its scope).
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="key_events"
    )
    key_id = models.CharField("Key ID", max_length=32, blank=True, db_index=True)
    key_name = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    # What a non-key event is about, as a person reads it: an email, a question's text, a project name.
    subject = models.CharField(max_length=200, blank=True)
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
            models.Index(fields=["account", "-created_at", "-id"], name="event_account_time_idx"),
            models.Index(fields=["project", "key_id", "-created_at"], name="event_project_key_idx"),
            # "this key's rate-limit events": a key's traffic events can be most of a busy log
            models.Index(fields=["project", "key_id", "kind", "-created_at"], name="event_project_key_kind_idx"),
            models.Index(fields=["project", "actor_label", "-created_at"], name="event_project_actor_idx"),
        ]

    def __str__(self) -> str:
        return self.sentence

    @property
    def sentence(self) -> str:
        from ..event_text import sentence

        return sentence(self)

    @property
    def details_text(self) -> str:
        from ..event_text import details_text

        return details_text(self)
