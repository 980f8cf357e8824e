from django.db import models


class KeyUsageDay(models.Model):
    """Requests made with a key on one day (UTC), by status class. Written in batches."""

    api_key = models.ForeignKey("keys.ApiKey", on_delete=models.CASCADE, related_name="usage_days")
    day = models.DateField()
    success = models.PositiveBigIntegerField(default=0, help_text="1xx–3xx responses")
    client_error = models.PositiveBigIntegerField(default=0, help_text="4xx responses")
    server_error = models.PositiveBigIntegerField(default=0, help_text="5xx responses")

    class Meta:
        verbose_name = "key usage (day)"
        verbose_name_plural = "key usage (days)"
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["api_key", "day"], name="one_usage_row_per_key_day")]

    def __str__(self) -> str:
        return f"{self.api_key_id} on {self.day}: {self.total} requests"

    @property
    def total(self) -> int:
        return self.success + self.client_error + self.server_error


class KeyProjectUsageDay(models.Model):
    """Requests an account key made in one project on one day (UTC): its usage per project.

    Written in the same batches as KeyUsageDay (api/usage.py); a project key's requests need no
    such split (they are all in its project)."""

    api_key = models.ForeignKey("keys.ApiKey", on_delete=models.CASCADE, related_name="project_usage_days")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    requests = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "account key usage (project, day)"
        verbose_name_plural = "account key usage (project, days)"
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["api_key", "project", "day"], name="one_usage_row_per_key_project_day"),
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id} in {self.project_id} on {self.day}: {self.requests} requests"
