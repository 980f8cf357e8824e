"""Keys by status and kind for `GET /metrics` (keys_console/metrics.py reads it at each scrape):
one query, the status judged at that instant by `status_q` (the same rule as everywhere)."""

from collections.abc import Iterable

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from .models import ApiKey
from .models.api_key import Status, status_q

KINDS = {"project": Q(project__isnull=False), "account": Q(project__isnull=True)}


def key_metrics() -> Iterable[Metric]:
    now = timezone.now()
    counts = ApiKey.objects.aggregate(
        **{
            f"{kind}__{status}": Count("pk", filter=where & status_q(status, now))
            for kind, where in KINDS.items()
            for status in Status.values
        }
    )
    family = GaugeMetricFamily(
        "nbq_api_keys", "API keys by status (at the scrape) and kind.", labels=["status", "kind"]
    )
    for name, count in counts.items():
        kind, status = name.split("__")
        family.add_metric([status, kind], count)
    yield family
