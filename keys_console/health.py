"""`GET /healthz` for load balancers and uptime checks: does this process reach its database and cache?

200 `{"status": "ok", "checks": {"database": "ok", "cache": "ok"}}` when both answer; 503
`{"status": "unavailable", "failing": ["database"], ...}` naming each part that does not. No login,
no versions, hostnames or error texts (those go to the log, with the request id).
"""

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


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


@require_GET
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
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing, "checks": results}, status=503)
    return JsonResponse({"status": "ok", "checks": results})
