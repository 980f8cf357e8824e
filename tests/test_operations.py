"""Operators: /healthz, request ids, structured logs (with the Key ID, never the key), Sentry
scrubbing, the `cleanup` command, and whitenoise's compressed manifest after collectstatic."""

import io
import json
import logging
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from keys.maintenance import CleanupResult, cleanup
from keys.models import KeyUsageDay
from keys.models.api_key import KeyState
from keys_console import health
from keys_console.observability import (
    JsonFormatter,
    PlainFormatter,
    RequestContextFilter,
    request_id_from,
    sentry_before_send,
)
from keys_console.version import VERSION
from projects.models import Invitation
from tests.factories import ApiKeyFactory, ProjectFactory

REPO = Path(__file__).resolve().parents[1]
DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


# --- /healthz -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_healthz_is_200_when_database_and_cache_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}, "version": VERSION}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_200_degraded_naming_the_cache_when_redis_does_not_answer(client, settings):
    """The API falls back to the database without Redis: the host can serve, so a balancer must
    keep it (503 here took every host out at once when their shared Redis went away)."""
    settings.CACHES = DEAD_REDIS
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["degraded"] == ["cache"]
    assert body["checks"] == {"database": "ok", "cache": "unavailable"}
    assert "127.0.0.1" not in response.content.decode()  # no addresses or error texts


@pytest.mark.django_db
def test_healthz_is_503_while_the_host_drains(client):
    from keys_console import drain

    drain.start()
    try:
        response = client.get("/healthz")
    finally:
        drain.stop()
    assert response.status_code == 503 and response.json()["status"] == "draining"
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_a_draining_hosts_503_is_not_logged_as_an_error_a_failing_database_is(client, caplog, monkeypatch):
    """Draining, the 503 is the signal the balancer waits for: Django's "Service Unavailable:
    /healthz" ERROR line (3-4 per drain, one Sentry event each) is dropped. The same 503 for a
    database that does not answer is an incident, and stays logged."""
    from keys_console import drain

    with caplog.at_level(logging.ERROR, logger="django.request"):
        drain.start()
        try:
            assert client.get("/healthz").status_code == 503
        finally:
            drain.stop()
        assert [r for r in caplog.records if r.name == "django.request"] == []

        def down():
            raise OperationalError("the database is down")

        monkeypatch.setitem(health.CHECKS, "database", down)
        assert client.get("/healthz").status_code == 503
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in logged] == [("ERROR", "Service Unavailable: /healthz")]


@pytest.mark.django_db
def test_healthz_answers_any_host_and_nothing_else_does(client, settings, caplog):
    """A balancer's probe names its own Host (an address, localhost): answered, and no
    DisallowedHost line; every other path keeps ALLOWED_HOSTS' 400."""
    settings.ALLOWED_HOSTS = ["keys.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    with caplog.at_level(logging.WARNING):
        for host in ("localhost", "10.1.2.3:8000", "app-7", "evil.example"):
            probe = client.get("/healthz", HTTP_HOST=host)
            assert probe.status_code == 200, (host, probe.content)
            assert probe.json()["status"] == "ok"
            assert client.head("/healthz", HTTP_HOST=host).status_code == 200
    assert not [r for r in caplog.records if "DisallowedHost" in r.name or "Invalid HTTP_HOST" in r.getMessage()]
    for path in ("/healthz/", "/accounts/login/", "/api/v1/key", "/admin/", "/"):
        refused = client.get(path, HTTP_HOST="evil.example", headers={"X-Forwarded-Proto": "https"})
        assert refused.status_code == 400, (path, refused.status_code)
    assert client.get("/accounts/login/", HTTP_HOST="keys.example.com", secure=True).status_code == 200


@pytest.mark.django_db
def test_healthz_is_503_naming_the_database_when_it_fails(client, monkeypatch):
    """(With PostgreSQL really stopped: tests/reliability/test_faults.py.)"""

    def down():
        raise OperationalError("connection to server at 10.0.0.5 failed: password authentication failed")

    monkeypatch.setitem(health.CHECKS, "database", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert "10.0.0.5" not in response.content.decode() and "password" not in response.content.decode()


@pytest.mark.django_db
def test_healthz_needs_no_login_and_is_not_redirected_behind_the_tls_proxy(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # the production value
    proxied = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200 and proxied.json()["status"] == "ok"
    # a load balancer's plain-HTTP probe is answered too (SECURE_REDIRECT_EXEMPT)
    assert client.get("/healthz").status_code == 200
    assert client.get(reverse("account_login")).status_code == 301  # everything else still redirects


@pytest.mark.django_db
def test_healthz_answers_get_only(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/healthz", HTTP_HOST="evil.example").status_code == 405


# --- request ids and logs ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("Root=1-67891233-abcdef012345678912345678", True),
        ("short", False),
        ("has space in it", False),
        ("x" * 200, False),
        ("abc\r\nSet-Cookie: a=b", False),
        ("<script>alert(1)</script>", False),
        (None, False),
    ],
)
def test_request_id_from_keeps_only_sane_incoming_ids(incoming, kept):
    got = request_id_from(incoming)
    if kept:
        assert got == incoming
    else:
        assert got != incoming and len(got) == 32 and int(got, 16) >= 0


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    first, second = client.get(reverse("account_login")), client.get("/healthz")
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]
    echoed = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a2c9e-0001"})
    assert echoed["X-Request-ID"] == "lb-7f3a2c9e-0001"
    refused = client.get("/healthz", headers={"X-Request-ID": "bad id"})
    assert refused["X-Request-ID"] != "bad id"


@pytest.fixture(autouse=True)
def _no_pending_usage():
    from api import ratelimit, usage

    yield
    usage.discard_pending()
    ratelimit.reset_state()


@pytest.fixture
def json_log():
    """The production handler's formatter and filter on a buffer, attached to the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("keys_console.request").setLevel(logging.INFO)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.django_db
def test_api_log_lines_carry_the_request_id_and_key_id_never_the_key(client, json_log):
    key = ApiKeyFactory(project=ProjectFactory(active_questions=10), permissions=["read"])
    response = client.get(
        "/api/v1/key", headers={"Authorization": f"Bearer {key.plaintext}", "X-Request-ID": "req-test-0000001"}
    )
    assert response.status_code == 200
    revoked = ApiKeyFactory(
        project=key.project, permissions=["read"], state=KeyState.REVOKED, revoked_at=timezone.now()
    )
    client.get("/api/v1/key", headers={"Authorization": f"Bearer {revoked.plaintext}"})
    lines = json_log()
    request_line = next(
        line for line in lines if line["logger"] == "keys_console.request" and line["request_id"] == "req-test-0000001"
    )
    assert request_line["key_id"] == key.key_id
    assert request_line["status"] == 200 and request_line["method"] == "GET"
    assert request_line["route"].startswith("api/v1/")
    # the warning about the revoked key is stamped with that request's id and its key
    warning = next(line for line in lines if line["level"] == "WARNING" and revoked.key_id in line["message"])
    assert warning["request_id"] and warning["request_id"] != "req-test-0000001"
    text = "\n".join(json.dumps(line) for line in lines)
    assert key.plaintext not in text and revoked.plaintext not in text
    assert key.key_hash not in text


@pytest.mark.django_db
def test_request_log_names_the_route_not_an_invitation_token(client, json_log):
    _invitation, token = Invitation.objects.issue(project=ProjectFactory(), email="new@example.com")
    client.get(reverse("projects:invitation_open", args=[token]))
    lines = json_log()
    assert any(
        line["logger"] == "keys_console.request" and line["route"] == "projects/invitations/<str:token>/"
        for line in lines
    )
    assert token not in "\n".join(json.dumps(line) for line in lines)


def test_log_lines_outside_a_request_have_no_request_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    RequestContextFilter().filter(record)
    assert json.loads(JsonFormatter().format(record)) == {
        "time": json.loads(JsonFormatter().format(record))["time"],
        "level": "INFO",
        "logger": "x",
        "message": "hello world",
        "request_id": None,
    }
    assert "[-] hello world" in PlainFormatter().format(record)


def test_production_logging_is_json_and_development_plain():
    code = (
        "import logging, django; django.setup(); from django.conf import settings; "
        "print(settings.LOG_FORMAT, type(logging.getLogger().handlers[0].formatter).__name__)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT"}}
    env.update(DJANGO_SETTINGS_MODULE="keys_console.settings", SECRET_KEY=secrets.token_urlsafe(50))
    prod = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**env, "DEBUG": "0"}, capture_output=True, text=True, timeout=60
    )
    dev = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**env, "DEBUG": "1"}, capture_output=True, text=True, timeout=60
    )
    assert prod.stdout.split() == ["json", "JsonFormatter"], prod.stderr
    assert dev.stdout.split() == ["plain", "PlainFormatter"], dev.stderr


# --- Sentry -----------------------------------------------------------------------------------------
def test_sentry_events_lose_credentials_and_key_shaped_strings():
    key = "nbq_live_" + "A1b2C3d4" * 4
    event = {
        "message": f"failed for {key}",
        "request": {
            "url": "https://keys.example.com/api/v1/key",
            "cookies": {"sessionid": "s3cr3t"},
            "data": {"password": "hunter2"},
            "headers": {
                "Authorization": f"Bearer {key}",
                "X-API-Key": key,
                "Cookie": "sessionid=s3cr3t",
                "User-Agent": "curl",
            },
        },
        "exception": {"values": [{"value": f"bad key {key}", "stacktrace": {"frames": [{"vars": {"k": key}}]}}]},
    }
    scrubbed = sentry_before_send(event, {})
    text = json.dumps(scrubbed)
    assert key not in text and "s3cr3t" not in text and "hunter2" not in text
    assert scrubbed["request"]["headers"] == {"User-Agent": "curl"}
    assert "nbq_live_[Filtered]" in scrubbed["message"]


def test_sentry_dsn_without_sentry_sdk_refuses_to_start_saying_why():
    pytest.importorskip("django")
    try:
        import sentry_sdk  # noqa: F401

        pytest.skip("sentry-sdk is installed here")
    except ImportError:
        pass
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SENTRY_DSN": "https://public@sentry.example.com/1",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "sentry-sdk is not installed" in done.stderr


# --- cleanup ----------------------------------------------------------------------------------------
@pytest.fixture
def aged_rows(db):
    project = ProjectFactory()
    key = ApiKeyFactory(project=project)
    now = timezone.now()
    rows = {
        "pending": Invitation.objects.create(project=project, email="a@example.com"),
        "just_expired": Invitation.objects.create(
            project=project, email="b@example.com", expires_at=now - timedelta(days=2)
        ),
        "long_expired": Invitation.objects.create(
            project=project, email="c@example.com", expires_at=now - timedelta(days=31)
        ),
        "accepted_long_ago": Invitation.objects.create(
            project=project,
            email="d@example.com",
            expires_at=now - timedelta(days=50),
            accepted_at=now - timedelta(days=55),
        ),
        "accepted_lately": Invitation.objects.create(
            project=project, email="e@example.com", accepted_at=now - timedelta(days=1)
        ),
    }
    today = now.date()
    for age in (0, 29, 399, 401, 800):
        KeyUsageDay.objects.create(api_key=key, day=today - timedelta(days=age), success=1)
    return rows


def test_cleanup_removes_stale_invitations_and_old_usage_and_is_idempotent(aged_rows):
    out = io.StringIO()
    call_command("cleanup", stdout=out)
    assert out.getvalue().strip() == "Removed 2 invitation(s) and 2 usage row(s)."
    left = set(Invitation.objects.values_list("email", flat=True))
    assert left == {"a@example.com", "b@example.com", "e@example.com"}
    assert KeyUsageDay.objects.count() == 3
    again = io.StringIO()
    call_command("cleanup", stdout=again)
    assert again.getvalue().strip() == "Removed 0 invitation(s) and 0 usage row(s)."


def test_cleanup_dry_run_counts_and_removes_nothing(aged_rows):
    out = io.StringIO()
    call_command("cleanup", "--dry-run", "--usage-days", "10", "--invitation-days", "0", stdout=out)
    assert out.getvalue().strip() == "Would remove 4 invitation(s) and 4 usage row(s)."
    assert Invitation.objects.count() == 5 and KeyUsageDay.objects.count() == 5
    assert cleanup(usage_days=10, invitation_days=0, dry_run=True) == CleanupResult(invitations=4, usage_days=4)
    assert cleanup(usage_days=10, invitation_days=0) == CleanupResult(invitations=4, usage_days=4)
    assert Invitation.objects.count() == 1 and KeyUsageDay.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["-1", "ten"])
def test_cleanup_refuses_bad_day_counts(bad):
    with pytest.raises(CommandError):
        call_command("cleanup", "--usage-days", bad)


# --- static files -----------------------------------------------------------------------------------
def test_collectstatic_then_compressed_manifest_files_are_served(tmp_path):
    """Production: STATIC_ROOT + collectstatic → hashed names in pages, gzip served by whitenoise."""
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL", "REDIS_URL"}}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        STATIC_ROOT=str(tmp_path / "static"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="keys_console.settings",
    )
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert collect.returncode == 0, collect.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()
    code = """
import django, re; django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
c = Client(headers={"X-Forwarded-Proto": "https"})
page = c.get("/accounts/login/").content.decode()
css = re.search(r'href="(/static/css/console\\.[0-9a-f]{12}\\.css)"', page).group(1)
js = re.search(r'src="(/static/django_htmx/htmx-2\\.min\\.[0-9a-f]{12}\\.js)"', page).group(1)
r = c.get(css, headers={"Accept-Encoding": "gzip"})
print(settings.STORAGES["staticfiles"]["BACKEND"], r.status_code, r.headers.get("Content-Encoding"),
      "immutable" in r.headers.get("Cache-Control", ""), c.get(js).status_code)
"""
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "200",
        "gzip",
        "True",
        "200",
    ]


# --- make run: the port, and one .venv shared with make test ---------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "MAKEFLAGS"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **extra)
    return env


@pytest.fixture
def make_available():
    import shutil

    if shutil.which("make") is None or not (REPO / ".tools" / "bin" / "uv").exists():
        pytest.skip("needs make and the Makefile's uv in .tools/ (make venv)")


def test_make_run_serves_on_the_port_named_by_PORT(tmp_path, make_available):
    import signal
    import time
    import urllib.request

    port = _free_port()
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=REPO,
        env=_make_env(tmp_path, PORT=str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.5)
        output = (tmp_path / "run.log").read_text()
        assert body == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}, "version": VERSION}, output
        assert f"Serving http://127.0.0.1:{port}/" in output
        assert "Email: demo@nbq.example" in output and "Password: " in output
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_make_run_on_a_busy_port_says_which_variable_to_set(tmp_path, make_available):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            ["make", "run"],
            cwd=REPO,
            env=_make_env(tmp_path, PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"Port {port} on 127.0.0.1 is in use" in done.stderr and "PORT=8123 make run" in done.stderr
    assert "migrate" not in done.stdout  # stopped before doing anything
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.parametrize("port", ["abc", "0", "70000", ""])
def test_a_port_that_is_not_one_is_named(port):
    from keys_console.port_free import port_problem

    assert port_problem(port) == f"PORT={port!r} is not a port number (1-65535): e.g. PORT=8123 make run"


@pytest.mark.parametrize("target", ["run", "test", "check", "venv"])
def test_make_targets_share_the_venv_without_uninstalling_each_others_packages(target, make_available):
    """The .venv holds the dev group (the tests run in it): the sync of each target, as the Makefile
    writes it, would remove nothing (make run used to uninstall 44 packages, make test to put them
    back)."""
    planned = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert planned.returncode == 0, planned.stderr
    sync = next(line for line in planned.stdout.splitlines() if " sync " in line)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(UV_PROJECT_ENVIRONMENT=".venv", UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
    done = subprocess.run(
        f"{sync} --dry-run --offline", shell=True, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "uninstall" not in done.stderr.lower() and "\n - " not in done.stderr, done.stderr
