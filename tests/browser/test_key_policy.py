"""Key policy (#29) in a real browser: the owner sets a 30-day maximum on the Settings tab, the
Generate dialog then offers nothing longer, a 90-day key made before shows **Out of policy**, and
`create_api_key demo … --expires-days 90` (a real process on the same database) exits 1 naming
the policy while `--expires-days 30` works."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from keys.models import ApiKey
from keys.services import api_key_create
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner(transactional_db):
    return UserFactory(email="ana@example.com")


@pytest.fixture
def demo(owner):
    return ProjectFactory(owner=owner, name="Demo", slug="demo", active_questions=10)


def test_a_30_day_maximum_limits_generate_and_flags_an_older_90_day_key(page, live_server, owner, demo, screenshot_dir):
    api_key_create(project=demo, name="Ninety days", permissions=["read"], expiry_rule="90", actor=Actor.cli())
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/demo/keys/")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Key policy")).to_be_visible()
    page.get_by_label("Maximum key lifetime").select_option(label="30 days")
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator("#flash")).to_contain_text("Key policy saved. 1 existing key is now Out of policy")
    section = page.locator("#key-policy")
    expect(section).to_contain_text("Ninety days")
    expect(section.get_by_role("link", name="Revoke out-of-policy keys")).to_be_visible()
    expect(page.get_by_label("Maximum key lifetime")).to_have_value("30")
    page.screenshot(path=str(screenshot_dir / "key-policy-settings.png"), full_page=True)
    assert KeyEvent.objects.get(project=demo, kind=EventKind.POLICY_CHANGED).sentence == (
        "ana@example.com set the maximum key lifetime to 30 days"
    )

    page.get_by_role("link", name="API Key").click()
    row = page.locator("tbody.key-row", has_text="Ninety days")
    expect(row.get_by_text("Out of policy", exact=True)).to_be_visible()

    page.get_by_role("link", name="Generate a key").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("The key policy of Demo allows keys of at most 30 days.")
    options = dialog.get_by_label("Expiration", exact=True).locator("option").all_inner_texts()
    assert options == ["7 days", "30 days", "Custom date"], options
    dialog.get_by_label("Name").fill("Monthly")
    dialog.get_by_label("Expiration", exact=True).select_option(label="30 days")
    dialog.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("dialog")).to_contain_text("nbq_live_")
    assert ApiKey.objects.get(name="Monthly").expiry_rule == "30"

    # The CLI, as an operator runs it, on the same database.
    if connection.vendor != "postgresql":
        pytest.skip("the CLI half needs the test database reachable from another process (PostgreSQL)")
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DEBUG"}}
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env["LOG_LEVEL"] = "WARNING"

    def cli(days):
        return subprocess.run(
            [
                sys.executable,
                "manage.py",
                "create_api_key",
                "demo",
                "--name",
                f"x{days}",
                "--permissions",
                "read",
                "--expires-days",
                str(days),
            ],
            cwd=Path(settings.BASE_DIR),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = cli(90)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "The key policy of Demo allows keys of at most 30 days" in refused.stderr
    accepted = cli(30)
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith("nbq_live_")
