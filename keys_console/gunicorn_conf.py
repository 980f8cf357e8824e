"""gunicorn's configuration for every web host (the image's entry point, the systemd unit, the README):

    gunicorn -c keys_console/gunicorn_conf.py keys_console.wsgi -b 127.0.0.1:8000

- **Drain on stop.** SIGTERM (`docker stop`, `systemctl stop`, a rolling restart) first makes
  `/healthz` answer 503 while the host keeps serving for `DRAIN_SECONDS`, so the balancer's health
  checks take it out before it stops accepting; only then does gunicorn's own graceful stop run:
  close the listening socket, let each worker finish its request (`graceful_timeout`), exit. A
  second SIGTERM during the drain stops at once (gracefully); SIGINT and SIGQUIT stay immediate.
  The default drain (6 s) is the shipped HAProxy's `fall 2` × `inter 2s` plus 2 s: raise it with
  a balancer that checks less often. `DRAIN_SECONDS=0` stops at once, as plain gunicorn does.
  Whoever stops the host must wait `DRAIN_SECONDS` + `graceful_timeout` (compose:
  `stop_grace_period`, systemd: `TimeoutStopSec`).
- **No control socket** (gunicorn 25+ opens one at `$HOME/.gunicorn/gunicorn.ctl`: in the image
  `/app/.gunicorn`, which the app's user may not write, so every start logged `Control server
  error: [Errno 13] Permission denied`). Nothing here uses `gunicornc`.
- **One log format**: with `LOG_FORMAT=json` (the default with `DEBUG=0`) gunicorn's own lines
  (booting, worker exits, timeouts) are JSON objects like the app's (`keys_console.observability`).
- **Metrics across workers**: with `METRICS_TOKEN` set, prometheus-client's multiprocess mode —
  `PROMETHEUS_MULTIPROC_DIR` (a fresh temporary directory unless set; emptied at start), and each
  dead worker's live gauges dropped (`child_exit`), so `/metrics` adds up every worker's counts.

Every value comes from the environment through `keys_console/env.py`; command-line options
(`-w`, `-b`, `--timeout`) override what is set here. Loaded by the master before it forks: what it
imports (`keys_console.drain`'s shared flag) is shared with every worker.
"""

import glob
import os
import signal
import tempfile

from gunicorn import glogging

from keys_console import drain
from keys_console.env import env_bool, env_choice, env_float, env_str

# The shipped balancer (deploy/haproxy.cfg) checks every 2 s and takes a host out after 2 failures.
DEFAULT_DRAIN_SECONDS = 2 * 2 + 2.0
DRAIN_SECONDS = env_float("DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS, minimum=0.0)

timeout = 30
graceful_timeout = 30
control_socket_disable = True
# No access log: the app writes the request line (the route, never the path, which may hold a token).
accesslog = None

LOG_FORMAT = env_choice("LOG_FORMAT", "plain" if env_bool("DEBUG", False) else "json", ("json", "plain"))
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
loglevel = LOG_LEVEL.lower()


class JsonLogger(glogging.Logger):
    """gunicorn's logger, its lines written by the app's JsonFormatter (one JSON object per line)."""

    def setup(self, cfg):
        super().setup(cfg)
        from keys_console.observability import JsonFormatter

        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)


if LOG_FORMAT == "json":
    logger_class = JsonLogger

# --- metrics ----------------------------------------------------------------------------------------
METRICS = bool(env_str("METRICS_TOKEN"))
if METRICS:
    # Set before any worker imports prometheus_client (workers inherit the master's environment).
    metrics_dir = env_str("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="nbq-metrics-")
    os.makedirs(metrics_dir, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir


def on_starting(server):
    if METRICS:
        # Counts of a previous run would be added to this one's.
        for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
            os.remove(path)


def child_exit(server, worker):
    if METRICS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# --- drain on stop -----------------------------------------------------------------------------------
def when_ready(server):
    if DRAIN_SECONDS > 0:
        install_drain(server, DRAIN_SECONDS)


def install_drain(arbiter, seconds: float) -> None:
    """SIGTERM starts the drain; the master's own SIGTERM, `seconds` later, stops gunicorn."""
    stop_now = arbiter.handle_term  # raises StopIteration: gunicorn's graceful stop

    def handle_term():
        if drain.draining():
            stop_now()
        drain.start()
        arbiter.log.info("Draining: /healthz answers 503 for %.1f s while requests are served; then stopping", seconds)
        # SIGALRM (gunicorn leaves it alone) queues a SIGTERM for the arbiter's main loop.
        signal.signal(signal.SIGALRM, lambda signum, frame: arbiter.signal(signal.SIGTERM, frame))
        signal.setitimer(signal.ITIMER_REAL, seconds)

    arbiter.handle_term = handle_term
