"""deploy/: the image definition, the compose file and HAProxy's configuration hold together with
the app (Docker is not needed: the compose file is read as YAML, the HAProxy configuration is
checked by haproxy itself, and the image's file set is tried with the checkout's interpreter)."""

import datetime
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
SAMPLE_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "POSTGRES_PASSWORD": "pw",
    "PUBLIC_HOST": "keys.example.com",
}
SHARED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def interpolate(value: str, env: dict) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, with `env`."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name} must be set: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def test_compose_has_every_part(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "app", "worker", "haproxy"} <= set(services)
    assert services["app"]["deploy"]["replicas"] == 2
    assert services["worker"]["entrypoint"][:3] == ["python", "manage.py", "db_worker"]
    assert services["migrate"]["entrypoint"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"  # a one-shot job
    for name in ("app", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy"
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in services["haproxy"]["volumes"]
    # Longer than the drain plus gunicorn's graceful timeout (keys_console/gunicorn_conf.py).
    from keys_console import gunicorn_conf

    grace = int(services["app"]["stop_grace_period"].removesuffix("s"))
    assert grace >= gunicorn_conf.DEFAULT_DRAIN_SECONDS + gunicorn_conf.graceful_timeout + 5


def test_every_process_shares_secret_key_database_and_redis(compose):
    services = compose["services"]
    environments = {name: services[name]["environment"] for name in ("app", "worker", "migrate")}
    for variable in SHARED:
        values = {name: env[variable] for name, env in environments.items()}
        assert len(set(values.values())) == 1, values
    assert environments["app"]["TASKS_BACKEND"] == "database"
    with pytest.raises(KeyError, match="SECRET_KEY must be set"):
        interpolate(environments["app"]["SECRET_KEY"], {})


def test_the_compose_environment_passes_check_deploy(compose):
    """The app's environment as compose gives it: the strict settings accept it and `check --deploy`
    reports nothing."""
    raw = compose["services"]["app"]["environment"]
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env.update({k: interpolate(str(v), SAMPLE_ENV) for k, v in raw.items()})
    assert env["DATABASE_URL"] == "postgres://nbq:pw@postgres:5432/nbq"
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_haproxy_checks_healthz_with_a_host_the_app_allows(compose):
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert "http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost" in config
    assert "http-check expect status 200" in config
    assert "localhost" in compose["services"]["app"]["environment"]["ALLOWED_HOSTS"].split(",")
    assert "http-request set-header X-Forwarded-Proto https" in config  # the app's SECURE_PROXY_SSL_HEADER
    assert "option forwardfor" in config and compose["services"]["app"]["environment"]["TRUSTED_PROXIES"] == "1"
    assert "retry-on conn-failure" in config and "option redispatch" in config


def self_signed_pem(path: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def test_haproxy_accepts_its_configuration(tmp_path):
    haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if haproxy is None:
        pytest.skip("haproxy is not installed (.ci/run installs it)")
    pem = self_signed_pem(tmp_path / "site.pem")
    done = subprocess.run(
        [haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        env={**os.environ, "TLS_CERT": str(pem)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def test_the_image_is_multi_stage_locked_non_root_with_static_files_and_gunicorn():
    text = dockerfile()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.M)
    assert stages == ["build", "runtime"]
    assert "uv sync --locked --no-dev" in text and "--frozen" not in text
    makefile_uv = re.search(r"^UV_VERSION \?= (\S+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    assert f'"uv=={makefile_uv}"' in text  # the same uv as `make`
    assert re.search(r"^RUN .*collectstatic --noinput", text, re.M | re.S)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    entry = re.search(r"^ENTRYPOINT \[(.*?)\]$", text, re.M | re.S).group(1)
    assert entry.startswith('"gunicorn", "keys_console.wsgi"')
    runtime = text.split("AS runtime", 1)[1]
    assert "uv " not in runtime and "pip install" not in runtime  # nothing installed at run time


def test_only_the_app_writes_a_line_per_request():
    """The app's request line names the route, never the path (an invitation or password-reset
    link holds a token), and folds repeated failures; gunicorn's access log and HAProxy's log of
    every request would write each full path, and a line per request of any flood."""
    text = dockerfile()
    entry = re.search(r"^ENTRYPOINT \[(.*?)\]$", text, re.M | re.S).group(1)
    assert "access-log" not in entry and "GUNICORN_CMD_ARGS" not in text
    defaults = (DEPLOY / "haproxy.cfg").read_text().split("\ndefaults", 1)[1]
    assert re.search(r"^\s+option dontlog-normal$", defaults, re.M)


def image_files() -> list[str]:
    """What the Dockerfile copies from the build context (COPY lines of the build stage)."""
    copies = re.findall(r"^COPY (?!--from)(.+)$", dockerfile(), re.M)
    files = []
    for line in copies:
        parts = line.split()
        files += [p.rstrip("/") for p in parts[:-1]]
    return files


def test_the_dockerignore_lets_in_exactly_what_the_image_copies():
    allowed = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert set(image_files()) == allowed


def test_the_image_copies_every_app():
    """A new top-level app (a folder with apps.py) must reach the image: the webhooks app was once
    left out of it, and the image would not have started."""
    apps = {path.parent.name for path in REPO.glob("*/apps.py")}
    assert apps - set(image_files()) == set()


def test_the_images_files_are_enough_to_run_the_app(tmp_path):
    """The image's file set alone (no tests, no docs, no bench): settings load, `check --deploy` is
    clean and collectstatic works, as in the build stage."""
    app = tmp_path / "app"
    app.mkdir()
    for name in image_files():
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, app / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, app / name)
    dropped = {"DATABASE_URL", "REDIS_URL", "DEBUG", "TASKS_BACKEND", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the browser tests'
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), STATIC_ROOT=str(tmp_path / "static"))
    env.update(ALLOWED_HOSTS="keys.example.com", PYTHONPATH=str(app))
    for args in (["check", "--deploy", "--fail-level", "WARNING"], ["collectstatic", "--noinput"]):
        done = subprocess.run(
            [sys.executable, str(app / "manage.py"), *args],
            cwd=app,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import keys_console, projects; print(keys_console.__file__, projects.__file__)"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.count(str(app)) == 2, probe.stdout  # the copies were used, not the checkout
    assert (tmp_path / "static" / "staticfiles.json").exists()
