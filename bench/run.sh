#!/usr/bin/env bash
# `make bench`: install what the benchmark needs, make sure PostgreSQL and Redis answer, then run
# bench/bench.py (it seeds fresh databases, starts the console's gunicorn and the peer project's,
# drives them with wrk, prints the table).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
    echo "bench: no .venv; run 'make bench' (it creates it) or 'make venv' first" >&2
    exit 1
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. wrk, the load generator (Debian package).
if ! command -v wrk >/dev/null 2>&1; then
    echo "bench: installing wrk (apt-get)" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

# 2. The peer (DRF + djangorestframework-api-key, the `bench` dependency group) and gunicorn.
if ! "$PY" -c 'import rest_framework, rest_framework_api_key, gunicorn' 2>/dev/null; then
    echo "bench: the bench dependency group is missing: run 'make bench' (uv sync --locked --group bench)" >&2
    exit 1
fi

# 3. PostgreSQL and Redis on loopback (started the way these machines start them, if down), on the
#    ports BENCH_DATABASE_URL and BENCH_REDIS_URL name (5432 and 6379 by default).
port_of() { local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; [[ "$rest" == *:* ]] && echo "${rest##*:}" || echo "$2"; }
PG_PORT=$(port_of "${BENCH_DATABASE_URL:-postgres://127.0.0.1:5432/}" 5432)
REDIS_PORT=$(port_of "${BENCH_REDIS_URL:-redis://127.0.0.1:6379/}" 6379)
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open "$PG_PORT" && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "bench: starting PostgreSQL" >&2
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
fi
if ! port_open "$REDIS_PORT" && command -v redis-server >/dev/null 2>&1; then
    echo "bench: starting Redis on port $REDIS_PORT" >&2
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
fi
for _ in $(seq 50); do port_open "$PG_PORT" && port_open "$REDIS_PORT" && break; sleep 0.2; done
port_open "$PG_PORT" || { echo "bench: PostgreSQL is not answering on 127.0.0.1:$PG_PORT" >&2; exit 1; }
port_open "$REDIS_PORT" || { echo "bench: Redis is not answering on 127.0.0.1:$REDIS_PORT" >&2; exit 1; }

# 4. Run. bench.py stops its gunicorns itself (each in a session of its own); the trap is the
#    backstop if it is killed hard: it stops the gunicorns whose pid files this run wrote.
mkdir -p bench/results
STARTED=bench/results/.started-$$
touch "$STARTED"
cleanup() {
    find bench/results -mindepth 2 -maxdepth 2 -name '*.pid' -newer "$STARTED" 2>/dev/null | while read -r pidfile; do
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    done
    rm -f "$STARTED"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$PY" bench/bench.py "$@"
"$PY" bench/console.py
