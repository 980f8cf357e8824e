"""The peer's data: a project and its questions, the shape of the console's (projects.models):
the same columns the API returns, the same order and the same index behind it."""

from django.db import models
from django.utils import timezone


class Project(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Question(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField(max_length=2000)
    priority = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "id"]
        indexes = [models.Index(fields=["project", "is_active", "-priority", "id"], name="peer_question_next_idx")]

    def __str__(self) -> str:
        return self.text[:60]
