"""`GET /metrics`: Prometheus' text format (prometheus-client), off unless METRICS_TOKEN is set.

With `METRICS_TOKEN` set, `MetricsMiddleware` (first in MIDDLEWARE, added by the settings) counts
every request and answers `GET /metrics` for a scraper that sends `Authorization: Bearer <token>`;
anything else (no token, another one) gets the site's 404, as if there were no such page. The Host
header is checked like everywhere else (ALLOWED_HOSTS). Without the variable nothing here runs:
no middleware, no route, no cost.

Counted in each process, added up across gunicorn's workers: under `keys_console/gunicorn_conf.py`
every worker writes its counts to files in `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's
multiprocess mode) and a scrape, whichever worker answers it, reads them all. Without that
directory (runserver, the tests) the process's own registry is shown.

What is measured:
- `nbq_http_requests_total{route, method, status}`: every response; the route is the URL pattern
  (`api/v1/questions/<int:question_id>`), never the path (it may hold a token); `(unmatched)` for
  paths that match no route, and for a malformed API key refused before routing (api/invalid_keys.py).
- `nbq_http_request_duration_seconds{route}`: a histogram of the time in Django.
- `nbq_api_authentications_total{outcome}`: what API authentication decided (`ok`, `invalid`: a
  malformed key, `unknown`, `revoked`, `expired`, `rate_limited`: the failed-authentication
  throttle, `ip_not_allowed`, `missing`, `disabled`), counted where api/auth.py decides.
- `nbq_cache_fallbacks_total{reason}`: API cache operations that fell back to the database
  (`error`: the call failed, `paused`: skipped while the breaker is open); `nbq_cache_breaker_open`:
  1 while a live worker's breaker is open (as of its last use of the cache).
- At scrape time, from the database: `nbq_task_queue_depth` (mails waiting to be sent),
  `nbq_tasks{status}` (the task rows by status: `FAILED` counts failed sends kept until
  `prune_db_task_results`), and what other apps register (`register_collector`): keys by state.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

PATH = "/metrics"
UNMATCHED = "(unmatched)"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: the API answers in about a millisecond; console pages in tens.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AUTH_OUTCOMES = (
    "ok",
    "invalid",
    "unknown",
    "revoked",
    "expired",
    "rate_limited",
    "ip_not_allowed",
    "missing",
    "disabled",
    "error",
)

REQUESTS = Counter("nbq_http_requests", "HTTP responses by route, method and status.", ["route", "method", "status"])
DURATION = Histogram("nbq_http_request_duration_seconds", "Time in Django per request.", ["route"], buckets=BUCKETS)
AUTHENTICATIONS = Counter("nbq_api_authentications", "API authentication decisions by outcome.", ["outcome"])
CACHE_FALLBACKS = Counter("nbq_cache_fallbacks", "API cache operations answered without the cache.", ["reason"])
BREAKER_OPEN = Gauge(
    "nbq_cache_breaker_open", "1 while a worker leaves an unreachable cache alone.", multiprocess_mode="livemax"
)


def enabled() -> bool:
    return bool(getattr(settings, "METRICS_TOKEN", ""))


# --- counting (cheap: each label set is looked up once per process) ---------------------------------
_requests: dict[tuple[str, str, int], tuple] = {}
_auth = {outcome: AUTHENTICATIONS.labels(outcome) for outcome in AUTH_OUTCOMES}
_fallbacks = {reason: CACHE_FALLBACKS.labels(reason) for reason in ("error", "paused")}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _requests.get(key)
    if children is None:
        children = _requests[key] = (REQUESTS.labels(route, method, str(status)), DURATION.labels(route))
    children[0].inc()
    children[1].observe(seconds)


def count_authentication(outcome: str) -> None:
    """One API authentication decided (api/auth.py, api/invalid_keys.py)."""
    if enabled():
        _auth[outcome].inc()


def count_cache_fallback(reason: str) -> None:
    """The API answered without the cache (api/keystore.py's breaker): `error` or `paused`."""
    if enabled():
        _fallbacks[reason].inc()


def breaker_state(is_open: bool) -> None:
    if enabled():
        BREAKER_OPEN.set(1 if is_open else 0)


# --- scrape-time figures from the database ----------------------------------------------------------
_collectors: list[Callable[[], Iterable[Metric]]] = []


def register_collector(collect: Callable[[], Iterable[Metric]]) -> None:
    """`collect()` yields metric families, read at each scrape (higher layers: keys by state)."""
    if collect not in _collectors:
        _collectors.append(collect)


def task_metrics() -> Iterable[Metric]:
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    rows = dict(DBTaskResult.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    depth = GaugeMetricFamily("nbq_task_queue_depth", "Tasks (mails) waiting for the worker.")
    depth.add_metric([], rows.get("READY", 0))
    yield depth
    by_status = GaugeMetricFamily(
        "nbq_tasks", "Task rows by status (FAILED: failed sends, kept until pruned).", labels=["status"]
    )
    for status in ("READY", "RUNNING", "SUCCESSFUL", "FAILED"):
        by_status.add_metric([status], rows.get(status, 0))
    yield by_status


register_collector(task_metrics)


class _Scraped:
    """The registered collectors as one prometheus-client collector."""

    def collect(self) -> Iterable[Metric]:
        for collect in _collectors:
            yield from collect()


def exposition() -> bytes:
    """Every worker's counts (multiprocess mode) or this process's, then the database's figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scraped = CollectorRegistry()
    scraped.register(_Scraped())
    return generate_latest(registry) + generate_latest(scraped)


def scrape(request: HttpRequest) -> HttpResponse:
    expected = f"Bearer {settings.METRICS_TOKEN}".encode()
    presented = request.META.get("HTTP_AUTHORIZATION", "").encode("latin-1", "replace")
    if request.method not in ("GET", "HEAD") or not hmac.compare_digest(presented, expected):
        raise Http404
    request.get_host()  # ALLOWED_HOSTS, as for every page (raises DisallowedHost: 400)
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


class MetricsMiddleware:
    """Counts every response; answers `GET /metrics` (first in MIDDLEWARE when METRICS_TOKEN is set)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == PATH:
            return scrape(request)
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        method = request.method if request.method in METHODS else "other"
        observe_request(
            match.route if match is not None else UNMATCHED,
            method,
            response.status_code,
            time.perf_counter() - started,
        )
        return response
