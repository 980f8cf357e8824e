"""Approval of a personal key for one project (a project whose key policy says **Personal keys need
approval**; the rules: `keys.policy`)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from projects.models import Project

from .api_key import ApiKey


class ApprovalState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"


class KeyApproval(models.Model):
    """Whether a personal key may act in a project that asks for approval. Made when the key first
    asks (it is created, or first presented there); copied to its successor when it is rotated."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="approvals")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="key_approvals")
    state = models.CharField(max_length=8, choices=ApprovalState.choices, default=ApprovalState.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "personal key approval"
        ordering = ["-requested_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key", "project"], name="one_approval_per_key_and_project")]

    def __str__(self) -> str:
        return f"{self.key_id} in {self.project_id}: {self.state}"
