"""What-if variants of the runtime API's hot path, applied at run time, for measurement only.

`BENCH_WHATIF=nohealth,rl1rt,keycache bash bench/run.sh` (or bench/whatif.sh) serves the console
through `bench.wsgi` with these changes, to put a number on each suggested optimisation before
anyone writes it for real. Nothing here is used by the product, and the api/ code is not edited.

- nohealth: CONN_HEALTH_CHECKS off (bench/settings.py reads it): no `SELECT 1` before the first
  query of each request. Applies to every row, the peer included.
- rl1rt:    the rate-limit counter in ONE Redis round-trip (pipeline: INCR, EXPIRE NX) on a
  client built once per process, instead of Django's `cache.incr` (EXISTS, then INCR, each on a
  newly built redis.Redis object). Same keys, same window, same limit.
- rawsql:   the key lookup as one hand-written SELECT ... JOIN (the same columns the ORM's
  `select_related("project").get(key_hash=...)` reads, model instances built directly) instead of
  the ORM compiling the query on every request. Same single query, same data, revocation intact.
- keycache: the key row (with its project) kept in process memory after the first lookup: NO
  query on the hot path. NOT revocation-safe: an upper bound for a real design that fetches the
  key record from Redis in the same round-trip as the rate-limit counter, and deletes it there
  when the key is revoked, rotated, deleted or edited.
- luafetch: api/keycache.py's one round trip (six commands in a pipeline) as one Redis script.
- rediskey: that real design, minus the invalidation (a write-path cost): one Redis pipeline per
  request reads the key record (stored on a miss, from the hand-written query) and counts the
  request. No query on the hot path. Implies the one-round-trip rate limit.
"""

import os

VARIANTS = {v.strip() for v in os.environ.get("BENCH_WHATIF", "").split(",") if v.strip()}
KNOWN = {"nohealth", "rl1rt", "rawsql", "keycache", "rediskey", "luafetch"}


def apply() -> None:
    unknown = VARIANTS - KNOWN
    if unknown:
        raise SystemExit(f"BENCH_WHATIF: unknown variant(s) {sorted(unknown)}; known: {sorted(KNOWN)}")
    if "luafetch" in VARIANTS:
        _lua_fetch()
    if "rl1rt" in VARIANTS:
        _one_roundtrip_rate_limit()
    if "rediskey" in VARIANTS:
        _redis_key_record()
    elif VARIANTS & {"rawsql", "keycache"}:
        _key_lookup(raw="rawsql" in VARIANTS, cached="keycache" in VARIANTS)


# luafetch: api.keycache's per-request round trip (a pipeline of GET, INCR, EXPIRE NX, SET NX EX,
# GET, EXISTS) as ONE server-side script: the same keys and answers, one command to pack and one
# reply to parse instead of six. Not in api/ because api/keycache.py is being changed by other work
# (account keys add a command to the pipeline); measured here to decide after those land.
FETCH_SCRIPT = """
local record = redis.call('GET', KEYS[1])
local count = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1], 'NX')
local first = redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[1])
local failures = redis.call('GET', KEYS[4])
local known = redis.call('EXISTS', KEYS[5])
return {record, count, first and 1 or 0, failures, known}
"""


def _lua_fetch() -> None:
    from django.core.cache import cache

    from api import keycache

    scripts = {}

    def fetch(self, key_hash: str, window: int, client: str):
        redis_client = self.client()
        script = scripts.get(id(redis_client)) or scripts.setdefault(
            id(redis_client), redis_client.register_script(FETCH_SCRIPT)
        )
        names = [
            *keycache._names(key_hash, window),
            keycache._failures_name(client, window),
            keycache._known_name(key_hash),
        ]
        raw, count, first, failures, known = script(
            keys=[cache.make_key(n) for n in names], args=[keycache.WINDOW_SECONDS + 5], client=redis_client
        )
        return keycache.Snapshot(
            record=keycache._decode(raw),
            count=int(count),
            first_use_this_minute=bool(first),
            failures=int(failures or 0),
            known_key=bool(known),
        )

    keycache._RedisStore.fetch = fetch


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


KEY_SQL = (
    "SELECT k.id, k.project_id, k.name, k.key_id, k.key_hash, k.last4, k.permissions, k.expiry_rule, "
    "k.created_by_id, k.created_at, k.expires_at, k.revoked_at, k.revoked_by_id, k.rotated_from_id, "
    "k.last_used_at, k.last_used_ip, k.rate_limit_per_minute, p.slug, p.name, p.created_by_id, p.created_at, "
    "k.state, k.stops_at "
    "FROM projects_apikey k JOIN projects_project p ON p.id = k.project_id WHERE k.key_hash = %s"
)


def _fetch_row(key_hash: str) -> tuple:
    """The key and its project in one hand-written query (what select_related("project") reads)."""
    import json

    from django.db import connection

    from projects.models import ApiKey

    with connection.cursor() as cursor:
        cursor.execute(KEY_SQL, [key_hash])
        row = cursor.fetchone()
    if row is None:
        raise ApiKey.DoesNotExist
    row = list(row)
    if isinstance(row[6], str):  # Django's psycopg backend hands JSON columns over as text
        row[6] = json.loads(row[6])
    return tuple(row)


def _build(row: tuple):
    from projects.models import ApiKey, Project

    key = ApiKey(
        id=row[0],
        project_id=row[1],
        name=row[2],
        key_id=row[3],
        key_hash=row[4],
        last4=row[5],
        permissions=row[6],
        expiry_rule=row[7],
        created_by_id=row[8],
        created_at=row[9],
        expires_at=row[10],
        revoked_at=row[11],
        revoked_by_id=row[12],
        rotated_from_id=row[13],
        last_used_at=row[14],
        last_used_ip=row[15],
        rate_limit_per_minute=row[16],
        state=row[21],
        stops_at=row[22],
    )
    key.project = Project(id=row[1], slug=row[17], name=row[18], created_by_id=row[19], created_at=row[20])
    return key


def _patch_lookup(get) -> None:
    from api import auth
    from projects.models import ApiKey

    class Lookup:
        def select_related(self, *fields):
            return self

        def get(self, *, key_hash: str):
            return get(key_hash)

    class PatchedApiKey:
        DoesNotExist = ApiKey.DoesNotExist
        objects = Lookup()

    auth.ApiKey = PatchedApiKey


def _key_lookup(*, raw: bool, cached: bool) -> None:
    from projects.models import ApiKey

    def fetch(key_hash: str):
        if raw:
            return _build(_fetch_row(key_hash))
        return ApiKey.objects.select_related("project").get(key_hash=key_hash)

    rows: dict = {}

    def get(key_hash: str):
        if not cached:
            return fetch(key_hash)
        row = rows.get(key_hash)
        if row is None:
            row = rows[key_hash] = fetch(key_hash)
        return row

    _patch_lookup(get)


def _redis_key_record() -> None:
    """The realistic form of `keycache`: key record and rate-limit counter in ONE Redis round-trip.

    Pipeline: GET the key record (by key hash), INCR this window's counter, EXPIRE NX. On a miss the
    record comes from the database (hand-written query) and is stored for 5 minutes. The counter is
    keyed by the key hash, since the key's id is not known before the record is read. A real design
    must also delete the record when the key changes (revoke, rotate, delete, admin edits); that
    costs the write path only, so it is left out of this measurement.
    """
    import pickle
    import threading

    import redis
    from django.core.cache import cache

    from api import clock, ratelimit

    client = redis.Redis(connection_pool=cache._cache._get_connection_pool(write=True))
    counted = threading.local()
    last_seen: dict = {}
    original_count = ratelimit._count

    def get(key_hash: str):
        window = int(clock.now().timestamp() // ratelimit.WINDOW_SECONDS)
        record, counter = f"bench:key:{key_hash}", f"bench:rl:{key_hash[:32]}:{window}"
        pipe = client.pipeline(transaction=False)
        pipe.get(record)
        pipe.incr(counter)
        pipe.expire(counter, ratelimit.WINDOW_SECONDS + 5, nx=True)
        stored, count, _ = pipe.execute()
        if stored is None:
            row = _fetch_row(key_hash)  # raises DoesNotExist for an unknown key
            client.set(record, pickle.dumps(row), ex=300)
        else:
            row = pickle.loads(stored)
        counted.value = int(count)
        key = _build(row)
        # The stored record's last_used_at is as old as the record: carry over what this process
        # last wrote (api.usage.touch_last_used sets it on the instance), or every request would
        # issue the "last used" UPDATE. A real design keeps last use out of the cached record.
        previous = last_seen.get(key_hash)
        if (
            previous is not None
            and previous.last_used_at is not None
            and (key.last_used_at is None or previous.last_used_at > key.last_used_at)
        ):
            key.last_used_at, key.last_used_ip = previous.last_used_at, previous.last_used_ip
        last_seen[key_hash] = key
        return key

    def _count(key_pk: int, window: int):
        value = counted.__dict__.pop("value", None)
        return value if value is not None else original_count(key_pk, window)

    ratelimit._count = _count
    _patch_lookup(get)
