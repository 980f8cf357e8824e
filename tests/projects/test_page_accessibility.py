"""Finding 10 (beyond axe): every id an ARIA attribute or a label points at exists on the page;
each tab and page has its own <title>; a skip link; messages sit in one polite live region."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.factories import ApiKeyFactory
from tests.helpers import HX
from tests.urls import project_url

pytestmark = pytest.mark.django_db

REFERENCING = ("aria-describedby", "aria-labelledby", "aria-controls", "for")


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.references, self.titles = set(), [], []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in REFERENCING:
            if attrs.get(name):
                self.references += [(tag, name, ref) for ref in attrs[name].split()]
        self._in_title = tag == "title"

    def handle_data(self, data):
        if self._in_title:
            self.titles.append(data.strip())

    def handle_endtag(self, tag):
        self._in_title = False


def dangling_references(body: str) -> list:
    parser = _Ids()
    parser.feed(body)
    return [ref for ref in parser.references if ref[2] not in parser.ids]


def title_of(body: str) -> str:
    parser = _Ids()
    parser.feed(body)
    return parser.titles[0]


def _pages(project, key):
    slug = project.slug
    return [
        ("get", reverse("projects:list"), None),
        ("post", reverse("projects:list"), {"name": ""}),
        ("get", reverse("projects:questions", args=[slug]), None),
        ("post", reverse("projects:questions", args=[slug]), {"text": "", "priority": "x"}),
        ("get", reverse("projects:members", args=[slug]), None),
        ("post", reverse("projects:members", args=[slug]), {"email": "nope", "role": "viewer"}),
        ("get", reverse("project_keys:api_keys", args=[slug]), None),
        ("get", reverse("projects:events", args=[slug]), None),
        ("get", reverse("project_keys:key_new", args=[slug]), None),
        ("post", reverse("project_keys:key_new", args=[slug]), {"name": "", "expiration": "date", "expires_on": "x"}),
        ("get", reverse("project_keys:key_edit", args=[slug, key.key_id]), None),
        ("post", reverse("project_keys:key_edit", args=[slug, key.key_id]), {"name": "", "rate_limit_per_minute": "x"}),
        ("get", reverse("project_keys:key_rotate", args=[slug, key.key_id]), None),
        ("get", reverse("project_keys:key_revoke", args=[slug, key.key_id]), None),
        ("get", reverse("project_keys:key_detail", args=[slug, key.key_id]), None),
        ("get", reverse("account_change_password"), None),
        ("post", reverse("account_change_password"), {"oldpassword": "", "password1": "a"}),
    ]


def test_aria_describedby_never_points_at_a_missing_id(owner_client, unlocked_project):
    """Was: aria-describedby="id_name_helptext" / "id_name_error" / "id_priority_helptext" with no such ids."""
    key = ApiKeyFactory(project=unlocked_project)
    for method, url, data in _pages(unlocked_project, key):
        for extra in ({}, HX):
            response = getattr(owner_client, method)(url, data or {}, **extra)
            assert response.status_code in (200, 422), (url, response.status_code)
            assert dangling_references(response.content.decode()) == [], (method, url, extra)


@pytest.mark.parametrize(
    ("url_name", "expected"),
    [
        ("questions", "Questions · {name} · NBQ Keys Console"),
        ("members", "Members · {name} · NBQ Keys Console"),
        ("api_keys", "API Key · {name} · NBQ Keys Console"),
        ("events", "Event log · {name} · NBQ Keys Console"),
    ],
)
def test_every_tab_has_its_own_title(owner_client, unlocked_project, url_name, expected):
    body = owner_client.get(project_url(url_name, args=[unlocked_project.slug])).content.decode()
    assert title_of(body) == expected.format(name=unlocked_project.name)


def test_skip_link_and_polite_live_region(owner_client, unlocked_project):
    body = owner_client.get(reverse("project_keys:api_keys", args=[unlocked_project.slug])).content.decode()
    assert body.index('<a class="skip-link" href="#content">Skip to content</a>') < body.index("<header")
    assert '<main id="content" tabindex="-1">' in body
    assert '<div id="flash" role="status" aria-live="polite" tabindex="-1">' in body
