"""`GET /healthz` for load balancers and uptime checks: can this host serve?

- 200 `{"status": "ok", "checks": {"database": "ok", "cache": "ok"}}` when the database and the
  cache answer;
- 200 `{"status": "degraded", "checks": {..., "cache": "unavailable"}}` when only the cache does
  not: the API falls back to the database (rate limits off) and the console keeps working, so a
  balancer must keep sending traffic here. Taking every host out because their shared Redis is
  away would turn a degraded site into a site that is down;
- 503 `{"status": "unavailable", "failing": ["database"], ...}` when the database does not answer
  (nothing can be served);
- 503 `{"status": "draining", ...}` once the host has been told to stop (`keys_console.drain`, set
  by gunicorn's SIGTERM hook in `keys_console/gunicorn_conf.py`): the balancer takes it out while it
  still serves what it is sent, before it stops accepting.

No login, no hostnames or error texts (those go to the log, with the request id).

A balancer's probe names whatever `Host` it likes (an address, `localhost`): `HealthCheckMiddleware`
answers `/healthz` high in MIDDLEWARE, before anything reads the `Host` header
(`request.get_host()`, which enforces ALLOWED_HOSTS: SecurityMiddleware's redirect,
CommonMiddleware, CSRF), so the probe is never refused with 400 nor logged as DisallowedHost.
Every other path still gets ALLOWED_HOSTS' 400.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import drain
from .version import VERSION

logger = logging.getLogger(__name__)

PATH = "/healthz"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    # A round trip that must really reach the cache: write a fresh value and read it back.
    probe = uuid.uuid4().hex
    cache.set("healthz:probe", probe, timeout=10)
    if cache.get("healthz:probe") != probe:
        raise RuntimeError("the cache did not return what was just written")


CHECKS = {"database": _database, "cache": _cache}
# What this host cannot serve without: failing, /healthz answers 503. The others degrade it (200).
REQUIRED = frozenset({"database"})


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            logger.warning("healthz: %s check failed (%s)", name, type(exc).__name__)
            results[name] = "unavailable"
    failing = [name for name, result in results.items() if result != "ok"]
    if drain.draining():
        return _unavailable({"status": "draining", "checks": results})
    if any(name in REQUIRED for name in failing):
        return _unavailable({"status": "unavailable", "failing": failing, "checks": results})
    if failing:
        return JsonResponse({"status": "degraded", "degraded": failing, "checks": results, "version": VERSION})
    return JsonResponse({"status": "ok", "checks": results, "version": VERSION})


def _unavailable(body: dict) -> JsonResponse:
    return JsonResponse({**body, "version": VERSION}, status=503)


class HealthCheckMiddleware:
    """Answers `/healthz` before any middleware that validates the Host header (see above)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._match = None

    def __call__(self, request: HttpRequest):
        if request.path_info != PATH:
            return self.get_response(request)
        if self._match is None:
            self._match = resolve(PATH)  # the route name for the request line and the metrics
        request.resolver_match = self._match
        return healthz(request)
