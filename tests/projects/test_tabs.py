"""The project tabs (projects/tabs.py): projects draws the bar, each app registers its own tabs,
so the bar names no URL of a higher app. And the page a new Sandbox opens on, which keys chooses
(projects/sandbox.py). No database: the layout renders unsaved objects."""

import re

import pytest
from django.template.loader import render_to_string

from projects import sandbox, tabs
from projects.gate import QuestionGate
from projects.models import Membership, Project, Role
from projects.views.questions import _gate_message

PROJECT = Project(name="Acme", slug="acme")


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test."""
    monkeypatch.setattr(tabs, "_TABS", dict(tabs._TABS))
    return tabs


def _layout(tab: str) -> str:
    membership = Membership(project=PROJECT, role=Role.OWNER)
    return render_to_string("projects/_project_layout.html", {"project": PROJECT, "membership": membership, "tab": tab})


def _bar(html: str) -> list[tuple[str, bool, str]]:
    nav = html.split('<nav class="tabs" aria-label="Project">', 1)[1].split("</nav>", 1)[0]
    return [
        (href, bool(current), label)
        for href, current, label in re.findall(r'<a href="([^"]+)" ?(aria-current="page")?>([^<]+)</a>', nav)
    ]


def test_the_bar_holds_the_tabs_of_projects_and_of_keys_in_their_order():
    assert [(tab.key, tab.label) for tab in tabs.tabs()] == [
        ("questions", "Questions"),
        ("members", "Members"),
        ("api_keys", "API Key"),  # keys/apps.py registers these three
        ("usage", "Usage"),
        ("events", "Event log"),
        ("settings", "Settings"),
    ]
    html = _layout("api_keys")
    assert _bar(html)[2] == ("/projects/acme/keys/", True, "API Key")
    assert '<a href="/projects/acme/keys/" aria-current="page">API Key</a>' in html
    assert '<a href="/projects/acme/usage/" >Usage</a>' in html  # the markup the pages always had
    assert "<title>API Key · Acme · NBQ Keys Console</title>" in html


def test_a_tab_a_higher_app_registers_is_drawn_in_its_place_and_marked_current(registry):
    registry.register("reports", "Reports", "projects:members", order=45)  # a higher app names its own URL
    html = _layout("reports")
    bar = _bar(html)
    assert [label for *_, label in bar] == [
        "Questions",
        "Members",
        "API Key",
        "Usage",
        "Reports",
        "Event log",
        "Settings",
    ]
    assert [(href, label) for href, current, label in bar if current] == [("/projects/acme/members/", "Reports")]
    assert "<title>Reports · Acme · NBQ Keys Console</title>" in html
    assert tabs.url(PROJECT, "reports") == "/projects/acme/members/"


def test_without_an_api_key_tab_the_questions_tab_links_to_none(registry):
    before, after = QuestionGate(active=9, required=10), QuestionGate(active=10, required=10)
    assert 'href="/projects/acme/keys/">Generate a key on the API Key tab</a>.' in _gate_message(PROJECT, before, after)
    del registry._TABS["api_keys"]  # as if keys were not installed
    assert tabs.url(PROJECT, "api_keys") is None
    assert _gate_message(PROJECT, before, after) == " API keys are unlocked: 10 active questions (10 needed)."
    assert "API Key" not in [label for *_, label in _bar(_layout("questions"))]
    panel = render_to_string("projects/questions.html#questions-panel", {"project": PROJECT, "gate": after})
    assert "API keys are unlocked.</p>" in panel and "<a" not in panel


def test_the_questions_tab_links_to_the_api_key_tab_once_unlocked():
    gate = QuestionGate(active=10, required=10)
    panel = render_to_string("projects/questions.html#questions-panel", {"project": PROJECT, "gate": gate})
    assert 'API keys are unlocked. <a href="/projects/acme/keys/">Go to the API Key tab</a>.</p>' in panel


def test_a_new_sandbox_opens_where_the_higher_app_says(monkeypatch):
    assert sandbox.sandbox_landing_url(PROJECT) == "/projects/acme/keys/new/"  # keys/apps.py: the Generate dialog
    monkeypatch.setattr(sandbox, "_landing_url_name", "projects:questions")  # the default, without keys
    assert sandbox.sandbox_landing_url(PROJECT) == "/projects/acme/questions/"
    sandbox.open_new_sandboxes_on("projects:members")
    assert sandbox.sandbox_landing_url(PROJECT) == "/projects/acme/members/"
