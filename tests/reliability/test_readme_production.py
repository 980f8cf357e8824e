"""The README's production recipe, run as written: its "Running in production" block, line by line,
with only secrets, hosts and ports substituted, against a private PostgreSQL (the `nbq` role with a
password, checked: scram-sha-256 over TCP) and a private Redis; then the shipped deploy/haproxy.cfg in
front (TLS with a self-signed certificate, its server made the gunicorn of the recipe), and a key
made with the README's operator command answers `GET /api/v1/key` through it.

Substituted: the database password, the ports of PostgreSQL, Redis, SMTP and gunicorn, STATIC_ROOT
(a temporary directory). Not run: `make install` (it would make the suite's shared .venv exactly
the runtime set, removing the test tools; the image build and `make install` are checked in
tests/test_deploy.py). The interactive `createsuperuser` is answered on a terminal (a pty).
"""

import contextlib
import os
import pty
import re
import secrets
import select
import shutil
import signal
import subprocess
import time

import psycopg
import pytest

from tests.test_deploy import self_signed_pem

from . import live
from .test_topology import DEPLOY_CFG, _found, balancer_config, tls_call

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

README = live.REPO / "README.md"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@keys.example.com", "a-long-admin-password-" + secrets.token_hex(4)


def readme_value(variable: str) -> str:
    """The value the README's production block exports for `variable`."""
    found = re.search(rf"\b{variable}=(\S+)", README.read_text().split("## Running in production", 1)[1])
    assert found, f"the README's production block sets no {variable}"
    return found.group(1)


def production_block() -> list[str]:
    """The shell lines of the README's "Running in production" block (continuations joined,
    comments dropped)."""
    text = README.read_text()
    section = text.split("## Running in production", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "the README's production section has no sh block"
    block = found.group(1)
    lines, current = [], ""
    for raw in block.splitlines():
        code = re.sub(r"\s+#.*$", "", raw) if not raw.lstrip().startswith("#") else ""
        if not code.strip():
            continue
        current += code.rstrip().removesuffix("\\") + " " if code.rstrip().endswith("\\") else code.strip()
        if not code.rstrip().endswith("\\"):
            lines.append(re.sub(r"\s+", " ", current).strip())
            current = ""
    return lines


def run_on_a_terminal(command: str, env: dict, answers: list[tuple[str, str]], timeout: float = 120) -> int:
    """`command` on a pty, answering each prompt (a regular expression) as it appears."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.chdir(live.REPO)
        os.execvpe("bash", ["bash", "-c", command], env)
    output, deadline = b"", time.monotonic() + timeout
    pending = list(answers)
    status = None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            output += chunk
            if pending and re.search(pending[0][0].encode(), output.rsplit(b"\n", 1)[-1]):
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"{command} did not finish: {output[-2000:]!r}")
    assert status is not None
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, output[-3000:].decode(errors="replace")
    return code


@pytest.fixture
def private_services(tmp_path):
    if _found("haproxy") is None:
        pytest.skip("needs haproxy (Debian package; .ci/run installs it)")
    try:
        cluster = live.PrivatePostgres()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    cluster.start()
    redis = live.PrivateRedis()
    redis.start()
    try:
        yield cluster, redis
    finally:
        redis.stop()
        cluster.destroy()


def test_the_readme_production_block_runs_as_written(private_services, tmp_path):
    cluster, redis = private_services
    password = secrets.token_urlsafe(16)
    # As the README says (createuser --pwprompt nbq; createdb -O nbq nbq), and PostgreSQL asking
    # for that password over TCP, as a packaged server does.
    with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f"CREATE ROLE nbq LOGIN PASSWORD '{password}'")
        c.execute("CREATE DATABASE nbq OWNER nbq")
    hba = cluster.data / "pg_hba.conf"
    hba.write_text("host all nbq 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    cluster._run("pg_ctl", "-D", str(cluster.data), "reload")
    with pytest.raises(psycopg.OperationalError):  # the password is really asked for
        psycopg.connect(host="127.0.0.1", port=cluster.port, user="nbq", dbname="nbq", password="wrong").close()

    web_port, smtp_port = live.free_port(), live.free_port()
    substitutions = [
        ("nbq:PASSWORD@127.0.0.1:5432", f"nbq:{password}@127.0.0.1:{cluster.port}"),
        (readme_value("REDIS_URL"), redis.url),  # the README's Redis, replaced by the test's own
        ("mail.example.com:587", f"127.0.0.1:{smtp_port}"),
        ("STATIC_ROOT=/srv/nbq/static", f"STATIC_ROOT={tmp_path / 'static'}"),
        ("127.0.0.1:8000", f"127.0.0.1:{web_port}"),
    ]
    lines = production_block()
    assert lines[0] == "make install" and lines[1].startswith("export DEBUG=0 SECRET_KEY=")
    assert any("createsuperuser" in line for line in lines) and lines[-1].startswith(".venv/bin/gunicorn")
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    env = dict(base)
    background: list[subprocess.Popen] = []
    ran = []
    try:
        for line in lines:
            for old, new in substitutions:
                line = line.replace(old, new)
            if line == "make install":
                continue  # see the module's docstring
            if line.startswith("export "):
                dump = subprocess.run(
                    ["bash", "-c", f"{line} && env -0"], cwd=live.REPO, env=env, capture_output=True, check=True
                )
                env = dict(item.split("=", 1) for item in dump.stdout.decode().split("\0") if "=" in item)
            elif "createsuperuser" in line:
                run_on_a_terminal(
                    line,
                    env,
                    [
                        (r"Email( address)?:", ADMIN_EMAIL),
                        (r"Password:", ADMIN_PASSWORD),
                        (r"again\)?:", ADMIN_PASSWORD),
                    ],
                )
            elif line.endswith("&") or line.startswith(".venv/bin/gunicorn"):
                log = open(tmp_path / f"background-{len(background)}.log", "wb")  # noqa: SIM115
                background.append(
                    subprocess.Popen(
                        ["bash", "-c", f"exec {line.removesuffix('&').strip()}"],
                        cwd=live.REPO,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            else:
                done = subprocess.run(
                    ["bash", "-c", line], cwd=live.REPO, env=env, capture_output=True, text=True, timeout=600
                )
                assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-3000:])
                if "check --deploy" in line:
                    assert "System check identified no issues" in done.stdout + done.stderr
            ran.append(line.split(" ", 2)[:3])
        assert env["DATABASE_URL"].startswith("postgres://nbq:") and env["DEBUG"] == "0"

        # The shipped balancer in front: TLS, its health check (Host: localhost) must see the host up.
        cert = self_signed_pem(tmp_path / "site.pem")
        http_port, tls_port = live.free_port(), live.free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(
            balancer_config(
                DEPLOY_CFG.read_text(),
                http_port=http_port,
                tls_port=tls_port,
                cert=cert,
                servers=[web_port],
                sock=tmp_path / "haproxy.sock",
            )
        )
        haproxy_log = open(tmp_path / "haproxy.log", "wb")  # noqa: SIM115
        background.append(
            subprocess.Popen(
                [_found("haproxy"), "-db", "-f", str(config)],
                stdout=haproxy_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        # The README's operator command, with the production environment.
        made = subprocess.run(
            [".venv/bin/python", "manage.py", "create_api_key", "--account", ADMIN_EMAIL, "--projects", "all",
             "--name", "Recipe", "--permissions", "read"],
            cwd=live.REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip()
        deadline, reply = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                reply = tls_call(
                    tls_port, "GET", "/api/v1/key", headers={**live.bearer(key), "Host": "keys.example.com"}
                )
                if reply.status == 200:
                    break
            time.sleep(0.5)
        assert reply is not None and reply.status == 200, (
            reply and reply.body[:500],
            (tmp_path / "haproxy.log").read_text()[-2000:],
        )
        assert reply.json()["kind"] == "account"
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("background-*.log"))
        assert "DisallowedHost" not in logs and "Invalid HTTP_HOST" not in logs
        assert "Control server error" not in logs
    finally:
        for process in reversed(background):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(tmp_path / "static", ignore_errors=True)
