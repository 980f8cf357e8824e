"""The production profile: `check --deploy` is clean with a real SECRET_KEY, security headers are sent,
and a request from the TLS-terminating proxy (X-Forwarded-Proto: https) is not redirected."""

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from tests.factories import UserFactory


def _check_deploy_env() -> dict:
    return {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            "SECURE_SSL_REDIRECT",
            "CSRF_TRUSTED_ORIGINS",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "STATIC_ROOT",
            "SENTRY_DSN",
        }
    }


def _settings_probe(env: dict, code: str) -> str:
    """What `code` prints in a fresh Python with `env` (settings are read when their module loads);
    the run must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _check_deploy(**env_overrides):
    env = _check_deploy_env()
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_debug_off_and_a_real_secret_key():
    done = _check_deploy(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="keys.example.com")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    assert "security." not in done.stdout + done.stderr


def test_debug_off_without_a_secret_key_refuses_to_start_and_says_why():
    done = _check_deploy(DEBUG="0")  # no SECRET_KEY in the environment
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "SECRET_KEY is not set" in done.stderr and "DEBUG=0" in done.stderr
    plain = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={**_check_deploy_env(), "DEBUG": "0"},
    )
    assert plain.returncode != 0 and "SECRET_KEY is not set" in plain.stderr


def test_check_deploy_flags_the_development_secret_key_of_debug_mode():
    done = _check_deploy(DEBUG="1")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "security.W009" in output  # the development fallback key
    assert "security.W018" in output  # DEBUG on


@pytest.mark.parametrize(
    ("variable", "value", "form"),
    [
        ("DEBUG", "flase", "yes/no"),
        ("TRUSTED_PROXIES", "one", "whole number"),
        ("API_KEY_RATE_LIMIT_PER_MINUTE", "0", "at least 1"),
        ("LOG_FORMAT", "xml", "one of: json, plain"),
        ("CONN_MAX_AGE", "1m", "whole number of seconds"),
        ("INVITATION_MAILS_PER_PROJECT_PER_HOUR", "ten", "whole number of mails"),
        ("INVITATION_MAILS_PER_INVITER_PER_HOUR", "-1", "at least 0"),
        ("DATABASE_URL", "mysql://nbq:s3cret-pw@db.example/nbq", "postgres://"),
        ("DATABASE_URL", "postgres://nbq:s3cret-pw@db.example:five/nbq", "not a URL"),
        ("REDIS_URL", "cache.internal:7000", "redis:// or rediss://"),
        ("LOGIN_FAILED_RATE_LIMIT", "10 per minute", "AMOUNT/DURATION"),
        ("EMAIL_URL", "smtp://u:s3cret-pw@mail.example:twentyfive", "not a URL"),
        ("EMAIL_BACKEND", "not a path", "dotted Python path"),
    ],
)
def test_a_malformed_setting_stops_the_start_naming_the_variable(variable, value, form):
    """ImproperlyConfigured names the variable and the form it takes (never a bare ValueError),
    and never repeats a password."""
    env = {**_check_deploy_env(), "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), variable: value}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: "), done.stderr
    assert f"{variable}=" in last and form in last
    assert "ValueError" not in done.stderr and "s3cret-pw" not in done.stderr


def test_the_email_settings_are_read_strictly():
    from keys_console.settings import mailers_from_env

    for environ, form in (
        ({"EMAIL_HOST": "mx.example", "EMAIL_PORT": "abc"}, "EMAIL_PORT='abc' is not a whole number"),
        ({"EMAIL_HOST": "mx.example", "EMAIL_PORT": "70000"}, "EMAIL_PORT=70000 is too large"),
        ({"EMAIL_HOST": "mx.example", "EMAIL_USE_TLS": "maybe"}, "EMAIL_USE_TLS='maybe' is not a yes/no value"),
        ({"EMAIL_HOST": "mx.example", "EMAIL_USE_SSL": "si"}, "EMAIL_USE_SSL='si' is not a yes/no value"),
    ):
        with pytest.raises(ImproperlyConfigured, match=form):
            mailers_from_env(environ, debug=False)


def test_settings_read_the_environment_only_through_env_py():
    """One reader (keys_console/env.py) for every variable: no os.environ.get / int() on a raw value."""
    text = (settings.BASE_DIR / "keys_console" / "settings.py").read_text()
    assert "os.environ.get(" not in text and "os.getenv(" not in text and 'os.environ["' not in text
    assert "int(os" not in text and "dj_database_url.config" not in text


def test_check_deploy_flags_debug_on():
    done = _check_deploy(DEBUG="1", SECRET_KEY=secrets.token_urlsafe(50))
    assert done.returncode != 0
    assert "security.W018" in done.stdout + done.stderr


@pytest.mark.django_db
def test_security_headers(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_pages_load_htmx_from_django_htmx_not_a_cdn(client):
    body = client.get(reverse("account_login")).content.decode()
    # django-htmx's bundled copy (`{% htmx_script %}`), not one vendored by hand
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in body
    assert "js/vendor/" not in body
    assert not (settings.BASE_DIR / "static" / "js" / "vendor").exists()
    # every script and stylesheet comes from our own static files (a CDN would also break the CSP)
    sources = re.findall(r'<script[^>]* src="([^"]+)"', body) + re.findall(r'<link[^>]* href="([^"]+)"', body)
    assert sources and all(src.startswith("/static/") for src in sources), sources
    assert b"htmx" in b"".join(client.get("/static/django_htmx/htmx-2.min.js").streaming_content)
    assert "<script>" not in body  # no inline script: CSP script-src 'self'


@pytest.mark.django_db
def test_debug_off_redirects_plain_http_but_not_requests_from_the_tls_proxy(settings, client):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True  # the production value (the test suite turns it off elsewhere)
    plain = client.get(reverse("account_login"))
    assert plain.status_code == 301
    assert plain.url.startswith("https://")

    proxied = client.get(reverse("account_login"), headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200
    assert "Log in" in proxied.content.decode()
    assert proxied.wsgi_request.is_secure()
    assert proxied["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.django_db
def test_secure_cookies_behind_the_proxy(settings, client):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("projects:list"), headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    login = client.post(
        reverse("account_login"), {"login": user.email, "password": "x"}, headers={"X-Forwarded-Proto": "https"}
    )
    assert login.status_code in (200, 302)
    for cookie in client.cookies.values():
        if cookie.key in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
            assert cookie["secure"], cookie.key


def test_production_settings_module_values():
    """Settings read from the environment when the module loads (checked in a fresh process);
    without SMTP settings, production mail goes to an SMTP server on localhost."""
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_PROXY_SSL_HEADER, s.ALLOWED_HOSTS, s.MAILERS['default']['BACKEND'])"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "EMAIL_BACKEND", "EMAIL_URL", "EMAIL_HOST"}
    }
    env.update(DEBUG="0", DJANGO_SETTINGS_MODULE="keys_console.settings", ALLOWED_HOSTS="a.example, b.example")
    assert _settings_probe(env, "import django; django.setup(); " + code) == (
        "False True True True ('HTTP_X_FORWARDED_PROTO', 'https') "
        "['a.example', 'b.example'] django.core.mail.backends.smtp.EmailBackend"
    )


@pytest.mark.parametrize(
    ("environ", "debug", "expected"),
    [
        ({}, True, {"BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        (
            {"EMAIL_URL": "smtp://mailer%40nbq.example:p%2Fss@smtp.example:2525"},
            False,
            {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {
                    "host": "smtp.example",
                    "port": 2525,
                    "username": "mailer@nbq.example",
                    "password": "p/ss",
                    "use_ssl": False,
                    "use_tls": True,
                    "timeout": 10,
                },
            },
        ),
        (
            {"EMAIL_URL": "smtps://u:p@smtp.example"},
            True,
            {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {
                    "host": "smtp.example",
                    "port": 465,
                    "username": "u",
                    "password": "p",
                    "use_ssl": True,
                    "use_tls": False,
                    "timeout": 10,
                },
            },
        ),
        (
            {"EMAIL_HOST": "mx.example", "EMAIL_USE_TLS": "0"},
            False,
            {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {
                    "host": "mx.example",
                    "port": 587,
                    "username": "",
                    "password": "",
                    "use_ssl": False,
                    "use_tls": False,
                    "timeout": 10,
                },
            },
        ),
        (
            {"EMAIL_URL": "smtp+insecure://localhost"},
            False,
            {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {
                    "host": "localhost",
                    "port": 25,
                    "username": "",
                    "password": "",
                    "use_ssl": False,
                    "use_tls": False,
                    "timeout": 10,
                },
            },
        ),
    ],
    ids=["debug-console", "email-url", "smtps", "email-host", "local-relay"],
)
def test_email_settings_from_the_environment(environ, debug, expected):
    from keys_console.settings import mailers_from_env

    assert mailers_from_env(environ, debug=debug) == {"default": expected}


@pytest.mark.parametrize(
    "environ",
    [
        {"EMAIL_URL": "smtp+insecure://relay:s3cret@localhost:25"},
        {"EMAIL_HOST": "mx.example", "EMAIL_HOST_USER": "u", "EMAIL_HOST_PASSWORD": "s3cret", "EMAIL_USE_TLS": "0"},
    ],
    ids=["insecure-url", "email-host-without-tls"],
)
def test_a_password_is_never_sent_without_tls(environ):
    from keys_console.settings import mailers_from_env

    with pytest.raises(ImproperlyConfigured, match="password would be sent without TLS") as refused:
        mailers_from_env(environ, debug=False)
    assert "s3cret" not in str(refused.value)


def test_email_url_with_an_unknown_scheme_is_refused():
    from keys_console.settings import mailers_from_env

    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL='http://smtp.example' must start with smtp://"):
        mailers_from_env({"EMAIL_URL": "http://smtp.example"}, debug=False)


@pytest.mark.parametrize(
    ("pooling", "expected"),
    [("1", "True None None"), ("", "False True 5")],
)
def test_transaction_pooling_turns_off_server_side_cursors_and_prepared_statements(pooling, expected):
    """Behind PgBouncer in transaction mode (docs/deploy.md) QuerySet.iterator() must not hold a
    named cursor across transactions, and no statement may be prepared on one server connection and
    run on another; without it, parameters are bound on the server and repeated statements prepared."""
    env = {**_check_deploy_env(), "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50)}
    env.update(DATABASE_URL="postgres://nbq:pw@pgbouncer.internal:6432/nbq", DATABASE_TRANSACTION_POOLING=pooling)
    env["DJANGO_SETTINGS_MODULE"] = "keys_console.settings"
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; o = d['OPTIONS']; "
        "print(d['DISABLE_SERVER_SIDE_CURSORS'], o.get('server_side_binding'), o.get('prepare_threshold'))"
    )
    assert _settings_probe(env, code) == expected
