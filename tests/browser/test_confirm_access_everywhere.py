"""Issue #27, in a real browser: in a session older than 15 minutes, inviting an admin, changing a
password in the Django admin and editing a key's IP addresses each ask to **Confirm access** first,
then go on after the password (each route declares whether it asks where it is declared: the rules
are in accounts/sensitive.py)."""

import re

import pytest
from playwright.sync_api import expect

from keys.models import ApiKey
from keys.services import api_key_create
from projects.actors import Actor
from projects.models import Invitation, Role
from tests.browser.conftest import log_in, row_action
from tests.browser.test_trust import make_login_stale
from tests.factories import PASSWORD, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner(transactional_db):
    return UserFactory(email="owner@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def project(owner):
    return ProjectFactory(owner=owner, name="Trivia", slug="trivia", active_questions=10)


def confirm(scope, password=PASSWORD):
    expect(scope.get_by_role("heading", name="Confirm access")).to_be_visible()
    scope.get_by_label("Password").fill(password)
    scope.get_by_role("button", name="Confirm").click()


def test_inviting_an_admin_in_a_stale_session_asks_first(page, live_server, owner, project, screenshot_dir):
    log_in(page, live_server.url, owner.email, PASSWORD)
    make_login_stale(page.context, minutes=30)
    page.goto(f"{live_server.url}/projects/trivia/members/")
    page.get_by_label("Email").fill("new-admin@example.net")
    page.get_by_label("Role").select_option("admin")
    page.get_by_role("button", name="Send invitation").click()

    page.wait_for_url("**/accounts/reauthenticate/**")
    expect(page).to_have_title(re.compile("Confirm access"))
    assert not Invitation.objects.exists()
    page.screenshot(path=screenshot_dir / "sweep-1-invite-admin-confirm-access.png")
    confirm(page)

    expect(page.get_by_text("Invitation sent to new-admin@example.net.")).to_be_visible()
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role) == ("new-admin@example.net", Role.ADMIN)


def test_changing_a_password_in_the_admin_in_a_stale_session_asks_first(page, live_server, owner, screenshot_dir):
    colleague = UserFactory(email="colleague@example.com")
    new = "a-long-unusual-passphrase-42"
    log_in(page, live_server.url, owner.email, PASSWORD)
    make_login_stale(page.context, minutes=30)
    page.goto(f"{live_server.url}/admin/accounts/user/{colleague.pk}/password/")
    page.locator("#id_password1").fill(new)
    page.locator("#id_password2").fill(new)
    page.get_by_role("button", name="Change password").click()

    page.wait_for_url("**/accounts/reauthenticate/**")
    expect(page.get_by_role("heading", name="Confirm access")).to_be_visible()
    colleague.refresh_from_db()
    assert colleague.check_password(PASSWORD)
    page.screenshot(path=screenshot_dir / "sweep-2-admin-password-confirm-access.png")
    confirm(page)

    # The suspended POST went on: the admin's own success message, the password changed.
    expect(page.get_by_text("Password changed successfully.")).to_be_visible()
    colleague.refresh_from_db()
    assert colleague.check_password(new)


def test_editing_a_keys_ip_addresses_in_a_stale_session_asks_first(page, live_server, owner, project, screenshot_dir):
    key, _ = api_key_create(project=project, name="web", permissions=["read"], actor=Actor.cli())
    log_in(page, live_server.url, owner.email, PASSWORD)
    make_login_stale(page.context, minutes=30)
    page.goto(f"{live_server.url}/projects/trivia/keys/")
    page.evaluate("window.__noReload = 'still here'")

    row_action(page.locator(f"#key-{key.key_id}"), "Edit").click()
    dialog = page.get_by_role("dialog")
    page.screenshot(path=screenshot_dir / "sweep-3-edit-key-confirm-access.png")
    confirm(dialog)

    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Allowed IP addresses")).to_be_visible()
    dialog.get_by_label("Allowed IP addresses").fill("10.0.0.0/8")
    dialog.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("#flash")).to_contain_text("was saved")
    assert page.evaluate("window.__noReload") == "still here"
    assert [str(network) for network in ApiKey.objects.get(pk=key.pk).allowed_ips] == ["10.0.0.0/8"]
