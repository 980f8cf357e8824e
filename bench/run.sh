#!/usr/bin/env bash
# `make bench`: install what the benchmark needs, make sure PostgreSQL and Redis answer, then run
# bench/bench.py (it seeds a fresh database, starts gunicorn, drives it with wrk, prints the table).
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

# 3. PostgreSQL and Redis on loopback (started the way these machines start them, if down).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "bench: starting PostgreSQL" >&2
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
fi
if ! port_open 6379 && command -v redis-server >/dev/null 2>&1; then
    echo "bench: starting Redis" >&2
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null
fi
for _ in $(seq 50); do port_open 5432 && port_open 6379 && break; sleep 0.2; done
port_open 5432 || { echo "bench: PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
port_open 6379 || { echo "bench: Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }

# 4. Run. bench.py stops gunicorn itself; the trap is the backstop if it is killed hard.
mkdir -p bench/results
PIDFILE=bench/results/gunicorn.pid
cleanup() {
    if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        kill "$(cat "$PIDFILE")" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$PY" bench/bench.py "$@"
"$PY" bench/console.py
