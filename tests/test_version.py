"""One version, written once (pyproject.toml) and read from the package metadata
(keys_console/version.py): OpenAPI's `info.version`, `/healthz`'s `version` and the CHANGELOG's
newest release heading all say it."""

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from keys_console.version import DISTRIBUTION, VERSION

ROOT = Path(__file__).resolve().parent.parent
# A release heading: "## [1.0.0] - 2026-12-04" or "## 1.1.0 — 2026-12-07"; "## [Unreleased]" is not one.
RELEASE_HEADING = re.compile(r"^## \[?(\d+\.\d+\.\d+)\]?\s+[—–-]\s+\d{4}-\d{2}-\d{2}\s*$", re.MULTILINE)


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def newest_release(changelog: str) -> str | None:
    """The version of the first release heading (an "Unreleased" section may stand above it)."""
    match = RELEASE_HEADING.search(changelog)
    return match.group(1) if match else None


def test_the_metadata_says_what_pyproject_says():
    # A stale install (pyproject.toml edited, `make venv` not run) fails here rather than ship.
    assert version(DISTRIBUTION) == pyproject_version() == VERSION


def test_the_changelogs_newest_release_is_the_version():
    assert newest_release((ROOT / "CHANGELOG.md").read_text()) == VERSION


def test_newest_release_reads_the_headings_as_written():
    assert newest_release("# Changelog\n\n## [Unreleased]\n\n- x\n\n## [1.0.0] - 2026-12-04\n") == "1.0.0"
    assert newest_release("## 1.1.0 — 2026-12-07\n\n## [1.0.0] - 2026-12-04\n") == "1.1.0"
    assert newest_release("## [Unreleased]\n") is None


def test_openapi_says_the_version(client):
    assert client.get("/api/v1/openapi.json").json()["info"]["version"] == VERSION


@pytest.mark.django_db
def test_healthz_says_the_version(client):
    assert client.get("/healthz").json()["version"] == VERSION
