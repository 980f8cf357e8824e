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


class KeyUsageCount(models.Model):
    """Requests of a key on one UTC day, per project, endpoint and outcome: what Details, the
    project's Usage tab, its CSV and `GET /api/v1/usage` read. Written in the same batches as
    KeyUsageDay (api/usage.py), refused requests of a known key included.

    `endpoint` is the route's operation id (`listQuestions`, either form of the route); `status`
    the HTTP status and `code` the error code of a 4xx/5xx (`rate_limited`, `not_found`, ...; empty
    for a success). `project` is the project the request acted on (a project key's own; an account
    key's addressed project once its reach there was checked), none for an account key's request
    that named no project it reaches."""

    api_key = models.ForeignKey("keys.ApiKey", on_delete=models.CASCADE, related_name="usage_counts")
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    endpoint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40, blank=True, default="")
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "key usage (day, endpoint, outcome)"
        verbose_name_plural = "key usage (days, endpoints, outcomes)"
        ordering = ["-day"]
        constraints = [
            # Two partial constraints rather than one with a nullable column: each is an upsert's
            # conflict target (api/usage.py), on PostgreSQL and SQLite alike.
            models.UniqueConstraint(
                fields=["api_key", "project", "day", "endpoint", "status", "code"],
                condition=models.Q(project__isnull=False),
                name="one_usage_count_per_key_project_day_outcome",
            ),
            models.UniqueConstraint(
                fields=["api_key", "day", "endpoint", "status", "code"],
                condition=models.Q(project__isnull=True),
                name="one_usage_count_per_key_day_outcome_no_project",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "day"], name="usage_count_project_day"),
            models.Index(fields=["day"], name="usage_count_day"),  # retention (cleanup --usage-days)
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id} on {self.day}: {self.count} × {self.endpoint} {self.status} {self.code}".rstrip()


class KeyAddress(models.Model):
    """One of the last few distinct client addresses a key was used from (api/usage.py keeps
    `ADDRESSES_PER_KEY`), with when it was last seen and the user agent seen with it then."""

    api_key = models.ForeignKey("keys.ApiKey", on_delete=models.CASCADE, related_name="addresses")
    address = models.GenericIPAddressField()
    user_agent = models.CharField(max_length=200, blank=True, default="")
    last_seen = models.DateTimeField()

    class Meta:
        verbose_name = "key address"
        verbose_name_plural = "key addresses"
        ordering = ["-last_seen"]
        constraints = [models.UniqueConstraint(fields=["api_key", "address"], name="one_row_per_key_address")]

    def __str__(self) -> str:
        return f"{self.api_key_id} from {self.address} at {self.last_seen:%Y-%m-%d %H:%M}"
