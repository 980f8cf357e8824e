"""Scheduled jobs shipped (keys_console/schedule.py): systemd units and timers in deploy/systemd/
(checked by `systemd-analyze verify` where it is installed), compose's scheduler service running the
same table, docs/deploy.md listing every periodic command, and `run_schedule` running them."""

import configparser
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from keys_console.management.commands.run_schedule import Command
from keys_console.schedule import JOBS, due, next_run

REPO = Path(__file__).resolve().parents[1]
SYSTEMD = REPO / "deploy" / "systemd"
COMMANDS = {job.command for job in JOBS}


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(path.read_text())
    return parser


def test_every_periodic_command_has_a_timer_at_its_time():
    assert {"send_key_reminders", "cleanup", "prune_db_task_results", "prune_webhook_deliveries"} == COMMANDS
    for job in JOBS:
        name = "nbq-" + job.command.replace("_", "-")
        service, timer = unit(SYSTEMD / f"{name}.service"), unit(SYSTEMD / f"{name}.timer")
        assert service["Service"]["Type"] == "oneshot"
        assert service["Service"]["ExecStart"].endswith(f"manage.py {job.command}")
        assert timer["Timer"]["OnCalendar"] == f"*-*-* {job.at:%H:%M}:00 UTC"
        assert timer["Timer"]["Persistent"] == "true"


def test_web_and_worker_units():
    web, worker = unit(SYSTEMD / "nbq-web.service"), unit(SYSTEMD / "nbq-worker.service")
    assert "-c keys_console/gunicorn_conf.py" in web["Service"]["ExecStart"]
    from keys_console import gunicorn_conf

    # Long enough for the drain and the requests in flight; only the master gets SIGTERM.
    assert int(web["Service"]["TimeoutStopSec"]) >= gunicorn_conf.DEFAULT_DRAIN_SECONDS + gunicorn_conf.graceful_timeout
    assert web["Service"]["KillMode"] == "mixed"
    assert worker["Service"]["ExecStart"].endswith("manage.py db_worker --no-reload")
    for service in (web, worker):
        assert service["Service"]["User"] == "nbq" and service["Service"]["EnvironmentFile"] == "/etc/nbq/env"


def test_systemd_analyze_verifies_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the units are parsed by the tests above)")
    # The units name /srv/nbq/app; verify checks that the programs exist: point them at this checkout.
    for path in SYSTEMD.iterdir():
        (tmp_path / path.name).write_text(path.read_text().replace("/srv/nbq/app", str(REPO)))
    done = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nbq" not in done.stderr, done.stderr  # no warning about any of our units


def test_compose_runs_the_same_schedule():
    services = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    scheduler = services["scheduler"]
    assert scheduler["entrypoint"] == ["python", "manage.py", "run_schedule"]
    assert scheduler["environment"] == services["worker"]["environment"]  # the same settings
    assert "deploy" not in scheduler  # one instance


def test_docs_list_every_periodic_command_with_its_time():
    deploy = (REPO / "docs" / "deploy.md").read_text()
    for job in JOBS:
        row = re.search(rf"^\| `(?:python )?manage\.py {job.command}`.*$", deploy, re.M)
        assert row, f"docs/deploy.md has no row for {job.command}"
        assert f"{job.at:%H:%M}" in row.group(0)


def test_next_run_and_due():
    morning = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    cleanup = next(job for job in JOBS if job.command == "cleanup")
    assert next_run(cleanup, morning) == datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    assert next_run(cleanup, datetime(2026, 12, 7, 3, 31, tzinfo=UTC)) == datetime(2026, 12, 8, 3, 30, tzinfo=UTC)
    when, jobs = due(datetime(2026, 12, 7, 23, 0, tzinfo=UTC))
    assert when == datetime(2026, 12, 8, 3, 30, tzinfo=UTC) and [j.command for j in jobs] == ["cleanup"]


@pytest.mark.django_db
def test_run_schedule_sleeps_until_the_next_job_and_runs_it(monkeypatch):
    ran, slept = [], []
    monkeypatch.setattr(
        "keys_console.management.commands.run_schedule.call_command", lambda name, *a, **k: ran.append(name)
    )
    monkeypatch.setattr(
        "keys_console.management.commands.run_schedule.timezone.now",
        lambda: datetime(2026, 12, 7, 7, 59, 30, tzinfo=UTC),
    )
    assert Command().run_next(sleep=slept.append) == ["send_key_reminders"]
    assert ran == ["send_key_reminders"] and slept == [30.0]


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_schedule(monkeypatch, caplog):
    def boom(name, *args, **kwargs):
        raise RuntimeError("SMTP down")

    monkeypatch.setattr("keys_console.management.commands.run_schedule.call_command", boom)
    assert Command().run_next(sleep=lambda seconds: None)  # logged, not raised
    assert "failed" in caplog.text
