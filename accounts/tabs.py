"""The Account tabs that higher apps add (templates/accounts/_tabs.html, before the Account's own).

accounts draws the Account area's tab bar and its Overview page; an app above it adds its pages
to both from its `AppConfig.ready()` (keys/apps.py: Personal keys, Security log). So accounts'
templates name no URL of a higher app (tests/test_layers.py). A tab is current on the page its
URL name serves.
"""

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class Tab:
    label: str  # the tab's text, and the link's on the Overview ("Personal keys")
    url_name: str  # its page, reversed without arguments; the view name that marks it current
    order: int  # its place among the added tabs, left to right (the Account's own follow them)
    description: str  # the Overview's line after the link ("your own keys, for all or chosen projects")


@dataclass(frozen=True)
class TabLink:
    label: str
    url: str
    description: str
    current: bool


_TABS: dict[str, Tab] = {}


def register(label: str, url_name: str, *, order: int, description: str) -> None:
    """Add a tab to the Account area (registering a URL name again replaces its tab)."""
    _TABS[url_name] = Tab(label=label, url_name=url_name, order=order, description=description)


def links(view_name: str = "") -> list[TabLink]:
    """The added tabs, left to right; the one serving `view_name` (the current page's) is marked."""
    return [
        TabLink(tab.label, reverse(tab.url_name), tab.description, tab.url_name == view_name)
        for tab in sorted(_TABS.values(), key=lambda tab: tab.order)
    ]
