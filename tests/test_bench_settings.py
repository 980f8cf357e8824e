"""The bench measures the console as shipped, against a peer deployed the way its users deploy it.

Fast checks (no server, no timing) that the handicaps found in an earlier bench cannot come back
silently: a bench settings module replacing the production LOGGING (the request log was off in every
row) or middleware, and a DRF peer served inside the console's process behind the console's stack.
"""

import ast
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from bench import bench

ROOT = Path(__file__).resolve().parent.parent
# Settings a bench module must never set for the console: only keys_console.settings does.
SHIPPED_ONLY = {"LOGGING", "MIDDLEWARE", "ROOT_URLCONF", "SILENCED_SYSTEM_CHECKS", "INSTALLED_APPS", "DEBUG"}
# Everything the production profile's documented environment may hold, plus what any process needs.
PRODUCTION_ENV = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "CONN_MAX_AGE"}
PROCESS_ENV = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ", "PYTHONPATH"}
PYTHON_FLAGS = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}


def shipped_settings(env: dict[str, str]) -> dict:
    """The settings a process started with `env` gets (LOGGING, MIDDLEWARE & co.), read in a fresh
    interpreter, as gunicorn's workers would read them."""
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({k: getattr(settings, k, None) for k in "
        "('LOGGING', 'MIDDLEWARE', 'ROOT_URLCONF', 'SILENCED_SYSTEM_CHECKS', 'INSTALLED_APPS', 'DEBUG')}, default=str))"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bench_serves_the_console_through_its_shipped_wsgi_module_and_settings():
    ours = bench.make_servers({"ours"})["ours"]
    assert ours.wsgi == "keys_console.wsgi:application"
    assert ours.env["DJANGO_SETTINGS_MODULE"] == "keys_console.settings"
    assert ours.env["DEBUG"] == "0"
    # Nothing but the production profile's environment: no LOG_LEVEL, LOG_FORMAT or the like.
    assert set(ours.env) <= PRODUCTION_ENV | PROCESS_ENV | PYTHON_FLAGS, set(ours.env) - PRODUCTION_ENV - PROCESS_ENV


def test_bench_does_not_override_the_shipped_logging_or_middleware():
    ours = bench.make_servers({"ours"})["ours"]
    production = {k: ours.env[k] for k in ours.env if k not in {"DJANGO_SETTINGS_MODULE"}}
    production["DJANGO_SETTINGS_MODULE"] = "keys_console.settings"
    for name in ("LOG_LEVEL", "LOG_FORMAT"):
        production.pop(name, None)
    served, shipped = shipped_settings(ours.env), shipped_settings(production)
    assert served == shipped
    # ... and that is the production profile's request log: JSON lines at INFO.
    logging = served["LOGGING"]
    assert logging["loggers"]["keys_console.request"]["level"] == "INFO"
    assert logging["handlers"]["console"]["formatter"] == "json"
    assert served["DEBUG"] is False


def test_every_server_runs_as_many_workers_as_the_image_ships(monkeypatch):
    """gunicorn with the image's WEB_CONCURRENCY sync workers (more than the CPUs: a worker waiting
    on Redis or PostgreSQL leaves its CPU to another), the same for ours and the peer."""
    import re

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    shipped = int(re.search(r"WEB_CONCURRENCY=(\d+)", dockerfile).group(1))
    assert bench.shipped_workers() == shipped
    if not os.environ.get("BENCH_WORKERS"):
        assert shipped == bench.WORKERS
    servers = bench.make_servers({"ours", "peer", "quiet"})
    commands = [server.command(ROOT / "bench" / "results") for server in servers.values()]
    assert [command[command.index("--workers") + 1] for command in commands] == [str(bench.WORKERS)] * 3


def test_ours_runs_the_gunicorn_configuration_the_image_runs():
    """The image's entry point passes keys_console/gunicorn_conf.py (JSON gunicorn lines, drain
    hooks, timeouts); the bench's servers of the console pass the same file, the peer none."""
    import re

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    entry = re.search(r'"--config", "([^"]+)"', dockerfile).group(1)
    servers = bench.make_servers({"ours", "peer", "quiet"})
    commands = {name: server.command(ROOT / "bench" / "results") for name, server in servers.items()}
    for name in ("ours", "quiet"):
        assert commands[name][commands[name].index("--config") + 1] == entry
    assert "--config" not in commands["peer"]


def test_no_bench_module_sets_the_consoles_settings():
    """A bench settings module (as bench/settings.py once was, with a quiet LOGGING) would have to
    assign these; only the peer's own project (bench/peer/) has settings."""
    offenders = []
    for path in sorted((ROOT / "bench").rglob("*.py")):
        if (ROOT / "bench" / "peer") in path.parents:
            continue
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in SHIPPED_ONLY:
                    offenders.append(f"{path.relative_to(ROOT)}: {target.id}")
            if isinstance(node, ast.ImportFrom) and node.module == "keys_console.settings":
                offenders.append(f"{path.relative_to(ROOT)}: from keys_console.settings import ...")
    assert offenders == []


def test_the_log_off_variant_is_printed_beside_the_shipped_rows_never_instead():
    servers = bench.make_servers({"ours", "quiet", "peer"})
    assert servers["quiet"].env == {**servers["ours"].env, "LOG_LEVEL": "WARNING"}
    data = {
        "key": "k",
        "questions_key": "q",
        "next_key": "n",
        "answered": [1],
        "invalid": {"malformed": "m", "bad_checksum": "b", "unknown": "u"},
        "peer": {"drf_key": "d", "answered": [1]},
    }
    rows = {row.id: row for row in bench.make_rows(data)}
    quiet = {row_id for row_id, row in rows.items() if row.server == "quiet"}
    assert quiet and all(row_id.endswith("q") and "log off" in rows[row_id].label for row_id in quiet)
    # Every target is judged on the shipped rows; the variant has no target of its own.
    for num, den, target, _ in bench.COMPARISONS:
        if target is not None:
            assert rows[num].server == "ours" and rows[den].server == "peer", (num, den)
    # The bare and DRF references run in the peer's project, not in the console's process.
    for row_id in ("1", "1L", "2p", "3p", "4p"):
        assert rows[row_id].server == "peer"


def test_peer_project_has_startprojects_settings(tmp_path):
    call_command("startproject", "peersite", str(tmp_path))
    spec = importlib.util.spec_from_file_location("peersite_settings", tmp_path / "peersite" / "settings.py")
    assert spec and spec.loader
    startproject = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(startproject)
    peer = importlib.import_module("bench.peer.settings")

    assert peer.MIDDLEWARE == startproject.MIDDLEWARE
    assert peer.TEMPLATES == startproject.TEMPLATES
    assert peer.AUTH_PASSWORD_VALIDATORS == startproject.AUTH_PASSWORD_VALIDATORS
    assert peer.INSTALLED_APPS[: len(startproject.INSTALLED_APPS)] == startproject.INSTALLED_APPS
    assert {"rest_framework", "rest_framework_api_key"} <= set(peer.INSTALLED_APPS)
    assert not hasattr(peer, "LOGGING")  # Django's default logging, as startproject leaves it
    # None of the console: no app, no middleware, no settings of ours.
    console = {"keys_console", "accounts", "projects", "keys", "api", "allauth", "ninja", "django_htmx"}
    assert not {entry.split(".")[0] for entry in peer.INSTALLED_APPS + peer.MIDDLEWARE} & console
    # The deployment checklist's changes.
    assert peer.DEBUG is False
    assert peer.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert peer.DATABASES["default"]["CONN_MAX_AGE"] == 600


def test_peer_project_loads_on_its_own():
    """The peer's project passes Django's checks, its migrations match its models, and it loads
    none of the console's modules. Needs the `bench` group (DRF, djangorestframework-api-key)."""
    pytest.importorskip("rest_framework_api_key")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.peer.settings", "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    script = (
        "import json, sys, django; django.setup(); "
        "from django.core.management import call_command; "
        "call_command('check', fail_level='WARNING'); "
        "call_command('makemigrations', '--check', '--dry-run', verbosity=0); "
        "import bench.peer.urls; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'keys_console', 'accounts', 'projects', 'keys', 'api'})))"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
