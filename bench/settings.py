"""Settings for the benchmark: the production profile of the console plus the peer (DRF + its API key app).

Everything comes from keys_console.settings (DATABASE_URL, REDIS_URL, the middleware stack,
security settings); only what the bench needs is added or pinned here:

- `rest_framework` and `rest_framework_api_key`, installed from the `bench` extra, so the peer row
  runs in the same process, with the same middleware and the same database;
- ROOT_URLCONF = "bench.urls": the console's URLs plus /bench/baseline and /bench/drf;
- DEBUG off (no query log kept in memory), quiet logging.

The database settings are the production defaults, untouched: whatever keys_console.settings does
with only DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG=0 and ALLOWED_HOSTS is what every row, the
peers included, runs with (bench/bench.py removes CONN_MAX_AGE from the environment unless
BENCH_CONN_MAX_AGE asks for a value).

SSL redirect stays on, as in production: the load generator sends `X-Forwarded-Proto: https`,
which the contract says a TLS proxy sets and the console trusts (SECURE_PROXY_SSL_HEADER).
"""

import os
import warnings

# The bench has its own database (dropped and re-created by every run) and its own Redis database
# index, whatever DATABASE_URL / REDIS_URL say for the console: a run never touches other data.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/nbq_bench"
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9"
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-3f9c1a7e5d2b8f4a6c0e9d7b5a3f1c8e")

from keys_console.settings import *  # noqa: E402,F403
from keys_console.settings import DATABASES, INSTALLED_APPS  # noqa: E402

DEBUG = False
# whitenoise warns once per worker that STATIC_ROOT does not exist (collectstatic is not run; it
# serves from the finders): noise in the bench output, nothing the bench measures.
warnings.filterwarnings("ignore", message="No directory at: ")
INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework", "rest_framework_api_key"]
ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

if "nohealth" in os.environ.get("BENCH_WHATIF", ""):  # a what-if variant: see bench/whatif.py
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

REST_FRAMEWORK = {
    # JSON only: the browsable API would never be picked by wrk's requests anyway, this just
    # keeps content negotiation to one candidate. Authentication classes stay DRF's defaults,
    # as in a typical djangorestframework-api-key deployment.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # 401s and 404s are the expected answers of some rows: do not log one line per request.
    "loggers": {"django.request": {"level": "ERROR"}, "django.security": {"level": "ERROR"}},
}
