"""Where a request's time goes under gunicorn: py-spy samples one worker while wrk drives one row.

    .venv/bin/python bench/profile_api.py [--rows 2,2p,3,3p] [--seconds 10] [--rate 997] [--connections 4]

Seeds fresh bench databases and starts the console's gunicorn and the peer project's, each with ONE
sync worker (one process to sample), then for each row: wrk keeps that worker busy while `py-spy
record --idle --nonblocking` samples it, so the profile holds wall-clock time, waits on PostgreSQL
and Redis included (what a sync worker pays for). Prints, per row: the share of request time per
component (each sample goes to the innermost non-stdlib frame on its stack, so a socket wait counts
for the driver that waits), the functions with the largest inclusive share, and the hottest leaf
lines. Raw stacks (collapsed format, for speedscope or flamegraph.pl) go to
bench/results/profile-<time>/.

py-spy is installed into the venv on first use (it is a profiling tool, not a bench dependency).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

os.environ["BENCH_WORKERS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench  # noqa: E402

STDLIB = sysconfig.get_paths()["stdlib"]
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")

# (component, test on the file path), checked in order against the innermost non-stdlib frame.
COMPONENTS = [
    ("PostgreSQL: psycopg (send, wait, parse)", lambda f: "/psycopg" in f),
    ("Django ORM + db layer (build SQL, make objects)", lambda f: "/django/db/" in f),
    ("Redis: redis-py (send, wait, parse)", lambda f: "/redis/" in f),
    ("Django cache layer", lambda f: "/django/core/cache/" in f),
    ("django-ninja + pydantic", lambda f: "/ninja/" in f or "/pydantic" in f),
    ("DRF + djangorestframework-api-key", lambda f: "/rest_framework" in f),
    ("gunicorn (accept, parse HTTP, write)", lambda f: "/gunicorn/" in f),
    ("Django (handler, middleware, URLs, response)", lambda f: "/django/" in f),
    ("app: api/", lambda f: f.startswith(str(bench.ROOT / "api") + "/")),
    ("app: keys/ (keygen, models)", lambda f: f.startswith(str(bench.ROOT / "keys") + "/")),
    ("app: projects/", lambda f: f.startswith(str(bench.ROOT / "projects") + "/")),
    ("app: keys_console/ (middleware, logging)", lambda f: f.startswith(str(bench.ROOT / "keys_console") + "/")),
    ("passlib", lambda f: "/passlib/" in f),
    ("bench/peer/ (the peer's views)", lambda f: f.startswith(str(bench.BENCH) + "/")),
]


# Costs worth naming, as (label, substring of a frame "function (file:line)"); inclusive shares.
FOCUS = [
    ("database health check, SELECT 1 (CONN_HEALTH_CHECKS)", "DatabaseWrapper.is_usable ("),
    ("ORM queries, QuerySet.get (incl. the health check)", "QuerySet.get ("),
    ("ORM SQL compilation (SQLCompiler.as_sql)", "SQLCompiler.as_sql ("),
    ("rate limit, api/ratelimit.py", "/api/ratelimit.py"),
    ("  Django RedisCache.incr (EXISTS + INCR)", "RedisCache.incr ("),
    ("  new redis.Redis object per cache call (get_client)", "RedisCacheClient.get_client ("),
    ("usage bookkeeping, api/usage.py", "/api/usage.py"),
    ("key format + checksum (keygen.is_well_formed)", "is_well_formed ("),
    ("key hashing (keygen.hash_key + verify_key)", ("keygen.py", "hash_key ("), ("keygen.py", "verify_key (")),
    ("ninja response validation + JSON", "Operation._result_to_response ("),
    ("DRF permission (HasAPIKey.has_permission)", "BaseHasAPIKey.has_permission ("),
    ("request log line, Logger.info (record, JSON, write)", "Logger.info ("),
    ("  JSON formatter (keys_console.observability)", "JsonFormatter.format ("),
    ("Django's 4xx warning line (log_response)", "log_response ("),
    ("gunicorn: write the response", "/gunicorn/util.py:"),
    ("gunicorn: read + parse the request", "/gunicorn/http/"),
]


def parse_frame(text: str) -> tuple[str, str, str]:
    m = FRAME.match(text)
    if not m:
        return text, "", ""
    return m["func"], m["file"], m["line"] or ""


def is_stdlib(path: str) -> bool:
    return path.startswith(STDLIB) and "site-packages" not in path or path.startswith("<")


def component(stack: list[tuple[str, str, str]]) -> str:
    for _func, path, _ in reversed(stack):
        if is_stdlib(path) or not path:
            continue
        for name, test in COMPONENTS:
            if test(path):
                return name
        return "other: " + path.rsplit("site-packages/", 1)[-1].split("/", 1)[0]
    return "stdlib only"


def full(frame: tuple[str, str, str]) -> str:
    func, path, line = frame
    return f"{func} ({path}{':' + line if line else ''})"


def short_path(text: str) -> str:
    return re.sub(r"\(\S*?/site-packages/", "(", text).replace(str(bench.ROOT) + "/", "")


def focus_share(needles, inclusive: Counter) -> int:
    """Samples under a FOCUS entry: per needle, the largest matching frame (nested matches count once)."""
    if isinstance(needles, str):
        needles = [needles]
    total = 0
    for needle in needles:
        parts = (needle,) if isinstance(needle, str) else needle
        counts = [n for frame, n in inclusive.items() if all(p in frame for p in parts)]
        total += max(counts, default=0)
    return total


def short(frame: tuple[str, str, str]) -> str:
    func, path, line = frame
    path = path.rsplit("site-packages/", 1)[-1].replace(str(bench.ROOT) + "/", "")
    return f"{func} ({path}{':' + line if line else ''})"


def summarise(raw: Path, top: int = 22) -> str:
    in_request: list[tuple[list, int]] = []
    idle = 0
    for text in raw.read_text().splitlines():
        stack_text, _, count = text.rpartition(" ")
        if not count.isdigit():
            continue
        stack = [parse_frame(f) for f in stack_text.split(";") if f]
        n = int(count)
        # A sync worker serves a request inside handle_request; everything else is waiting for one.
        if any(func.endswith("handle_request") and "gunicorn" in path for func, path, _ in stack):
            in_request.append((stack, n))
        else:
            idle += n
    total = sum(n for _, n in in_request)
    if not total:
        return "no samples inside requests (is the row answering?)"
    by_component: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for stack, n in in_request:
        by_component[component(stack)] += n
        for frame in {full(f) for f in stack if f[1] and not is_stdlib(f[1])}:
            inclusive[frame] += n
        leaf[short(stack[-1])] += n
    lines = [
        f"{total} samples inside requests ({idle} outside: the worker waiting for a connection)",
        "",
        "share of request time by component (innermost non-stdlib frame):",
    ]
    for name, n in by_component.most_common():
        lines.append(f"  {100 * n / total:5.1f}%  {name}")
    lines += ["", "named costs (inclusive share of request time):"]
    for label, *needles in FOCUS:
        n = focus_share(needles, inclusive)
        if n:
            lines.append(f"  {100 * n / total:5.1f}%  {label}")
    lines += ["", f"top {top} functions by inclusive share (gunicorn and frames above 90% left out):"]
    shown = [(f, n) for f, n in inclusive.most_common() if n < 0.9 * total and "/gunicorn/" not in f]
    for frame, n in shown[:top]:
        lines.append(f"  {100 * n / total:5.1f}%  {short_path(frame)}")
    lines += ["", "hottest leaf frames (where the sample landed):"]
    for frame, n in leaf.most_common(12):
        lines.append(f"  {100 * n / total:5.1f}%  {frame}")
    return "\n".join(lines)


def ensure_py_spy() -> str:
    exe = bench.BIN / "py-spy"
    if not exe.exists():
        # The venv is uv's (no pip in it): uv from .tools/ (the Makefile's) installs into it.
        uv = bench.ROOT / ".tools" / "bin" / "uv"
        subprocess.run([str(uv), "pip", "install", "--quiet", "--python", bench.PY, "py-spy"], check=True)
    return str(exe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="2,2p,3,3p", help="row ids, comma-separated (default: 2,2p,3,3p)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=997, help="samples per second")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    py_spy = ensure_py_spy()
    out_dir = bench.BENCH / "results" / ("profile-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    out_dir.mkdir(parents=True)
    rows = {r.id: r for r in bench.make_rows(bench.seed())}
    wanted = [rows[row_id.strip()] for row_id in args.rows.split(",")]
    servers = bench.make_servers({row.server for row in wanted})
    report = []
    try:
        for server in servers.values():
            server.start(out_dir)
        for server in servers.values():
            server.wait_ready()
        for row in wanted:
            worker = servers[row.server].workers()[0]
            status, body = bench.fetch_row(row)
            if not row.accepts(status):
                report.append(f"== row {row.id} {row.label}: not profiled, got {status}: {body[:100]!r}")
                continue
            bench.wrk(row, 2, None)  # warm
            raw = out_dir / f"row{row.id}.collapsed.txt"
            spy = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(worker),
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(args.seconds),
                    "--idle",
                    "--nonblocking",
                    "--function",
                    "--full-filenames",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.5)
            saved = (bench.CONNECTIONS, bench.THREADS)
            bench.CONNECTIONS, bench.THREADS = args.connections, 1
            try:
                result = bench.wrk(row, args.seconds + 1, out_dir / f"row{row.id}.wrk.txt")
            finally:
                bench.CONNECTIONS, bench.THREADS = saved
            _, err = spy.communicate(timeout=60)
            if spy.returncode != 0 or not raw.exists():
                report.append(f"== row {row.id}: py-spy failed ({spy.returncode}): {err[-500:]}")
                continue
            report.append(
                f"== row {row.id} {row.label}: {result['rps']:.0f} req/s with 1 worker under py-spy, "
                f"-c{args.connections}\n" + summarise(raw)
            )
    finally:
        for server in servers.values():
            server.stop()
    text = "\n\n".join(report)
    (out_dir / "summary.txt").write_text(text + "\n")
    print(text)
    bench.log(f"raw stacks in {out_dir.relative_to(bench.ROOT)}")


if __name__ == "__main__":
    main()
