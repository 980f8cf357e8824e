"""Settings of the peer: a separate Django project, as `django-admin startproject` writes it, plus
Django REST framework and djangorestframework-api-key configured as their documentation says.

It shares nothing with the console: its own settings, URLs, app (`bench.peer.questions`: a project
and its questions, the same table shape as the console's), its own PostgreSQL database
(PEER_DATABASE_URL) and its own gunicorn (bench/bench.py). Only the deployment checklist's changes
are made to startproject's file: DEBUG off, SECRET_KEY and ALLOWED_HOSTS set, PostgreSQL with
persistent connections. Everything else is startproject's: MIDDLEWARE, TEMPLATES, password
validators, and no LOGGING (Django's default logging). tests/test_bench_settings.py compares this
file with what `startproject` generates.

Where a deployment could go either way, the peer gets the cheaper choice, so that the comparison
flatters it rather than the console:
- persistent connections (CONN_MAX_AGE=600) without CONN_HEALTH_CHECKS (no `SELECT 1` per request);
- JSON only (DRF's documented way to drop the browsable API in production): one renderer to
  negotiate, one parser.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-peer-only-secret-key-8e1f4c2a9b7d3e5f6a0c1b2d4e6f8a9c")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # djangorestframework-api-key's installation: both apps, then `migrate`.
    "rest_framework",
    "rest_framework_api_key",
    "bench.peer.questions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bench.peer.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "bench.peer.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        env="PEER_DATABASE_URL",
        default="postgres://postgres@127.0.0.1:5432/nbq_bench_peer",
        conn_max_age=600,
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

# The project whose questions the peer serves (the DRF key belongs to no project): the first one,
# in the fresh database bench/peer/setup_data.py seeds.
BENCH_PROJECT_ID = int(os.environ.get("PEER_PROJECT_ID", "1"))
