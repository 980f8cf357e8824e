"""keys_console/env.py: settings read strictly from the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from keys_console.env import (
    env_bool,
    env_choice,
    env_database,
    env_dotted_path,
    env_float,
    env_int,
    env_list,
    env_rates,
    env_str,
    env_url,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        (" Yes ", True),
        ("ON", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_bool_reads_yes_and_no(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["flase", "2", "enabled", "y e s"])
def test_env_bool_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="FLAG="):
        env_bool("FLAG", False)


def test_unset_or_blank_gives_the_default(monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    assert env_bool("NOPE", True) is True and env_int("NOPE", 7) == 7 and env_float("NOPE", 0.5) == 0.5
    monkeypatch.setenv("NOPE", "  ")
    assert env_str("NOPE", "d") == "d" and env_list("NOPE", ["a"]) == ["a"] and env_choice("NOPE", "x", ("x",)) == "x"


def test_env_int_and_float(monkeypatch):
    monkeypatch.setenv("N", " 42 ")
    assert env_int("N", 0, minimum=1) == 42 and env_float("N", 0.0) == 42.0
    for raw, message in (("1m", "not a whole number"), ("-1", "at least 0"), ("4.5", "not a whole number")):
        monkeypatch.setenv("N", raw)
        with pytest.raises(ImproperlyConfigured, match=message):
            env_int("N", 0, minimum=0)
    for raw in ("nan", "inf", "ten"):
        monkeypatch.setenv("N", raw)
        with pytest.raises(ImproperlyConfigured, match="N="):
            env_float("N", 1.0)


def test_env_list_and_choice(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.setenv("FORMAT", "JSON")
    assert env_choice("FORMAT", "plain", ("json", "plain")) == "json"
    monkeypatch.setenv("LEVEL", "warning")
    assert env_choice("LEVEL", "INFO", ("DEBUG", "INFO", "WARNING")) == "WARNING"
    monkeypatch.setenv("FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="one of: json, plain"):
        env_choice("FORMAT", "plain", ("json", "plain"))


def test_env_int_names_the_unit_and_an_example(monkeypatch):
    monkeypatch.setenv("CONN_MAX_AGE", "1m")
    with pytest.raises(ImproperlyConfigured) as raised:
        env_int("CONN_MAX_AGE", 600, minimum=0, unit="seconds")
    assert str(raised.value) == "CONN_MAX_AGE='1m' is not a whole number of seconds, e.g. CONN_MAX_AGE=600."
    monkeypatch.setenv("CONN_MAX_AGE", "99999")
    with pytest.raises(ImproperlyConfigured, match="at most 65535"):
        env_int("CONN_MAX_AGE", 600, maximum=65535)


def test_env_readers_take_a_mapping_instead_of_os_environ():
    environ = {"A": "3", "B": "on", "C": "x,y"}
    assert env_int("A", 0, environ=environ) == 3 and env_bool("B", False, environ=environ) is True
    assert env_list("C", [], environ=environ) == ["x", "y"] and env_str("D", "d", environ=environ) == "d"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("redis://cache:6379/0", None),
        ("rediss://:pw@cache.example:6380/1", None),
        ("unix:///run/redis.sock", None),
        ("http://cache:6379", "must start with redis:// or rediss:// or unix://"),
        ("redis://:pw@cache:port/0", "is not a URL"),
        ("redis:///0", "names no host"),
    ],
)
def test_env_url(monkeypatch, raw, message):
    monkeypatch.setenv("REDIS_URL", raw)
    read = lambda: env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"), example="redis://host:6379/0")  # noqa: E731
    if message is None:
        assert read() == raw
    else:
        with pytest.raises(ImproperlyConfigured, match=message) as raised:
            read()
        assert "pw" not in str(raised.value)


def test_env_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://nbq:pw@db.example:5432/nbq?sslmode=verify-full")
    config = env_database("DATABASE_URL", "sqlite:///x")
    assert config["HOST"] == "db.example" and config["OPTIONS"] == {"sslmode": "verify-full"}
    monkeypatch.delenv("DATABASE_URL")
    assert env_database("DATABASE_URL", "sqlite:////tmp/x.sqlite3")["NAME"] == "/tmp/x.sqlite3"
    monkeypatch.setenv("DATABASE_URL", "mysql://nbq:pw@db/nbq")
    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_URL='mysql://nbq:\*\*\*@db/nbq' must start with"):
        env_database("DATABASE_URL", "sqlite:///x")


@pytest.mark.parametrize("raw", ["10/m/ip,5/5m/key", "20/m", "3/1.5h/user"])
def test_env_rates_accepts_allauths_syntax(monkeypatch, raw):
    monkeypatch.setenv("LOGIN_FAILED_RATE_LIMIT", raw)
    assert env_rates("LOGIN_FAILED_RATE_LIMIT", "10/m/ip") == raw


@pytest.mark.parametrize("raw", ["10/minute", "ten/m", "10/m/host", "10/m,,"])
def test_env_rates_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("LOGIN_FAILED_RATE_LIMIT", raw)
    with pytest.raises(ImproperlyConfigured, match="AMOUNT/DURATION"):
        env_rates("LOGIN_FAILED_RATE_LIMIT", "10/m/ip")


def test_env_dotted_path(monkeypatch):
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    assert env_dotted_path("EMAIL_BACKEND") == "django.core.mail.backends.locmem.EmailBackend"
    monkeypatch.setenv("EMAIL_BACKEND", "locmem")
    with pytest.raises(ImproperlyConfigured, match="dotted Python path"):
        env_dotted_path("EMAIL_BACKEND")
