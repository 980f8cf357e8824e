"""Database queries and Redis round-trips per request, counted in-process.

The same settings (the server's environment: the console's keys_console.settings, or the peer's
bench.peer.settings), database and keys as the load runs, through Django's test Client (the whole
middleware stack and URL routing, no HTTP server). For each row: a few warm-up requests, then N
requests inside CaptureQueriesContext, while every Redis command or pipeline sent is counted at the
socket (redis-py's `send_packed_command`, called once per round-trip). Reads a JSON list of rows on
stdin ({"name", "path", "headers", "expect", "method", "body"}) and prints a JSON object keyed by row name.

What Django's query log does not see, the load runs measure on the server side: the persistent
connection health check (`SELECT 1`, run once per request that uses the database) and the usage
counters written every API_USAGE_FLUSH_SECONDS.
"""

import json
import os
import sys
from collections import Counter

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keys_console.settings")
django.setup()

import redis.connection  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

WARMUP = 5
N = 50

_redis_sends = 0
_original_send = redis.connection.AbstractConnection.send_packed_command


def _counting_send(self, command, check_health=True):
    global _redis_sends
    _redis_sends += 1
    return _original_send(self, command, check_health)


redis.connection.AbstractConnection.send_packed_command = _counting_send


def measure(client: Client, row: dict) -> dict:
    global _redis_sends
    headers = {k: v for k, v in row["headers"].items() if k.lower() != "content-type"}

    def send():
        if row.get("method", "GET") == "POST":
            return client.post(row["path"], row.get("body") or "", content_type="application/json", headers=headers)
        return client.get(row["path"], headers=headers)

    for _ in range(WARMUP):
        send()
    statuses = Counter()
    _redis_sends = 0
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(N):
            statuses[send().status_code] += 1
    sql = Counter(q["sql"] for q in ctx.captured_queries)
    return {
        "requests": N,
        "statuses": {str(k): v for k, v in statuses.items()},
        "queries_per_request": len(ctx.captured_queries) / N,
        "redis_roundtrips_per_request": _redis_sends / N,
        "distinct_sql": [{"count": c, "sql": s} for s, c in sql.most_common()],
    }


def main() -> None:
    rows = json.load(sys.stdin)
    client = Client()
    print(json.dumps({row["name"]: measure(client, row) for row in rows}))


if __name__ == "__main__":
    main()
