"""The Info items of issue #27's red-team report, each with its regression test."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from projects.invitations import neutralise

# --- neutralise() removes bidi and zero-width characters --------------------------------------------
BIDI_AND_INVISIBLE = [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200e", "\u200f", "\u061c",  # marks
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",  # zero-width, word joiner, BOM, soft hyphen
]  # fmt: skip


@pytest.mark.parametrize("char", BIDI_AND_INVISIBLE, ids=[f"U+{ord(c):04X}" for c in BIDI_AND_INVISIBLE])
def test_neutralise_removes_bidi_and_zero_width_characters(char):
    shown = neutralise(f"Pay{char}Pal exe{char}.com Admin")
    assert char not in shown
    assert shown == "PayPal exe dot com Admin"


def test_a_right_to_left_override_cannot_reverse_a_name_in_a_mail():
    assert neutralise("invoice\u202egpj.exe") == "invoicegpj dot exe"


# --- SECRET_SCANNING_GITHUB_KEYS_URL: https or file, never http ------------------------------------
def _settings_run(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_SCANNING_GITHUB_KEYS_URL", "DEBUG"}}
    name = "SECRET_SCANNING_GITHUB_KEYS_URL"
    code = f"import django; django.setup(); from django.conf import settings as s; print(s.{name})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**base, "DJANGO_SETTINGS_MODULE": "keys_console.settings", "SECRET_KEY": secrets.token_urlsafe(50), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_http_github_keys_url_stops_the_start_naming_the_variable():
    done = _settings_run(SECRET_SCANNING_GITHUB_KEYS_URL="http://api.github.com/meta/public_keys/secret_scanning")
    assert done.returncode != 0
    assert "SECRET_SCANNING_GITHUB_KEYS_URL" in done.stderr and "https://" in done.stderr


@pytest.mark.parametrize(
    "url", ["https://api.github.com/meta/public_keys/secret_scanning", "file:///srv/github-keys.json"]
)
def test_https_and_file_github_keys_urls_are_accepted(url):
    done = _settings_run(SECRET_SCANNING_GITHUB_KEYS_URL=url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == url


def test_the_fetch_refuses_http_too(settings):
    from api.secret_scanning import KeysUnavailable, fetch_public_keys

    settings.SECRET_SCANNING_GITHUB_KEYS_URL = "http://127.0.0.1:1/keys.json"  # refused before any connection
    with pytest.raises(KeysUnavailable, match="https"):
        fetch_public_keys()


# --- the compose Redis never evicts a security counter or a tombstone ------------------------------
def test_the_compose_redis_does_not_evict_keys():
    import yaml

    compose = yaml.safe_load((settings.BASE_DIR / "deploy" / "compose.yaml").read_text())
    command = compose["services"]["redis"]["command"]
    policy = command[command.index("--maxmemory-policy") + 1]
    # noeviction: when full, Redis refuses writes (the app then falls back to the database and logs
    # it) instead of silently dropping failed-login counts, rate counters or revocation tombstones.
    assert policy == "noeviction"
