"""keys_console/gunicorn_conf.py, the web hosts' gunicorn configuration: no control socket, gunicorn's
own lines in JSON with LOG_FORMAT=json, and SIGTERM's drain. (The drain under load, behind a real
HAProxy that does not retry: tests/reliability/test_drain.py.)"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from keys_console import drain, gunicorn_conf

REPO = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
CONFIG = "keys_console/gunicorn_conf.py"


def resolved_config(**env) -> dict[str, str]:
    """gunicorn's own reading of the configuration file (`--print-config`), with `env` (it prints the
    settings, then loads the app, which needs more of the environment than asked for here)."""
    environ = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    done = subprocess.run(
        [str(GUNICORN), "--print-config", "-c", CONFIG, "keys_console.wsgi"],
        cwd=REPO,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)


def test_the_configuration_turns_the_control_socket_off_and_drains_on_stop():
    """gunicorn 25+ opened a control socket at $HOME/.gunicorn/: in the image /app/.gunicorn, not
    writable by the app's user ("Control server error: [Errno 13] Permission denied")."""
    config = {k.strip(): v.strip() for k, v in resolved_config(DEBUG="0").items()}
    assert config["control_socket_disable"] == "True"
    assert config["accesslog"] == "None"  # the app writes the request line, never the full path
    assert config["graceful_timeout"] == "30" and config["timeout"] == "30"
    assert config["when_ready"] == "<when_ready()>" and config["child_exit"] == "<child_exit()>"
    assert config["logger_class"] == "<JsonLogger()>"
    plain = {k.strip(): v.strip() for k, v in resolved_config(DEBUG="0", LOG_FORMAT="plain").items()}
    assert plain["logger_class"] == "gunicorn.glogging.Logger"


def test_gunicorns_own_lines_are_json_like_the_apps(capsys):
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("errorlog", "-")
    logger = gunicorn_conf.JsonLogger(cfg)
    logger.info("Booting worker with pid: %s", 4242)
    logger.warning("Worker (pid:%s) was sent SIGKILL!", 4242)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == [
        "Booting worker with pid: 4242",
        "Worker (pid:4242) was sent SIGKILL!",
    ]
    assert lines[0]["logger"] == "gunicorn.error" and lines[0]["level"] == "INFO" and "time" in lines[0]


class Arbiter:
    """What install_drain uses of gunicorn's arbiter."""

    def __init__(self):
        self.queued: list[int] = []
        self.stopped = False
        self.log = self

    def info(self, *args):
        pass

    def handle_term(self):
        self.stopped = True
        raise StopIteration

    def signal(self, sig, frame):
        self.queued.append(sig)


def test_sigterm_drains_first_then_stops(monkeypatch):
    timers = []
    monkeypatch.setattr(signal, "setitimer", lambda which, seconds: timers.append(seconds))
    previous = signal.getsignal(signal.SIGALRM)
    arbiter = Arbiter()
    gunicorn_conf.install_drain(arbiter, 6.0)
    try:
        arbiter.handle_term()  # SIGTERM: the drain starts, gunicorn keeps serving
        assert drain.draining() and not arbiter.stopped and timers == [6.0]
        signal.getsignal(signal.SIGALRM)(signal.SIGALRM, None)  # 6 s later
        assert arbiter.queued == [signal.SIGTERM]
        with pytest.raises(StopIteration):
            arbiter.handle_term()  # the queued SIGTERM: gunicorn's graceful stop
        assert arbiter.stopped
    finally:
        drain.stop()
        signal.signal(signal.SIGALRM, previous)


def test_the_default_drain_outlasts_the_shipped_balancers_checks():
    import re

    shipped = (REPO / "deploy" / "haproxy.cfg").read_text()
    inter, fall = re.search(r"default-server inter (\d+)s fall (\d+)", shipped).groups()
    assert int(inter) * int(fall) + 1 <= gunicorn_conf.DEFAULT_DRAIN_SECONDS
