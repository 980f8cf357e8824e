from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from .project import Project

QUESTION_TEXT_MAX = 2000
PRIORITY_MIN, PRIORITY_MAX = -1_000_000, 1_000_000


class QuestionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Question(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField(max_length=QUESTION_TEXT_MAX)
    priority = models.IntegerField(
        default=0,
        validators=[MinValueValidator(PRIORITY_MIN), MaxValueValidator(PRIORITY_MAX)],
        help_text="Higher comes first.",
    )
    is_active = models.BooleanField(default=True)
    # A Sandbox's sample question (projects/sandbox.py), removed at once by "Replace the sample questions".
    is_sample = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["-priority", "id"]
        indexes = [models.Index(fields=["project", "is_active", "-priority", "id"], name="question_next_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__gte=PRIORITY_MIN, priority__lte=PRIORITY_MAX),
                name="question_priority_range",
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]
