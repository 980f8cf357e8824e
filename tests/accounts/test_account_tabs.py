"""The Account tabs (accounts/tabs.py): accounts draws the bar and the Overview; the apps above
it add their pages to both (keys: Personal keys, Security log), so accounts names none of their
URLs. No database: the bar renders for a request built by hand."""

import re

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import resolve

from accounts import tabs


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test."""
    monkeypatch.setattr(tabs, "_TABS", dict(tabs._TABS))
    return tabs


def _bar(path: str) -> list[tuple[str, bool, str]]:
    request = RequestFactory().get(path)
    request.resolver_match = resolve(path)
    html = render_to_string("accounts/_tabs.html", {"request": request})
    return [
        (href, bool(current), label)
        for href, current, label in re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', html)
    ]


def test_keys_pages_lead_the_bar_and_are_marked_on_their_page():
    assert _bar("/account/security-log/") == [
        ("/account/api-keys/", False, "Personal keys"),  # keys/apps.py registers these two
        ("/account/security-log/", True, "Security log"),
        ("/accounts/", False, "Overview"),
        ("/accounts/email/", False, "Email"),
        ("/accounts/password/change/", False, "Password"),
        ("/accounts/2fa/", False, "Two-factor"),
    ]
    assert [label for _, current, label in _bar("/accounts/email/") if current] == ["Email"]


def test_a_tab_a_higher_app_registers_is_drawn_in_its_order_and_on_the_overview(registry):
    registry.register("Reports", "account", order=15, description="what you asked for")  # its own URL in real life
    bar = _bar("/accounts/")
    assert [label for *_, label in bar][:4] == ["Personal keys", "Reports", "Security log", "Overview"]
    assert [label for _, current, label in bar if current] == ["Reports", "Overview"]  # both serve /accounts/ here
    overview = [(link.label, link.url, link.description) for link in tabs.links()]
    assert overview[1] == ("Reports", "/accounts/", "what you asked for")
    html = render_to_string("accounts/account.html", {"user": None, "has_totp": False})
    assert '<li><a href="/accounts/">Reports</a> — what you asked for</li>' in html
    assert '<li><a href="/account/security-log/">Security log</a> — what happened to your API keys</li>' in html
