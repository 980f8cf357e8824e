"""The project tabs: the tab bar of every project page (templates/projects/_project_layout.html).

projects draws the bar; each app adds its own tabs to it. projects registers Questions, Members
and Event log (below); keys registers API Key, Usage and Settings from its `AppConfig.ready()`
(keys/apps.py). So the bar, a projects template, names no URL of a higher app
(tests/test_layers.py), as signals let a lower layer tell a higher one of a change.

A page marks its tab current with its `tab` context value (`"api_keys"`): the bar gives that
tab `aria-current="page"` and the page's title starts with its label.
"""

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class Tab:
    key: str  # the `tab` value of the pages that mark it current ("api_keys")
    label: str  # the link's text and the page title's first part ("API Key")
    url_name: str  # reversed with the project's slug ("project_keys:api_keys")
    order: int  # its place in the bar, left to right


@dataclass(frozen=True)
class TabLink:
    label: str
    url: str
    current: bool


_TABS: dict[str, Tab] = {}


def register(key: str, label: str, url_name: str, *, order: int) -> None:
    """Add a tab to every project's bar (registering a key again replaces its tab)."""
    _TABS[key] = Tab(key=key, label=label, url_name=url_name, order=order)


def tabs() -> list[Tab]:
    return sorted(_TABS.values(), key=lambda tab: tab.order)


def links(project, current: str) -> list[TabLink]:
    """The bar of `project`'s pages, left to right; the tab whose key is `current` is marked."""
    return [TabLink(tab.label, reverse(tab.url_name, args=[project.slug]), tab.key == current) for tab in tabs()]


def label(key: str) -> str:
    """The tab's label ("" for a page of no tab)."""
    tab = _TABS.get(key)
    return tab.label if tab else ""


def url(project, key: str) -> str | None:
    """The address of `project`'s tab `key` (None when no installed app registers it)."""
    tab = _TABS.get(key)
    return reverse(tab.url_name, args=[project.slug]) if tab else None


register("questions", "Questions", "projects:questions", order=10)
register("members", "Members", "projects:members", order=20)
register("events", "Event log", "projects:events", order=50)
