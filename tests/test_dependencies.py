"""The locked dependency set (uv): the lock matches pyproject.toml, the Makefile refuses a stale
lock, and `make run` installs no test or benchmark tools."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEV_ONLY = (
    "pytest",
    "pytest-django",
    "playwright",
    "pytest-playwright",
    "schemathesis",
    "hypothesis",
    "factory-boy",
    "ruff",
    "mypy",
    "django-stubs",
    "djangorestframework",
    "djangorestframework-api-key",
)


def _uv() -> str:
    uv = REPO / ".tools" / "bin" / "uv"  # what the Makefile bootstraps
    if uv.exists():
        return str(uv)
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (make test installs it into .tools/)")
    return found


def _run_uv(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """uv from its cache; when judging an edited pyproject needs index data the cache lacks (a
    fresh machine's cache holds what `uv sync` fetched, not the index pages a new resolution
    reads), once more with the network, as `make` itself runs uv."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([_uv(), *args, "--offline"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and "network was disabled" in done.stderr:
        done = subprocess.run([_uv(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return done


@pytest.fixture
def project_copy(tmp_path):
    for name in ("pyproject.toml", "uv.lock", ".python-version", "README.md", "LICENSE"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_uv_lock_matches_pyproject(project_copy):
    done = _run_uv("lock", "--check", cwd=project_copy)
    assert done.returncode == 0, "uv.lock is out of date: run `make lock` (uv lock)\n" + done.stderr


def test_a_pyproject_edit_without_relocking_fails_the_locked_sync(project_copy):
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    assert '"gunicorn>=23",' in text
    pyproject.write_text(text.replace('"gunicorn>=23",', "", 1))
    check = _run_uv("lock", "--check", cwd=project_copy)
    assert check.returncode != 0 and "needs to be updated" in check.stderr
    sync = _run_uv("sync", "--locked", "--no-dev", "--dry-run", cwd=project_copy)
    assert sync.returncode != 0 and "needs to be updated" in sync.stderr


def test_the_makefile_syncs_with_locked_not_frozen():
    """`uv sync --frozen` installs a stale lock without a word; `--locked` stops on it."""
    makefile = (REPO / "Makefile").read_text()
    syncs = re.findall(r"^SYNC := (.*)$", makefile, re.M)
    assert syncs and "--locked" in syncs[0] and "--frozen" not in makefile.replace("--frozen would", "")
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "$(SYNC) --no-dev" in run


def test_make_run_installs_only_the_runtime_dependencies(project_copy):
    done = _run_uv("export", "--locked", "--no-dev", "--no-hashes", "--no-emit-project", cwd=project_copy)
    assert done.returncode == 0, done.stderr
    runtime = {
        re.split(r"[=\[ ;]", line, maxsplit=1)[0].lower()
        for line in done.stdout.splitlines()
        if line and not line.startswith(("#", " "))
    }
    assert {"django", "django-ninja", "django-htmx", "gunicorn", "whitenoise", "psycopg"} <= runtime
    assert not runtime & set(DEV_ONLY), runtime & set(DEV_ONLY)
    assert "sentry-sdk" not in runtime  # an extra, installed only on request


def test_ci_runs_ruff_and_mypy_before_the_tests():
    ci = (REPO / ".ci" / "run").read_text()
    assert "make check" in ci and ci.index("make check") < ci.index("make test")
    assert "set -euo pipefail" in ci  # a finding stops the run
    check = (REPO / "Makefile").read_text().split("\ncheck:", 1)[1].split("\n\n", 1)[0]
    for command in ("ruff check .", "ruff format --check .", "mypy ."):
        assert command in check, command


def test_the_ruff_configuration_reports_findings(tmp_path):
    ruff = REPO / ".venv" / "bin" / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed (make test installs the dev group)")
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\n\nx = '" + "a" * 130 + "'\n")
    done = subprocess.run(
        [str(ruff), "check", "--config", str(REPO / "pyproject.toml"), "--no-cache", str(sample)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "F401" in done.stdout and "E501" in done.stdout


def test_redis_py_parses_replies_with_hiredis():
    """`redis[hiredis]`: the API's one Redis round trip per request is parsed and packed in C
    (docs/performance.md: -18 % of the round trip's client CPU against redis-py's own parser)."""
    import redis.connection
    import redis.utils

    assert redis.utils.HIREDIS_AVAILABLE
    assert redis.connection.DefaultParser.__name__ == "_HiredisParser"
