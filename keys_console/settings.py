"""Settings for NBQ Keys Console.

Everything that differs between a laptop and production comes from the environment
(DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS). With DEBUG off the
production profile applies: secure cookies, HSTS, CSP, HTTPS behind a TLS proxy, JSON logs.
Values are read strictly (keys_console/env.py): a malformed one stops the process at start.
"""

import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from passlib.context import CryptContext

from .env import (
    env_bool,
    env_choice,
    env_database,
    env_dotted_path,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_rates,
    env_str,
    env_url,
    local_cache_for_test_suite,
)

BASE_DIR = Path(__file__).resolve().parent.parent


def mailers_from_env(environ, *, debug: bool) -> dict:
    """Django's MAILERS from the environment: EMAIL_URL (smtp://user:password@host:587, or smtps://
    for TLS from the first byte, or smtp+insecure://localhost:25 for a local relay without TLS, which
    may carry no password: a password is never sent without TLS, in either form) or EMAIL_HOST /
    EMAIL_PORT / EMAIL_HOST_USER / EMAIL_HOST_PASSWORD /
    EMAIL_USE_TLS. EMAIL_BACKEND (a dotted path) wins when set. With neither, DEBUG prints mails on
    the console, and production tries an SMTP server on localhost."""
    from urllib.parse import unquote, urlsplit

    smtp = "django.core.mail.backends.smtp.EmailBackend"
    url = env_url(
        "EMAIL_URL",
        "",
        schemes=("smtp", "smtps", "smtp+insecure"),
        example="smtp://user:password@host:587 (STARTTLS), smtps://user:password@host:465 (TLS) or "
        "smtp+insecure://localhost:25 (a local relay, no TLS, no password)",
        environ=environ,
    )
    if url:
        parts = urlsplit(url)
        options = {
            "host": parts.hostname or "localhost",
            "port": parts.port or {"smtps": 465, "smtp": 587}.get(parts.scheme, 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": parts.scheme == "smtps",
            "use_tls": parts.scheme == "smtp",
        }
        mailer: dict[str, Any] = {"BACKEND": smtp, "OPTIONS": options}
    elif env_str("EMAIL_HOST", environ=environ):
        use_ssl = env_bool("EMAIL_USE_SSL", False, environ=environ)
        options = {
            "host": env_str("EMAIL_HOST", environ=environ),
            "port": env_int("EMAIL_PORT", 465 if use_ssl else 587, minimum=1, maximum=65535, environ=environ),
            "username": env_str("EMAIL_HOST_USER", environ=environ),
            "password": env_str("EMAIL_HOST_PASSWORD", environ=environ),
            "use_ssl": use_ssl,
            "use_tls": not use_ssl and env_bool("EMAIL_USE_TLS", True, environ=environ),
        }
        mailer = {"BACKEND": smtp, "OPTIONS": options}
    else:
        mailer = {"BACKEND": "django.core.mail.backends.console.EmailBackend" if debug else smtp}
    if mailer["BACKEND"] == smtp:
        mailer.setdefault("OPTIONS", {})["timeout"] = 10
        options = mailer["OPTIONS"]
        if options.get("password") and not (options.get("use_tls") or options.get("use_ssl")):
            # A password is never sent in the clear: a relay without TLS is reached without one.
            raise ImproperlyConfigured(
                "The SMTP password would be sent without TLS: use EMAIL_URL=smtp://user:password@host:587 "
                "(STARTTLS) or smtps://user:password@host:465, or reach a local relay without a password "
                "(EMAIL_URL=smtp+insecure://localhost:25)."
            )
    backend = env_dotted_path("EMAIL_BACKEND", environ=environ)
    if backend:
        mailer = {"BACKEND": backend}
    return {"default": mailer}


DEBUG = env_bool("DEBUG", False)

# Production (DEBUG=0) refuses to start without its own SECRET_KEY: a known key would let anyone
# forge sessions, password-reset links and signed values. Development (DEBUG=1) falls back to a
# fixed key that `check --deploy` flags (security.W009).
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG=0 (production) the console needs its own secret key: "
            "set SECRET_KEY in the environment, e.g. "
            "SECRET_KEY=\"$(python -c 'import secrets; print(secrets.token_urlsafe(50))')\" — "
            "or set DEBUG=1 for development."
        )
    SECRET_KEY = "django-insecure-nbq-keys-console-development-only"
# Rotating SECRET_KEY (docs/operations.md): the new key signs, the previous ones (comma-separated)
# still verify sessions, password-reset links and signed values until they are dropped from here.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

INSTALLED_APPS = [
    # First: its `createsuperuser` (fails without a terminal or a password) wins over Django's.
    "keys_console",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",  # single sign-on (accounts/sso.py); its tables exist whether or not it is configured
    "allauth.socialaccount.providers.openid_connect",
    "accounts",
    "projects",
    "keys",
    "api",
    "webhooks",
]

MIDDLEWARE = [
    "keys_console.observability.RequestIdMiddleware",
    # /healthz answered here, before anything reads the Host header: a balancer's probe may name
    # any host, and nothing else loosens ALLOWED_HOSTS (keys_console/health.py).
    "keys_console.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Headers and bookkeeping of every /api/ response, its own CSP included (so below the CSP
    # middleware, which leaves a policy that is already set alone).
    "api.response_hooks.ApiResponseMiddleware",
    # Malformed API keys get their 401 here, before anything below runs (api/invalid_keys.py).
    "api.invalid_keys.RejectMalformedKeysMiddleware",
    # The console's session, auth, messages and htmx middleware: the stock classes, passed by
    # for /api/ requests, which use none of them (keys_console/console_middleware.py).
    "keys_console.console_middleware.ConsoleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # stock: `check --deploy` looks for it by name
    "keys_console.console_middleware.ConsoleAuthenticationMiddleware",
    "keys_console.console_middleware.ConsoleMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "keys_console.console_middleware.ConsoleHtmxMiddleware",
    # Stock, also for /api/: allauth refuses to start unless this very path is in MIDDLEWARE.
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "keys_console.urls"
WSGI_APPLICATION = "keys_console.wsgi.application"
ASGI_APPLICATION = "keys_console.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.reauth.context",
                "accounts.sso.context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite is the embedded default; IMMEDIATE transactions serialise writers so that the domain
# rules (10 active keys, one successor per rotation) hold there too. PostgreSQL in CI/production.
#
# PostgreSQL: persistent connections by default. A new connection per request costs more than
# the API request itself (connect, authenticate, a backend process forked by the server:
# docs/performance.md), so each worker keeps its connection for CONN_MAX_AGE seconds (600 unless
# set; CONN_MAX_AGE=0 restores one connection per request). Health-checked before the first query
# of each request, at no cost: keys_console/db/postgresql (ENGINE below) is Django's PostgreSQL
# backend whose check looks at the socket instead of sending `SELECT 1`, so a PostgreSQL restart
# is noticed before a request uses the dead connection, and no request pays a round trip for it.
# Why not Django's psycopg pool (OPTIONS["pool"]): with one request per sync worker at a time, a
# pool holds the same one connection per process and adds a get/put per request; and after an
# outage it reconnects on an exponential backoff (1 s, 2 s, 4 s ...), so a worker can answer 503
# for seconds after PostgreSQL is back, where a persistent connection reconnects on the next
# request. Threaded or async servers would want the pool (OPTIONS["pool"] with CONN_MAX_AGE=0).
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 0, minimum=0, unit="seconds")
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "keys_console.db.postgresql"  # the same backend, a free health check
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 600, minimum=0, unit="seconds")
    # Fail fast when PostgreSQL is down instead of hanging a worker (the API answers 503).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    # Prepared statements: parameters bound on the server (psycopg's own cursors), and a statement
    # run 5 times on a connection is prepared there, so PostgreSQL parses and plans the API's few
    # statements once per connection instead of once per request (about half of PostgreSQL's CPU
    # per data request: docs/performance.md).
    # Behind PgBouncer in transaction-pooling mode (DATABASE_TRANSACTION_POOLING=1) a connection's
    # session does not outlive a transaction: no server-side cursors (QuerySet.iterator(), e.g. the
    # event log's CSV export, would hold one across transactions) and no prepared statements (a
    # statement prepared on one server connection is unknown on the next): Django's default,
    # parameters bound on the client, is kept there (docs/deploy.md).
    transaction_pooling = env_bool("DATABASE_TRANSACTION_POOLING", False)
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = transaction_pooling
    if not transaction_pooling:
        DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
        DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, login throttling) ----------------------------------------------------
REDIS_URL = env_url(
    "REDIS_URL", "", schemes=("redis", "rediss", "unix"), example="redis://host:6379/0 (rediss:// for TLS)"
)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
elif DEBUG or local_cache_for_test_suite():
    # Development (one process), or the test suite's deliberate door (keys_console/env.py).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    # Production keeps its security counters (failed logins and API authentications, rate limits,
    # GitHub's key-fetch guard, tombstones) in Redis: a per-process cache is not shared between
    # workers and evicts entries (300 by default), so a flood of made-up keys would erase them.
    raise ImproperlyConfigured(
        "REDIS_URL is not set. With DEBUG=0 (production) the console keeps its rate limits and "
        "throttles in Redis, shared by every worker: set REDIS_URL in the environment, e.g. "
        "REDIS_URL=redis://127.0.0.1:6379/0 (rediss:// for TLS) — or set DEBUG=1 for development."
    )

# --- Auth (django-allauth: accounts/adapter.py, docs/security.md) ----------------------------
AUTH_USER_MODEL = "accounts.User"
# allauth's backend only: it looks a login up by the lower-cased address, exactly as it keys its
# failed-login rate limit, so no spelling of an address (`alice@ſite.com` matches `alice@site.com`
# under PostgreSQL's case-insensitive comparison) can reach an account through a fresh bucket.
# It subclasses Django's ModelBackend, so permissions work as before.
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "account_login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
# The password once (a show/hide toggle is the browser's; reset mends a typo).
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_UNIQUE_EMAIL = True
# A new address is confirmed (link in a mail) before the account can log in, hence before it can
# accept an invitation; accepting also checks a verified address (projects/views/members.py).
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Opening the link confirms (no second click). A mail scanner opening it confirms an address that
# did receive the mail, which is all the confirmation proves; it does not log anyone in (the login
# on confirmation happens only in the browser session that signed up).
ACCOUNT_CONFIRM_EMAIL_ON_GET = True
# Sign-up and password reset answer the same whether or not the address has an account.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[NBQ Keys Console] "
# Failed logins: per client address and per account (the key is the lower-cased address, the
# same string the lookup uses). Sign-up, password reset and confirmation mails are limited too.
# An IPv6 client is counted per /64 (allauth's default, stated here: keys_console.client_ip).
ALLAUTH_RATE_LIMIT_IPV6_PREFIX = 64
ACCOUNT_RATE_LIMITS = {
    # Successful logins are not capped (only failures are): so a Redis outage cannot stop logins.
    "login": None,
    "login_failed": env_rates("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "signup": "20/m/ip",
    # Reset mails to one address (the key: the lower-cased address), whoever asks: a few an hour,
    # so nobody can fill an inbox with them (issue #27, finding 10; allauth's default is 5 a minute).
    "reset_password": "20/m/ip,3/h/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reauthenticate": "10/m/user",
}
# Confirm access (GitHub's sudo mode): generating or rotating a key and changing a member's role
# ask for the password (and the 2FA code) when the last login or confirmation is older than this.
ACCOUNT_REAUTHENTICATION_TIMEOUT = 15 * 60
# Email addresses (add, remove, make primary), the password (change, set) and 2FA (activate,
# deactivate, recovery codes) ask to Confirm access exactly like key actions: within 15 minutes of
# the login or the last confirmation they go straight on (accounts/adapter.py), later they ask.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
MFA_REAUTHENTICATION_REQUIRED = True
# Confirm access asks the password, plus the 2FA code when the account has 2FA (accounts/forms.py);
# a code alone (allauth's "mfa" method) or a mailed code does not count.
ACCOUNT_REAUTHENTICATION_METHODS = ["password"]
ACCOUNT_FORMS = {
    "reauthenticate": "accounts.forms.ConfirmAccessForm",
    # An address of SSO_REQUIRED_DOMAINS signs in through the provider only (accounts/sso.py).
    "signup": "accounts.forms.SignupForm",
    "reset_password": "accounts.forms.ResetPasswordForm",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "NBQ Keys Console"
MFA_PASSKEY_LOGIN_ENABLED = False

# --- Single sign-on: the team's OpenID Connect provider (allauth's openid_connect: accounts/sso.py) ---
# Discovery from OIDC_ISSUER_URL (/.well-known/openid-configuration), the authorization code flow
# with PKCE, a verified email required. Unset: no button, no route that answers.
OIDC_ISSUER_URL = env_url(
    "OIDC_ISSUER_URL",
    "",
    schemes=("https", "http") if DEBUG else ("https",),
    example="https://login.example.com/realms/team",
)
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_NAME = env_str("OIDC_NAME", "single sign-on")  # the button says "Sign in with " + this
OIDC_ALLOW_SIGNUP = env_bool("OIDC_ALLOW_SIGNUP", True)  # 0: only existing accounts sign in through it
SSO_REQUIRED_DOMAINS = [domain.lower().lstrip("@") for domain in env_list("SSO_REQUIRED_DOMAINS", [])]
if OIDC_ISSUER_URL and not OIDC_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_ISSUER_URL is set but OIDC_CLIENT_ID is not: set both (and OIDC_CLIENT_SECRET).")
if (OIDC_CLIENT_ID or SSO_REQUIRED_DOMAINS) and not OIDC_ISSUER_URL:
    raise ImproperlyConfigured(
        "OIDC_CLIENT_ID or SSO_REQUIRED_DOMAINS is set but OIDC_ISSUER_URL is not: single sign-on needs the issuer."
    )
SOCIALACCOUNT_ADAPTER = "accounts.sso.SocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS: dict[str, Any] = {
    "openid_connect": {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": (
            [
                {
                    "provider_id": "sso",
                    "name": OIDC_NAME,
                    "client_id": OIDC_CLIENT_ID,
                    "secret": OIDC_CLIENT_SECRET,
                    "settings": {"server_url": OIDC_ISSUER_URL, "oauth_pkce_enabled": True},
                }
            ]
            if OIDC_ISSUER_URL
            else []
        ),
    }
}
SOCIALACCOUNT_AUTO_SIGNUP = True  # no second form: the provider gave the verified address
SOCIALACCOUNT_EMAIL_REQUIRED = True
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"  # verified by the provider (email_verified is required)
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True  # a verified address that matches an account signs into it
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False  # the provider's tokens are used once, never kept
SOCIALACCOUNT_LOGIN_ON_GET = False  # starting a sign-in is a POST (no login CSRF through a link)
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10

# --- Email (keys_console.settings.mailers_from_env: EMAIL_URL or EMAIL_HOST & co.) -----------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "NBQ Keys Console <no-reply@nbq.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAILERS = mailers_from_env(os.environ, debug=DEBUG)

# --- Background tasks (django.tasks): mails leave the request (keys_console/mail.py) ----------
# "database" (production's default): django-tasks-db keeps the queue in the database and
# `manage.py db_worker` runs it; a failed send is tried again later. "immediate" (DEBUG's default,
# and the tests'): the task runs at once, in the process that enqueued it.
TASKS_BACKEND = env_choice("TASKS_BACKEND", "immediate" if DEBUG else "database", ("database", "immediate"))
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django.tasks.backends.immediate.ImmediateBackend",
        }[TASKS_BACKEND],
    }
}

# --- Webhooks (webhooks/guard.py, docs/webhooks.md) ------------------------------------------
# With DEBUG=0 endpoints must be public https:// URLs; 1 also allows private, loopback and
# link-local addresses and http:// (receivers inside the operator's network). Cloud metadata,
# multicast and unspecified addresses stay refused.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)

# --- Invitations ----------------------------------------------------------------------------
# Invitation mails allowed per project and per inviter (a person or an API key) in an hour.
INVITATION_MAILS_PER_PROJECT_PER_HOUR = env_int("INVITATION_MAILS_PER_PROJECT_PER_HOUR", 20, minimum=0, unit="mails")
INVITATION_MAILS_PER_INVITER_PER_HOUR = env_int("INVITATION_MAILS_PER_INVITER_PER_HOUR", 10, minimum=0, unit="mails")

# --- API keys ---------------------------------------------------------------------------------
# How key secrets are stored. Keys carry >150 bits from `secrets`, so a fast unsalted digest is
# the right tool: nobody can brute-force that space, salting protects low-entropy secrets
# (passwords) which these are not, and a deterministic digest can be found through a unique
# index in one query. A slow salted scheme (pbkdf2: ~10 ms, argon2: ~170 ms) would cost every
# API request that much and need a separate lookup id. Kept as a CryptContext so the scheme
# can be upgraded (the first scheme hashes new keys; `deprecated` ones still verify).
API_KEY_CRYPT_CONTEXT = CryptContext(schemes=["hex_sha256"])
API_KEY_RATE_LIMIT_PER_MINUTE = env_int("API_KEY_RATE_LIMIT_PER_MINUTE", 600, minimum=1)
API_KEY_MAX_ACTIVE_PER_PROJECT = 10
API_KEY_MAX_ACTIVE_PER_ACCOUNT = 10  # account keys of one person (same slot rule as a project's)
API_KEY_REQUIRED_ACTIVE_QUESTIONS = 10
# Seconds a key's record may be served from the shared cache (api/keycache.py). Only with Redis:
# a per-process cache could not be invalidated by a revocation made in another process. Every
# process that can revoke keys (web, API, manage.py) must share REDIS_URL; this TTL bounds the
# damage if one does not. 0 turns the record cache off (one indexed query per request).
API_KEY_RECORD_CACHE_SECONDS = env_int("API_KEY_RECORD_CACHE_SECONDS", 10 if REDIS_URL else 0, minimum=0)
# Guesses (well-formed keys that match no key) allowed per client address (an IPv6 client per /64)
# and minute; beyond it a guess gets 429 rate_limited and costs no database query (api/auth.py).
# Not counted: a malformed key (refused at no cost), a revoked or expired key (its own 401).
API_AUTH_FAILURES_PER_MINUTE = env_int("API_AUTH_FAILURES_PER_MINUTE", 100, minimum=1)
# Leak reports (POST /api/v1/leaked-keys, the console's Report a leaked key) allowed per client
# address and minute; beyond it: 429 rate_limited (api/endpoints/leaks.py).
LEAK_REPORTS_PER_MINUTE = env_int("LEAK_REPORTS_PER_MINUTE", 10, minimum=1)
# GitHub secret scanning's public keys (JSON: {"public_keys": [{key_identifier, key, is_current}]});
# a file:// URL reads the same JSON from disk (tests, air-gapped installs). api/secret_scanning.py.
# https only (a report's signature is only as good as the keys it is checked with: never plain http).
SECRET_SCANNING_GITHUB_KEYS_URL = env_url(
    "SECRET_SCANNING_GITHUB_KEYS_URL",
    "https://api.github.com/meta/public_keys/secret_scanning",
    schemes=("https", "file"),
    example="https://api.github.com/meta/public_keys/secret_scanning (or file:///path/to/keys.json)",
)
# Usage counters are buffered in each process and written at most this often (seconds).
API_USAGE_FLUSH_SECONDS = env_float("API_USAGE_FLUSH_SECONDS", 10.0, minimum=0.0)

# --- Console at scale -------------------------------------------------------------------------
QUESTIONS_BULK_MAX = 500  # lines per "Add questions in bulk"
QUESTIONS_PAGE_SIZE = 50  # rows per page of the Questions tab
PROJECTS_PAGE_SIZE = 50  # rows per page of the project list
EVENT_LOG_PAGE_SIZE = 25
# The event log counts matching rows up to this many, then says "1,000+ events": a page view
# never counts a whole (possibly million-row) log.
EVENT_LOG_COUNT_CAP = 1000

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) -------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production: STATIC_ROOT set and `manage.py collectstatic` run at deploy time; whitenoise then serves
# gzip-compressed files with content hashes in their names, cached for ever by browsers.
# Without STATIC_ROOT (make run, the tests) whitenoise serves straight from the repo and the apps.
STATIC_ROOT = env_str("STATIC_ROOT") or None
if STATIC_ROOT and not DEBUG:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
WHITENOISE_USE_FINDERS = STATIC_ROOT is None or DEBUG

# --- Security ---------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
_FORM_ACTION: list[str] = [CSP.SELF]
if OIDC_ISSUER_URL:
    # "Sign in with …" posts here and is redirected to the provider's authorization endpoint, on the
    # issuer's origin: form-action governs that redirect too (accounts/sso.py, docs/security.md).
    from urllib.parse import urlsplit as _urlsplit

    _issuer = _urlsplit(OIDC_ISSUER_URL)
    _FORM_ACTION.append(f"{_issuer.scheme}://{_issuer.netloc}")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": _FORM_ACTION,
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
# A proxy terminates TLS and sets X-Forwarded-Proto; such requests count as secure.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health probes of load balancers often speak plain HTTP to the app: /healthz is never redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# How many proxies in front of the app append to X-Forwarded-For (0: trust REMOTE_ADDR only).
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0, minimum=0)
# ... and which peers may be such a proxy: X-Forwarded-For is read only when REMOTE_ADDR is inside
# one of these networks, so a client that reaches gunicorn directly cannot forge its address
# (keys_console/client_ip.py). Default: loopback and the private ranges.
TRUSTED_PROXY_NETWORKS = env_networks(
    "TRUSTED_PROXY_NETWORKS",
    ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
)
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Metrics (keys_console/metrics.py) -------------------------------------------------------------
# GET /metrics (Prometheus) for a scraper sending `Authorization: Bearer <METRICS_TOKEN>`; unset:
# off, no middleware, /metrics is a 404 like any unknown page. Counted across gunicorn's workers
# through PROMETHEUS_MULTIPROC_DIR (set up by keys_console/gunicorn_conf.py).
METRICS_TOKEN = env_str("METRICS_TOKEN")
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")  # read by prometheus-client itself
if METRICS_TOKEN:
    MIDDLEWARE.insert(0, "keys_console.metrics.MetricsMiddleware")

# --- Logs and error reports ----------------------------------------------------------------------
# One JSON object per line in production (LOG_FORMAT=json, the default with DEBUG=0), plain text in
# development; every line carries the request id (also returned as X-Request-ID) and, on API
# requests, the Key ID of the key used (keys_console/observability.py).
LOG_FORMAT = env_choice("LOG_FORMAT", "plain" if DEBUG else "json", ("json", "plain"))
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "keys_console.observability.RequestContextFilter"},
        "drain_answers": {"()": "keys_console.drain.DrainAnswers"},
    },
    "formatters": {
        "json": {"()": "keys_console.observability.JsonFormatter"},
        "plain": {"()": "keys_console.observability.PlainFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # runserver prints its own access lines; the request line of RequestIdMiddleware is for production.
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own "Unauthorized: /api/v1/key" warning for every 4xx repeated the request line
        # (two lines per 401): the request line says it, once (and folds repeats). 5xx stay here.
        # A draining host's 503 on /healthz is its signal to the balancer, not an error (drain.py).
        "django.request": {"level": "ERROR", "filters": ["drain_answers"]},
        "keys_console.request": {"level": "WARNING" if DEBUG else LOG_LEVEL},
    },
}

# Optional: error reports to Sentry (`uv sync --extra sentry`). Never personal data, never a key.
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    from .observability import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0.0),
    )
