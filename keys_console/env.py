"""Reading settings from the environment, strictly (in the style of healthchecks' `envbool` / `envint`).

Every setting that comes from the environment is read here (keys_console/settings.py). An unset or
empty variable gives the default; a value that cannot mean what the setting needs raises
ImproperlyConfigured naming the variable and the form it takes, so a typo (`DEBUG=flase`,
`CONN_MAX_AGE=1m`) stops the process at start instead of quietly picking a default. Messages never
repeat a password found in a URL. Each reader takes an optional `environ` (default: os.environ).
"""

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def _raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_str(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a yes/no value: use 1 or 0 (true/false, yes/no, on/off).")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    unit: str = "",
    environ: Mapping[str, str] | None = None,
) -> int:
    """A whole number; `unit` ("seconds") is named in the message on a bad value."""
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        what = f"a whole number of {unit}" if unit else "a whole number"
        raise ImproperlyConfigured(f"{name}={value!r} is not {what}, e.g. {name}={default}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small: it must be at least {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is too large: it must be at most {maximum}.")
    return number


def env_float(
    name: str, default: float, *, minimum: float | None = None, environ: Mapping[str, str] | None = None
) -> float:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={value!r} is not a finite number.")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small: it must be at least {minimum}.")
    return number


def env_list(name: str, default: list[str], *, environ: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...], *, environ: Mapping[str, str] | None = None) -> str:
    """One of `choices`, matched without regard to case (returned as spelled in `choices`)."""
    value = _raw(name, environ)
    if value is None:
        return default
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}.")


def without_password(url: str) -> str:
    """`url` with its password (if any) replaced by ***, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    except ValueError:
        return "(a malformed URL)"


def env_url(
    name: str,
    default: str,
    *,
    schemes: tuple[str, ...],
    example: str,
    environ: Mapping[str, str] | None = None,
) -> str:
    """A URL with one of `schemes` and a host (its port, if any, a number)."""
    value = _raw(name, environ)
    if value is None:
        return default
    shown = without_password(value)
    problem = None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        problem = "is not a URL"
    else:
        if parts.scheme not in schemes:
            problem = "must start with " + " or ".join(f"{scheme}://" for scheme in schemes)
        elif not parts.hostname and parts.scheme not in {"unix", "sqlite", "file"}:
            problem = "names no host"
    if problem:
        raise ImproperlyConfigured(f"{name}={shown!r} {problem}: e.g. {name}={example}")
    return value


DATABASE_SCHEMES = ("postgres", "postgresql", "sqlite")


def env_database(
    name: str, default: str, *, environ: Mapping[str, str] | None = None, **options: Any
) -> dict[str, Any]:
    """Django's DATABASES entry from a database URL (dj-database-url), PostgreSQL or SQLite only."""
    import dj_database_url

    example = "postgres://user:password@host:5432/name (or sqlite:////path/to/db.sqlite3)"
    url = env_url(name, default, schemes=DATABASE_SCHEMES, example=example, environ=environ)
    try:
        return dict(dj_database_url.parse(url, **options))
    except Exception:  # dj-database-url's ParseError / UnknownSchemeError, ValueError
        raise ImproperlyConfigured(f"{name}={without_password(url)!r} is not a database URL: e.g. {example}") from None


RATE = re.compile(r"\d+/\d*(\.\d+)?[smhd](/(ip|key|user))?")


def env_rates(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    """Rates in django-allauth's syntax: comma-separated AMOUNT/DURATION[/ip|key|user], e.g. 10/m/ip,5/5m/key."""
    value = _raw(name, environ)
    if value is None:
        return default
    if not all(RATE.fullmatch(part.strip()) for part in value.split(",")):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a list of rates: comma-separated AMOUNT/DURATION[/ip|key|user] "
            f"with DURATION a number and s, m, h or d, e.g. {name}={default}"
        )
    return value


DOTTED_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def env_dotted_path(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    """A Python dotted path (module.Class), e.g. a mail backend."""
    value = _raw(name, environ)
    if value is None:
        return default
    if not DOTTED_PATH.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a dotted Python path, e.g. {name}=django.core.mail.backends.smtp.EmailBackend"
        )
    return value


def env_networks(name: str, default: tuple[str, ...], *, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Comma-separated IP networks (CIDR; a bare address is its own /32 or /128), IPv4 or IPv6, as
    normalised strings. A network with host bits set (`10.0.0.1/8`) is refused: it is a typo."""
    import ipaddress

    value = _raw(name, environ)
    if value is None:
        return default
    networks = []
    for part in (item.strip() for item in value.split(",")):
        if not part:
            continue
        try:
            networks.append(str(ipaddress.ip_network(part)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {part!r} is not an IP network: use comma-separated CIDRs, e.g. {name}=10.0.0.0/8,fc00::/7"
            ) from None
    return tuple(networks)


# --- the test suite's one door ------------------------------------------------------------------------
TEST_SUITE_LOCAL_CACHE = "NBQ_TEST_SUITE_LOCAL_CACHE"
TEST_SUITE_LOCAL_CACHE_VALUE = "tests-only-security-counters-forgotten"


def local_cache_for_test_suite(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is this project's test suite (or a process it started) and may run the
    production profile (DEBUG=0) on the local-memory cache instead of Redis.

    Production refuses that (settings.py: REDIS_URL is required with DEBUG=0), because failed-login
    and failed-authentication counters, rate limits and GitHub's key-fetch guard kept per process
    can be evicted (the local-memory cache holds 300 entries) and are not shared between workers.
    The tests run DEBUG=0 without Redis on purpose; tests/environment.py opens this door by setting
    NBQ_TEST_SUITE_LOCAL_CACHE to the one value above, and it opens only when pytest's own
    PYTEST_VERSION is set too (pytest sets it for its run and the processes a test starts). It is
    not a setting: the README's configuration table does not list it, and an operator who copies
    it into a production environment still gets the refusal (tests/test_production_needs_redis.py).
    """
    env = os.environ if environ is None else environ
    return env.get(TEST_SUITE_LOCAL_CACHE) == TEST_SUITE_LOCAL_CACHE_VALUE and bool(env.get("PYTEST_VERSION"))
