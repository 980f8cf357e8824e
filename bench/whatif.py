"""What-if variants of the runtime API's hot path, applied at run time, for measurement only.

`BENCH_WHATIF=nohealth,rl1rt,keycache bash bench/run.sh` (or bench/whatif.sh) serves the console
through `bench.wsgi` with these changes, to put a number on each suggested optimisation before
anyone writes it for real. Nothing here is used by the product, and the api/ code is not edited.

- nohealth: CONN_HEALTH_CHECKS off (bench/settings.py reads it): no `SELECT 1` before the first
  query of each request. Applies to every row, the peer included.
- rl1rt:    the rate-limit counter in ONE Redis round-trip (pipeline: INCR, EXPIRE NX) on a
  client built once per process, instead of Django's `cache.incr` (EXISTS, then INCR, each on a
  newly built redis.Redis object). Same keys, same window, same limit.
- keycache: the key row (with its project) kept in process memory after the first lookup: NO
  query on the hot path. NOT revocation-safe: an upper bound for a real design that fetches the
  key record from Redis in the same round-trip as the rate-limit counter, and deletes it there
  when the key is revoked, rotated, deleted or edited.
"""

import os

VARIANTS = {v.strip() for v in os.environ.get("BENCH_WHATIF", "").split(",") if v.strip()}
KNOWN = {"nohealth", "rl1rt", "keycache"}


def apply() -> None:
    unknown = VARIANTS - KNOWN
    if unknown:
        raise SystemExit(f"BENCH_WHATIF: unknown variant(s) {sorted(unknown)}; known: {sorted(KNOWN)}")
    if "rl1rt" in VARIANTS:
        _one_roundtrip_rate_limit()
    if "keycache" in VARIANTS:
        _process_local_key_rows()


def _one_roundtrip_rate_limit() -> None:
    import redis
    from django.core.cache import cache

    from api import ratelimit

    backend = cache._cache  # django.core.cache.backends.redis.RedisCacheClient
    client = redis.Redis(connection_pool=backend._get_connection_pool(write=True))

    def _count(key_pk: int, window: int) -> int | None:
        name = cache.make_and_validate_key(f"api:rl:{key_pk}:{window}")
        pipe = client.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, ratelimit.WINDOW_SECONDS + 5, nx=True)
        count, _ = pipe.execute()
        return int(count)

    ratelimit._count = _count


def _process_local_key_rows() -> None:
    from api import auth
    from projects.models import ApiKey

    rows: dict[str, ApiKey] = {}

    class Lookup:
        def select_related(self, *fields):
            return self

        def get(self, *, key_hash: str) -> ApiKey:
            row = rows.get(key_hash)
            if row is None:
                row = rows[key_hash] = ApiKey.objects.select_related("project").get(key_hash=key_hash)
            return row

    class CachedApiKey:
        DoesNotExist = ApiKey.DoesNotExist
        objects = Lookup()

    auth.ApiKey = CachedApiKey
