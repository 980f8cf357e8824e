"""Playwright against Django's live server, driving Debian's Chromium (browser downloads fail here)."""

import os
from pathlib import Path

import pytest
from django.db import connections

from tests.conftest import CHROMIUM

# Playwright's sync API runs an event loop in this thread; the ORM calls in the tests are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def playwright(django_db_setup, playwright):
    """pytest-playwright's Playwright, stopped after the database connections made while it ran.

    While Playwright's sync API is alive it marks this thread's event loop as running, and Django's
    connections (asgiref's `Local`) then live in a second, per-context store. A connection a test
    leaves open there (a `db` test does) is out of reach once Playwright stops, and PostgreSQL
    refuses to drop the test database ("being accessed by other users"): close them while they can
    be seen. Asking for `django_db_setup` first makes the test database outlive Playwright."""
    yield playwright
    connections.close_all()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "viewport": {"width": 1280, "height": 900},
        "permissions": ["clipboard-read", "clipboard-write"],
    }


@pytest.fixture
def screenshot_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def log_in(page, base_url, email, password):
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects/")


def row_action(row, name: str):
    """A key row's action (Edit, Rotate, Revoke, Delete): it sits in the row's More actions menu,
    opened here first if it is closed. Returns the action's link."""
    menu = row.locator("details.more-actions")
    if menu.count() and menu.get_attribute("open") is None:
        menu.locator("summary").click()
    return row.get_by_role("link", name=name, exact=True)
