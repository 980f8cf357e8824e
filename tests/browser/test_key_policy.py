"""Key policy (#29) in a real browser: the owner sets a 30-day maximum on the Settings tab, the
Generate dialog then offers nothing longer, a 90-day key made before shows **Out of policy**, and
`create_api_key demo … --expires-days 90` (a real process on the same database) exits 1 naming
the policy while `--expires-days 30` works."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from keys.models import ApiKey
from keys.policy import save_policy
from keys.services import api_key_create
from projects.actors import Actor
from projects.models import KeyEvent, Role
from projects.models.event import EventKind
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory

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


def api_status(base_url: str, plaintext: str, path: str) -> tuple[int, str]:
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {plaintext}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}").get("error", {}).get("code", "")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_an_admin_approves_then_denies_a_personal_key_by_clicking(browser, live_server, owner, scheme):
    """With approval on, a member's "All my projects" key gets 403 key_not_approved, 200 right after
    an admin clicks Approve, and 403 again after Deny. axe-core finds nothing on the pages."""
    team = ProjectFactory(owner=owner, name="Team", slug="team", active_questions=10)
    admin, member = UserFactory(email="adi@example.com"), UserFactory(email="mo@example.com")
    MembershipFactory(project=team, user=admin, role=Role.ADMIN)
    MembershipFactory(project=team, user=member, role=Role.VIEWER)
    save_policy(project=team, actor=Actor.cli(), user=owner, approval_required=True, allowed_permissions=["read"])
    key, plaintext = api_key_create(
        owner=member, all_projects=True, name="Mo's script", permissions=["read"], actor=Actor.cli()
    )
    path = "/api/v1/projects/team/questions"
    assert api_status(live_server.url, plaintext, path) == (403, "key_not_approved")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    axe, reports = Axe(), []

    def check(what):
        results = axe.run(page)
        if results.violations_count:
            reports.append(f"--- {what} ({scheme})\n" + results.generate_report())

    try:
        log_in(page, live_server.url, admin.email, PASSWORD)
        page.goto(f"{live_server.url}/projects/team/keys/")
        approvals = page.locator("#approvals")
        expect(approvals.get_by_role("heading", name="Pending approval")).to_be_visible()
        expect(approvals).to_contain_text(key.key_id)
        expect(approvals).to_contain_text("mo@example.com")
        check("API Key tab with Pending approval")
        approvals.get_by_role("button", name=f"Approve Mo's script ({key.key_id})").click()
        expect(page.locator("#flash")).to_contain_text("was approved for Team")
        assert api_status(live_server.url, plaintext, path)[0] == 200

        page.locator("#approvals summary").click()
        page.get_by_role("button", name=f"Deny Mo's script ({key.key_id})").click()
        expect(page.locator("#flash")).to_contain_text("was denied for Team")
        assert api_status(live_server.url, plaintext, path) == (403, "key_not_approved")

        page.get_by_role("navigation", name="Project").get_by_role("link", name="Settings").click()
        expect(page.get_by_text("Only the project's owner can change them.")).to_be_visible()
        expect(page.get_by_role("button", name="Save policy")).to_have_count(0)
        check("Settings tab, read by an admin")
    finally:
        context.close()
    assert not reports, "\n".join(reports)


def test_a_member_without_two_factor_is_sent_to_set_it_up(page, live_server, owner):
    team = ProjectFactory(owner=owner, name="Team", slug="team", active_questions=10)
    member = UserFactory(email="mo@example.com")
    MembershipFactory(project=team, user=member, role=Role.ADMIN)
    _, plaintext = api_key_create(owner=member, all_projects=True, name="mine", permissions=["read"], actor=Actor.cli())
    Authenticator.objects.create(user=owner, type=Authenticator.Type.TOTP, data={"secret": "x"})
    save_policy(project=team, actor=Actor.cli(), user=owner, two_factor_required=True)

    log_in(page, live_server.url, member.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/team/questions/")
    page.wait_for_url("**/accounts/2fa/")
    expect(page.locator("#flash")).to_contain_text("Team requires two-factor authentication")
    assert api_status(live_server.url, plaintext, "/api/v1/projects/team/questions") == (403, "two_factor_required")
