"""The key list at 50 keys (issue #32): **Search keys** (name, Key ID, last 4 characters), filters
(status, kind, created by, expires within) and sortable columns, all in the URL; without JavaScript
(a GET form, full page) and with htmx (the results only); **Created by** in every row."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from keys.models import ApiKey
from keys.services import api_key_disable, api_key_revoke
from keys.views.key_list import KeyListQuery
from projects.actors import Actor
from tests.factories import ApiKeyFactory, MembershipFactory, UserFactory
from tests.helpers import HX, page_text

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tbody id="key-(key_[A-Za-z0-9]+)"')


def _url(project, **params):
    base = reverse("project_keys:api_keys", args=[project.slug])
    return base + ("?" + urlencode(params) if params else "")


def _listed(response) -> list[str]:
    return ROW.findall(response.content.decode())


@pytest.fixture
def fifty(unlocked_project, user):
    """50 keys: most revoked (a project has at most 10 active), made by two people, used at different times."""
    other = UserFactory(email="zoe@example.com")
    MembershipFactory(project=unlocked_project, user=other, role="admin")
    now = timezone.now()
    keys = []
    for i in range(50):
        key = ApiKeyFactory(
            project=unlocked_project,
            name=f"Service {i:02d}",
            created_by=user if i % 2 == 0 else other,
            created_at=now - timedelta(days=50 - i),
            last_used_at=now - timedelta(hours=i * 3 + 1) if i % 5 else None,
            expires_at=now + timedelta(days=(i % 10) * 5 + 1),
        )
        keys.append(key)
    for key in keys[:40]:
        api_key_revoke(key=key, actor=Actor.cli())
    return keys


def test_search_by_the_last_four_characters_finds_one_key(owner_client, unlocked_project, fifty):
    target = fifty[17]
    clashing = [k for k in fifty if k.last4.lower() == target.last4.lower() or target.last4.lower() in k.key_id.lower()]
    assert clashing == [target], "random material clashed; rerun"
    response = owner_client.get(_url(unlocked_project, q=target.last4))
    assert response.status_code == 200
    assert _listed(response) == [target.key_id]
    assert "1 of 50 keys match." in page_text(response)
    # The search box keeps what was asked, and is labelled for what it searches.
    body = response.content.decode()
    assert '<label for="key-q">Search keys</label>' in body
    assert f'value="{target.last4}"' in body


def test_search_by_name_and_key_id(owner_client, unlocked_project, fifty):
    assert _listed(owner_client.get(_url(unlocked_project, q="service 07"))) == [fifty[7].key_id]
    assert _listed(owner_client.get(_url(unlocked_project, q=fifty[3].key_id.upper()))) == [fifty[3].key_id]
    assert _listed(owner_client.get(_url(unlocked_project, q="nothing like it"))) == []
    assert "No key matches" in page_text(owner_client.get(_url(unlocked_project, q="nothing like it")))


def test_sort_by_last_used_puts_the_most_recent_first(owner_client, unlocked_project, fifty):
    response = owner_client.get(_url(unlocked_project, sort="-last_used"))
    listed = _listed(response)
    assert len(listed) == 50
    by_id = {k.key_id: k for k in fifty}
    used = [by_id[k].last_used_at for k in listed if by_id[k].last_used_at]
    assert used == sorted(used, reverse=True)
    most_recent = max((k for k in fifty if k.last_used_at), key=lambda k: k.last_used_at)
    assert listed[0] == most_recent.key_id
    never = [k for k in listed if by_id[k].last_used_at is None]
    assert listed[-len(never) :] == never  # never used: last
    body = response.content.decode()
    assert 'aria-sort="descending"><a href="?sort=last_used">Last used</a>' in body


def test_sort_by_name_created_and_expires(owner_client, unlocked_project, fifty):
    names = [k.name for k in fifty]
    by_id = {k.key_id: k for k in fifty}
    listed = [by_id[k].name for k in _listed(owner_client.get(_url(unlocked_project, sort="-name")))]
    assert listed == sorted(names, reverse=True)
    listed = _listed(owner_client.get(_url(unlocked_project, sort="created")))
    assert listed[0] == fifty[0].key_id and listed[-1] == fifty[-1].key_id
    listed = _listed(owner_client.get(_url(unlocked_project, sort="expires")))
    expiries = [by_id[k].expires_at for k in listed]
    assert expiries == sorted(expiries)


def test_filters_status_created_by_and_expires_within(owner_client, unlocked_project, fifty, user):
    api_key_disable(key=fifty[45], actor=Actor.cli())
    active = _listed(owner_client.get(_url(unlocked_project, status="active")))
    assert sorted(active) == sorted(k.key_id for k in fifty[40:] if k != fifty[45])
    assert _listed(owner_client.get(_url(unlocked_project, status="disabled"))) == [fifty[45].key_id]
    assert len(_listed(owner_client.get(_url(unlocked_project, status="revoked")))) == 40
    mine = _listed(owner_client.get(_url(unlocked_project, created_by=user.pk)))
    assert sorted(mine) == sorted(k.key_id for k in fifty if k.created_by_id == user.pk)
    soon = _listed(owner_client.get(_url(unlocked_project, expires="7")))
    # Keys that work and stop within 7 days (1 and 6 days left); revoked ones never expire.
    assert sorted(soon) == sorted(k.key_id for k in fifty[40:42])
    combined = _listed(owner_client.get(_url(unlocked_project, status="active", created_by=user.pk, sort="name")))
    expected = sorted((k for k in fifty[40:] if k.created_by_id == user.pk and k != fifty[45]), key=lambda k: k.name)
    assert combined == [k.key_id for k in expected]


def test_the_filtered_sorted_url_reloads_to_the_same_view_without_javascript(owner_client, unlocked_project, fifty):
    params = {"q": "Service 4", "status": "active", "sort": "-last_used"}
    first = owner_client.get(_url(unlocked_project, **params))
    again = owner_client.get(_url(unlocked_project, **params))
    assert "<html" in first.content.decode()
    assert _listed(first) == _listed(again) and _listed(first)
    body = first.content.decode()
    # The form is a GET form holding every choice, so submitting it (or reloading) keeps the view.
    assert re.search(r'<form class="key-search" id="key-search" method="get"', body)
    assert '<option value="active" selected>' in body
    assert '<option value="-last_used" selected>' in body
    # Column links keep the filters.
    assert 'href="?q=Service+4&amp;status=active&amp;sort=name"' in body


def test_htmx_search_swaps_only_the_results(owner_client, unlocked_project, fifty):
    response = owner_client.get(_url(unlocked_project, q=fifty[44].name), HTTP_HX_TARGET="key-results", **HX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="key-results">')
    assert "<html" not in body and 'id="key-search"' not in body
    assert _listed(response) == [fifty[44].key_id]


def test_a_change_with_htmx_keeps_the_search_of_the_page(owner_client, unlocked_project, fifty):
    """Revoking from a filtered list sends back the list as the page showed it (HX-Current-URL)."""
    page = "http://testserver" + _url(unlocked_project, q="Service 4")
    done = owner_client.post(
        reverse("project_keys:key_revoke", args=[unlocked_project.slug, fifty[41].key_id]),
        HTTP_HX_CURRENT_URL=page,
        **HX,
    )
    listed = _listed(done)
    assert fifty[41].key_id in listed and fifty[2].key_id not in listed
    assert len(listed) == 10  # Service 4, 40-49


def test_created_by_is_in_every_row(owner_client, unlocked_project, fifty, user):
    cli_key = ApiKeyFactory(project=unlocked_project, name="From the CLI", created_by=None)
    # 51 keys: two pages of the list (50 a page)
    body = "".join(owner_client.get(_url(unlocked_project, page=n)).content.decode() for n in (1, 2))
    assert body.count(f'<small class="created-by">by {user.email}</small>') == 25
    assert body.count('<small class="created-by">by zoe@example.com</small>') == 25
    assert '<small class="created-by">by the CLI or a removed account</small>' in body
    assert body.count('<small class="created-inline muted">Created') == 51  # the same, between phone and desktop
    options = owner_client.get(_url(unlocked_project)).content.decode()
    assert f'<option value="{user.pk}">{user.email}</option>' in options
    assert cli_key.key_id in options


def test_bad_parameters_fall_back_to_the_default_view(owner_client, unlocked_project, fifty):
    response = owner_client.get(_url(unlocked_project, sort="password", status="bogus", created_by="x'", expires="9"))
    assert response.status_code == 200
    assert len(_listed(response)) == 50
    assert KeyListQuery.from_params(response.wsgi_request.GET) == KeyListQuery()


def test_the_list_is_read_in_one_query_whatever_the_filter(owner_client, unlocked_project, fifty):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner_client.get(_url(unlocked_project))
    with CaptureQueriesContext(connection) as plain:
        owner_client.get(_url(unlocked_project))
    with CaptureQueriesContext(connection) as filtered:
        owner_client.get(_url(unlocked_project, q="Service", status="active", sort="name"))
    assert len(filtered) <= len(plain)
    assert ApiKey.objects.filter(project=unlocked_project).count() == 50


def test_past_fifty_keys_the_list_is_paged_and_each_page_keeps_the_view(owner_client, unlocked_project, fifty, user):
    """A project whose automation rotates daily gathers hundreds of dead keys: the list renders 50
    rows a page; the pages keep the search, filters and sort (without JavaScript and with htmx), a
    new sort or search starts at page 1, and a page past the end shows the last one."""
    now = timezone.now()
    extra = [
        ApiKeyFactory(
            project=unlocked_project, name=f"Nightly {i:03d}", created_by=user, created_at=now - timedelta(days=90)
        )
        for i in range(70)
    ]
    for key in extra:
        api_key_revoke(key=key, actor=Actor.cli())
    first = owner_client.get(_url(unlocked_project))
    assert len(_listed(first)) == 50
    text = page_text(first)
    assert "Page 1 of 3 · keys 1–50 of 120" in text and "← Previous" not in text
    listed = set(_listed(first))
    for number in (2, 3):
        page = owner_client.get(_url(unlocked_project, page=number))
        rows = _listed(page)
        assert len(rows) == (50 if number == 2 else 20) and not listed & set(rows)
        listed |= set(rows)
    assert listed == {k.key_id for k in ApiKey.objects.filter(project=unlocked_project)}  # every key, once

    # filtered and sorted: 70 "Nightly" keys by name, the second page keeps both in its links
    second = owner_client.get(_url(unlocked_project, q="Nightly", sort="name", page=2))
    names = re.findall(r"Nightly \d{3}", page_text(second))
    assert names[0] == "Nightly 050" and "70 of 120 keys match." in page_text(second)
    html = second.content.decode()
    assert 'href="?q=Nightly&amp;sort=name"' in html  # ← Previous: page 1 is the plain view
    assert 'href="?q=Nightly&amp;page=1&amp;sort=-name"' not in html  # a new sort starts over...
    assert 'href="?q=Nightly&amp;sort=-name"' in html  # ...at page 1
    # htmx: the same page, only the results
    fragment = owner_client.get(
        _url(unlocked_project, q="Nightly", sort="name", page=2), **HX, HTTP_HX_TARGET="key-results"
    )
    assert fragment.content.decode().lstrip().startswith('<div id="key-results">')
    assert re.findall(r"Nightly \d{3}", page_text(fragment))[0] == "Nightly 050"
    # out of range, or not a number
    assert "Page 3 of 3" in page_text(owner_client.get(_url(unlocked_project, page=99)))
    assert "Page 1 of 3" in page_text(owner_client.get(_url(unlocked_project, page="-2")))
