"""keys_console/env.py: settings read strictly from the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from keys_console.env import env_bool, env_choice, env_float, env_int, env_list, env_str


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
