"""The README's operator commands, pasted as written into a second terminal after `make run`:
any `python` (pyenv's shim has no Django), no SECRET_KEY or DEBUG set, the demo's data."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KEY_LINE = re.compile(r"nbq_live_[A-Za-z0-9]{32}")
KEY_ID = re.compile(r"key_[A-Za-z0-9]+")
OPERATOR_ENV_DROPPED = {"SECRET_KEY", "DEBUG", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONPATH"}


def readme_operator_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Operators and scripts", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def python_without_django() -> str | None:
    """An interpreter outside the project's .venv that cannot import Django (like pyenv's shim)."""
    for candidate in (getattr(sys, "_base_executable", None), shutil.which("python3", path="/usr/bin")):
        if not candidate or not os.path.exists(candidate):
            continue
        probe = subprocess.run([candidate, "-c", "import django"], capture_output=True, timeout=30)
        if probe.returncode != 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def second_terminal(tmp_path_factory):
    """After `make run`'s steps (migrate, seed_demo with DEBUG=1) on a database of the test's own:
    the environment of a fresh terminal, where `python` has no Django."""
    if not (REPO / ".venv" / "bin" / "python").exists():
        pytest.skip("needs the checkout's .venv (make run / make venv)")
    base = tmp_path_factory.mktemp("operator")
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_ENV_DROPPED | {"DATABASE_URL"}}
    env["DATABASE_URL"] = f"sqlite:///{base / 'db.sqlite3'}"
    env["LOG_LEVEL"] = "WARNING"
    for args in (["migrate", "--noinput"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env={**env, "DEBUG": "1"},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
    python = python_without_django()
    if python is not None:
        bin_dir = base / "bin"
        bin_dir.mkdir()
        (bin_dir / "python").symlink_to(python)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def paste(env, line: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_readme_operator_commands_work_as_written(second_terminal):
    env = second_terminal
    commands = readme_operator_commands()
    assert commands[0].startswith("python manage.py create_api_key demo ")
    created_id = None
    for line in commands:
        if "createsuperuser" in line:
            continue  # interactive: test_createsuperuser_as_documented
        if "key_xxxxxxxxxxxxxxxx" in line:
            assert created_id, "a key must be created before it is revoked"
            line = line.replace("key_xxxxxxxxxxxxxxxx", created_id)
        done = paste(env, line)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        assert "Traceback" not in done.stderr and "[" not in done.stderr, done.stderr  # sentences, no reprs
        if "create_api_key" in line:
            assert KEY_LINE.fullmatch(done.stdout.strip()), done.stdout
            assert done.stderr.startswith("Created key_")
            assert done.stderr.rstrip().endswith("It will not be shown again.")
            created_id = created_id or KEY_ID.search(done.stderr).group(0)
        elif "revoke_api_key" in line:
            assert done.stdout.startswith(f"Revoked {created_id} "), done.stdout
        elif "send_key_reminders" in line:
            assert done.stdout.startswith("Sent "), done.stdout


def test_account_key_message_is_a_sentence(second_terminal):
    done = paste(
        second_terminal,
        'python manage.py create_api_key --account demo@nbq.example --projects demo --name "Msg" --permissions read',
    )
    assert done.returncode == 0, done.stderr
    assert "for demo@nbq.example (projects: demo). It will not be shown again." in done.stderr


def test_python_without_django_runs_the_command_with_the_checkouts_venv(second_terminal):
    if python_without_django() is None:
        pytest.skip("no interpreter without Django on this machine")
    done = paste(second_terminal, "python -c 'import django' 2>/dev/null || python manage.py check")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_errors_are_one_sentence_on_stderr_with_status_1(second_terminal):
    done = paste(second_terminal, 'python manage.py create_api_key nope --name "x" --permissions read')
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "CommandError: No project with the slug “nope”."


def test_createsuperuser_as_documented(second_terminal):
    env = {**second_terminal, "DJANGO_SUPERUSER_PASSWORD": "a-long-admin-password-42"}
    done = paste(env, "python manage.py createsuperuser --noinput --email ops@example.com")
    assert done.returncode == 0, done.stderr
    assert "Superuser created successfully." in done.stdout


def test_production_settings_still_need_a_secret_key():
    """The development default is manage.py's alone, and only with neither SECRET_KEY nor DEBUG."""
    sys.path.insert(0, str(REPO))
    try:
        import manage
    finally:
        sys.path.pop(0)
    assert manage.development_default({}) == "1"
    assert manage.development_default({"SECRET_KEY": "s"}) is None
    assert manage.development_default({"DEBUG": "0"}) is None
    assert manage.development_default({"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}) == "1"
    # never development settings against a server database (seed_demo would make its superuser there)
    assert manage.development_default({"DATABASE_URL": "postgres://nbq@db.internal/nbq"}) is None
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_ENV_DROPPED | {"DATABASE_URL"}}
    wsgi = subprocess.run(
        [sys.executable, "-c", "import keys_console.wsgi"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wsgi.returncode != 0 and "SECRET_KEY is not set" in wsgi.stderr
