"""Management commands: create_api_key, revoke_api_key (in process and as real processes), seed_demo."""

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from keys import keygen
from keys.models import ApiKey
from keys.models.api_key import ExpiryRule, Status
from projects.models import KeyEvent, Project
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, ProjectFactory
from tests.helpers import KEY_IN_TEXT, page_text

BASE_DIR = Path(settings.BASE_DIR)


def _create(*args):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- create_api_key, in process -------------------------------------------------------------


@pytest.mark.django_db
def test_create_api_key_prints_exactly_one_key_line(unlocked_project):
    out, err = _create(unlocked_project.slug, "--name", "deploy bot", "--permissions", "read,write")
    lines = out.splitlines()
    assert len(lines) == 1 and out.endswith("\n")
    plaintext = lines[0]
    assert KEY_IN_TEXT.fullmatch(plaintext)
    assert keygen.is_well_formed(plaintext)
    key = ApiKey.objects.get(project=unlocked_project)
    assert key.key_hash == keygen.hash_key(plaintext)
    assert (key.name, key.permissions, key.expiry_rule) == ("deploy bot", ["read", "write"], ExpiryRule.DAYS_90)
    assert key.created_by is None
    assert plaintext not in err
    assert key.key_id in err and "will not be shown again" in err
    event = KeyEvent.objects.get()
    assert (event.kind, event.actor_label, event.actor, event.key_id) == (EventKind.CREATED, "cli", None, key.key_id)


@pytest.mark.django_db
@pytest.mark.parametrize(("days", "rule"), [("7", "7"), ("30", "30"), ("365", "365"), ("0", ExpiryRule.NEVER)])
def test_create_api_key_expiry_and_rate_limit(unlocked_project, days, rule):
    _create(
        unlocked_project.slug,
        "--name",
        "k",
        "--permissions",
        " read , invite ",
        "--expires-days",
        days,
        "--rate-limit",
        "30",
    )
    key = ApiKey.objects.get()
    assert key.expiry_rule == rule
    assert (key.expires_at is None) is (rule == ExpiryRule.NEVER)
    assert key.rate_limit == 30
    assert key.permissions == ["read", "invite"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("none", ["nope", "--name", "k", "--permissions", "read"], "No project with the slug “nope”."),
        (
            "locked",
            ["--name", "k", "--permissions", "read"],
            "API keys unlock at 10 active questions; this project has 9.",
        ),
        ("full", ["--name", "k", "--permissions", "read"], "already has 10 active keys"),
        ("open", ["--name", "k", "--permissions", "read,admin"], "Choose at least one permission"),
        ("open", ["--name", "k", "--permissions", ","], "Choose at least one permission"),
        ("open", ["--name", "  ", "--permissions", "read"], "Give the key a name"),
        ("open", ["--name", "k", "--permissions", "read", "--expires-days", "45"], "--expires-days takes 7, 30"),
        # The services' sentence (keys.services.clean_rate_limit), as the console's Edit dialog says it.
        ("open", ["--name", "k", "--permissions", "read", "--rate-limit", "0"], "Choose a rate limit from 1 to"),
        ("open", ["--name", "k", "--permissions", "read", "--rate-limit", "5000000"], "Choose a rate limit from 1 to"),
        ("dup", ["--name", "Taken", "--permissions", "read"], "An active key is already named “Taken”"),
    ],
)
def test_create_api_key_errors(user, setup, args, message):
    project = {
        "none": None,
        "locked": ProjectFactory(slug="locked", active_questions=9),
        "full": ProjectFactory(slug="full", active_questions=10),
        "open": ProjectFactory(slug="open", active_questions=10),
        "dup": ProjectFactory(slug="dup", active_questions=10),
    }[setup]
    if setup == "full":
        ApiKeyFactory.create_batch(10, project=project)
    if setup == "dup":
        ApiKeyFactory(project=project, name="taken")
    before = ApiKey.objects.count()
    with pytest.raises(CommandError) as err:
        _create(*([project.slug] if project else []), *args)
    assert message in str(err.value)
    assert ApiKey.objects.count() == before
    assert not KeyEvent.objects.exists()


# --- revoke_api_key -------------------------------------------------------------------------


@pytest.mark.django_db
def test_revoke_api_key(unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="leaked")
    out = StringIO()
    call_command("revoke_api_key", key.key_id, stdout=out)
    assert out.getvalue() == f"Revoked {key.key_id} “leaked” in {unlocked_project.slug}.\n"
    key.refresh_from_db()
    assert key.status == Status.REVOKED
    event = KeyEvent.objects.get()
    assert (event.kind, event.actor_label, event.key_id) == (EventKind.REVOKED, "cli", key.key_id)


@pytest.mark.django_db
def test_revoke_api_key_works_on_locked_projects_and_grace_periods(user):
    project = ProjectFactory(active_questions=0)
    key = ApiKeyFactory(project=project)
    key.stops_at = timezone.now() + timedelta(hours=1)  # rotated with a grace period
    key.save()
    assert key.in_grace_period
    call_command("revoke_api_key", key.key_id, stdout=StringIO())
    key.refresh_from_db()
    assert key.status == Status.REVOKED


@pytest.mark.django_db
def test_revoke_api_key_errors(unlocked_project):
    with pytest.raises(CommandError, match="No API key with the Key ID “key_nope”"):
        call_command("revoke_api_key", "key_nope", stdout=StringIO())
    key = ApiKeyFactory(project=unlocked_project)
    call_command("revoke_api_key", key.key_id, stdout=StringIO())
    with pytest.raises(CommandError, match="already revoked"):
        call_command("revoke_api_key", key.key_id, stdout=StringIO())
    assert KeyEvent.objects.count() == 1


# --- as real processes: exit status, stdout, stderr -----------------------------------------

SETUP_SCRIPT = textwrap.dedent("""
    from keys.models import ApiKey
    from projects.models import Project, Question
    from keys import keygen
    def project(slug, questions):
        p = Project.objects.create(name=slug, slug=slug)
        Question.objects.bulk_create(Question(project=p, text=f"Q{i}?") for i in range(questions))
        return p
    project("open", 10)
    project("locked", 9)
    full = project("full", 10)
    for i in range(10):
        ApiKey.objects.create(project=full, name=f"k{i}", key_hash=keygen.hash_key(keygen.generate_key()),
                              last4="abcd", permissions=["read"])
""")


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    """A migrated SQLite file with projects `open`, `locked` (9 questions) and `full` (10 keys)."""
    db = tmp_path_factory.mktemp("cli") / "cli.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env["DATABASE_URL"] = f"sqlite:///{db}"
    env["LOG_LEVEL"] = "WARNING"
    for args in (["migrate", "--noinput"], ["shell", "-c", SETUP_SCRIPT]):
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    return env


def _manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_create_api_key_success(cli_env):
    done = _manage(cli_env, "create_api_key", "open", "--name", "ci", "--permissions", "read,write")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert KEY_IN_TEXT.fullmatch(lines[0]) and keygen.is_well_formed(lines[0])
    assert lines[0] not in done.stderr
    assert "Created key_" in done.stderr

    check = _manage(
        cli_env,
        "shell",
        "-c",
        textwrap.dedent(f"""
        from keys.models import ApiKey
        from projects.models import KeyEvent
        from keys import keygen
        key = ApiKey.objects.get(key_hash=keygen.hash_key({lines[0]!r}))
        event = KeyEvent.objects.get(key_id=key.key_id)
        print(key.name, event.kind, event.actor_label)
    """),
    )
    assert check.stdout.strip().splitlines()[-1] == "ci created cli", check.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_api_key", "nope", "--name", "k", "--permissions", "read"], "No project with the slug “nope”."),
        (
            ["create_api_key", "locked", "--name", "k", "--permissions", "read"],
            "API keys unlock at 10 active questions",
        ),
        (["create_api_key", "full", "--name", "k", "--permissions", "read"], "already has 10 active keys"),
        (
            ["create_api_key", "open", "--name", "k", "--permissions", "read,superuser"],
            "Choose at least one permission",
        ),
        (["revoke_api_key", "key_nope"], "No API key with the Key ID “key_nope”."),
    ],
    ids=["unknown-project", "locked", "eleventh-key", "bad-permissions", "unknown-key"],
)
def test_cli_errors_exit_1_with_message_on_stderr(cli_env, args, message):
    done = _manage(cli_env, *args)
    assert done.returncode == 1
    assert done.stdout == ""
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_missing_arguments_is_a_usage_error(cli_env):
    done = _manage(cli_env, "create_api_key", "open", "--name", "k")
    assert done.returncode != 0
    assert "--permissions" in done.stderr
    assert done.stdout == ""


def test_cli_revoke(cli_env):
    created = _manage(cli_env, "create_api_key", "open", "--name", "to revoke", "--permissions", "read")
    key_id = created.stderr.split()[1]
    assert key_id.startswith("key_")
    done = _manage(cli_env, "revoke_api_key", key_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Revoked {key_id}")
    again = _manage(cli_env, "revoke_api_key", key_id)
    assert again.returncode == 1
    assert "already revoked" in again.stderr


# --- seed_demo ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG=1"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
    assert not Project.objects.exists()


def test_cli_seed_demo_refuses_with_debug_off(cli_env):
    done = _manage({**cli_env, "DEBUG": "0"}, "seed_demo")
    assert done.returncode == 1
    assert "DEBUG=1" in done.stderr
    assert "Password:" not in done.stdout


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_the_login_works(settings, client):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    lines = out.getvalue().splitlines()
    email = next(line for line in lines if line.startswith("Email: "))[len("Email: ") :]
    password = next(line for line in lines if line.startswith("Password: "))[len("Password: ") :]
    assert lines.index(f"Email: {email}") + 1 == lines.index(f"Password: {password}")

    # someone deactivates a question and changes the password; a second run repairs both, adds nothing
    demo = Project.objects.get(slug="demo")
    demo.questions.filter(pk=demo.questions.first().pk).update(is_active=False)
    user = User.objects.get(email=email)
    user.set_password("changed-it-123")
    user.save()
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    assert User.objects.count() == 1
    user = User.objects.get()
    assert user.is_superuser and user.is_staff and user.is_active
    assert Project.objects.count() == 1
    demo = Project.objects.get()
    assert demo.name == "Demo"
    assert demo.questions.count() == 12
    assert demo.questions.filter(is_active=True).count() == 12
    assert demo.memberships.get().user == user and demo.memberships.get().role == "owner"

    response = client.post(reverse("account_login"), {"login": email, "password": password})
    assert response.status_code == 302
    projects = page_text(client.get(reverse("projects:list")))
    assert "Demo" in projects
    tab = page_text(client.get(reverse("project_keys:api_keys", args=["demo"])))
    assert "Generate a key" in tab and "locked" not in tab.lower()
    # a fresh login goes straight to generating keys (no Confirm access right after logging in)
    assert client.get(reverse("project_keys:key_new", args=["demo"])).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200
