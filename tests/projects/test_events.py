"""The Event log tab: newest first, filter by key and kind, pagination, constant query count.

(The audit-log findings of issue 12 item 8 — words, member / invitation / question events, actor
and date filters, CSV export — are in test_audit_log.py.)"""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from keys.services import api_key_create, api_key_delete, api_key_revoke, api_key_rotate
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, ProjectFactory
from tests.helpers import HX, page_text

pytestmark = pytest.mark.django_db

PAGE_SIZE = 25  # settings.EVENT_LOG_PAGE_SIZE


def _url(project):
    return reverse("projects:events", args=[project.slug])


def _rows(response):
    """(kind label, key id) of each row of the event table, in order (the key id from the sentence)."""
    body = response.content.decode()
    rows = re.findall(
        r'<span class="kind kind-[a-z_]+">([^<]+)</span></td>\s*<td[^>]*><span class="sentence">([^<]*)</span>', body
    )
    return [(kind, (re.search(r"\((key_[a-z0-9]+)\)", html.unescape(s)) or [None, ""])[1]) for kind, s in rows]


@pytest.fixture
def history(unlocked_project, user):
    """Two keys through their whole life, made through the services (as the console does)."""
    actor = Actor(user=user, label=user.email, ip="198.51.100.4", user_agent="Firefox")
    a, _ = api_key_create(project=unlocked_project, name="alpha", permissions=["read"], actor=actor)
    b, _ = api_key_create(project=unlocked_project, name="beta", permissions=["read"], actor=actor)
    a2, _ = api_key_rotate(key=a, actor=actor)
    api_key_revoke(key=b, actor=Actor.cli())
    api_key_delete(key=b, actor=actor)
    # another project's events never show here
    other = ProjectFactory(active_questions=10)
    api_key_create(project=other, name="elsewhere", permissions=["read"], actor=Actor.cli())
    return {"a": a, "b": b, "a2": a2}


def test_event_log_lists_newest_first_with_actor_and_ip(owner_client, unlocked_project, history, user):
    response = owner_client.get(_url(unlocked_project))
    assert response.status_code == 200
    a, b, a2 = history["a"], history["b"], history["a2"]
    assert _rows(response) == [
        ("Key deleted", b.key_id),
        ("Key revoked", b.key_id),
        ("Key created", a2.key_id),
        ("Key rotated", a.key_id),
        ("Key created", b.key_id),
        ("Key created", a.key_id),
    ]
    text = page_text(response)
    assert "elsewhere" not in text
    assert user.email in text and "198.51.100.4" in text and "cli" in text
    assert f"replaced by {a2.key_id}" in text
    assert "6 events" in text and "Page 1 of 1" in text


def test_filter_by_key_includes_deleted_keys(owner_client, unlocked_project, history):
    b = history["b"]
    response = owner_client.get(_url(unlocked_project), {"key": b.key_id})
    assert [kind for kind, _ in _rows(response)] == ["Key deleted", "Key revoked", "Key created"]
    assert {key_id for _, key_id in _rows(response)} == {b.key_id}
    assert "beta" in page_text(response)


def test_filter_by_kind(owner_client, unlocked_project, history):
    response = owner_client.get(_url(unlocked_project), {"kind": "created"})
    assert [kind for kind, _ in _rows(response)] == ["Key created"] * 3
    assert re.search(r'<option value="created" selected>Key created</option>', response.content.decode())
    assert "3 events match these filters" in page_text(response)


def test_filter_by_key_and_kind(owner_client, unlocked_project, history):
    a = history["a"]
    response = owner_client.get(_url(unlocked_project), {"key": a.key_id, "kind": "rotated"})
    assert _rows(response) == [("Key rotated", a.key_id)]


def test_unknown_kind_is_ignored(owner_client, unlocked_project, history):
    response = owner_client.get(_url(unlocked_project), {"kind": "'; drop table"})
    assert response.status_code == 200
    assert len(_rows(response)) == 6


def test_filter_with_no_match(owner_client, unlocked_project, history):
    response = owner_client.get(_url(unlocked_project), {"key": "key_nothinghere"})
    assert "No events match these filters." in page_text(response)


def test_key_filter_offers_the_projects_keys(owner_client, unlocked_project, history):
    body = owner_client.get(_url(unlocked_project)).content.decode()
    a, a2, b = history["a"], history["a2"], history["b"]
    assert f'<option value="{a.key_id}">alpha ({a.key_id})</option>' in body
    assert f'<option value="{a2.key_id}">alpha ({a2.key_id})</option>' in body
    assert f'<option value="{b.key_id}">beta ({b.key_id})</option>' in body  # deleted, still offered
    assert "elsewhere" not in body


def test_event_log_fragment_with_htmx(owner_client, unlocked_project, history):
    response = owner_client.get(_url(unlocked_project), {"kind": "revoked"}, **HX)
    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="event-table">')
    assert _rows(response) == [("Key revoked", history["b"].key_id)]
    assert "<form" not in body
    assert "Export CSV" in body


def test_viewer_sees_the_event_log(viewer_client, unlocked_project, history):
    response = viewer_client.get(_url(unlocked_project))
    assert response.status_code == 200
    assert len(_rows(response)) == 6


def _bulk_events(project, keys, n):
    now = timezone.now()
    kinds = [EventKind.CREATED, EventKind.ROTATED, EventKind.REVOKED, EventKind.RATE_LIMITED]
    KeyEvent.objects.bulk_create(
        KeyEvent(
            project=project,
            key_id=keys[i % len(keys)].key_id,
            key_name=keys[i % len(keys)].name,
            kind=kinds[i % len(kinds)],
            actor_label="api",
            ip="192.0.2.1",
            details={"n": i},
            created_at=now - timedelta(seconds=n - i),
        )
        for i in range(n)
    )


def test_pagination_keeps_filters(owner_client, unlocked_project):
    keys = ApiKeyFactory.create_batch(2, project=unlocked_project)
    _bulk_events(unlocked_project, keys, 120)  # 60 per key; 30 per key are created/revoked...
    first = owner_client.get(_url(unlocked_project), {"key": keys[0].key_id})
    assert len(_rows(first)) == PAGE_SIZE
    text = page_text(first)
    assert "60 events" in text and "Page 1 of 3" in text
    assert "← Newer" not in text and "Older →" in text
    assert f'href="?key={keys[0].key_id}&amp;page=2"' in first.content.decode()
    newest_first = [int(n) for n in re.findall(r'<span class="details">n: (\d+)</span>', first.content.decode())]
    assert newest_first == sorted(newest_first, reverse=True)
    assert newest_first[0] == 118

    last = owner_client.get(_url(unlocked_project), {"key": keys[0].key_id, "page": 3})
    assert len(_rows(last)) == 60 - 2 * PAGE_SIZE
    assert {key_id for _, key_id in _rows(last)} == {keys[0].key_id}
    assert "← Newer" in page_text(last) and "Older →" not in page_text(last)
    # out of range or junk page numbers land on a real page
    assert len(_rows(owner_client.get(_url(unlocked_project), {"page": 999}))) == 120 - 4 * PAGE_SIZE
    assert owner_client.get(_url(unlocked_project), {"page": "x"}).status_code == 200


def _count(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


# Measured: 7 queries whatever the number of keys and events (session, user, membership + project,
# the capped event count, one page of events, the key filter's choices, the actor suggestions).
EVENT_LOG_QUERIES = 7
EVENT_LOG_FRAGMENT_QUERIES = 5  # the htmx fragment is the table only: no filter choices to fill


def test_event_log_query_count_is_constant(owner_client, user, django_assert_num_queries):
    small = ProjectFactory(owner=user, active_questions=10)
    big = ProjectFactory(owner=user, active_questions=10)
    small_keys = ApiKeyFactory.create_batch(1, project=small)
    big_keys = ApiKeyFactory.create_batch(10, project=big)
    _bulk_events(small, small_keys, 3)
    _bulk_events(big, big_keys, 1200)
    assert KeyEvent.objects.filter(project=big).count() == 1200

    _count(owner_client, _url(small))  # warm up
    few = _count(owner_client, _url(small))
    many = _count(owner_client, _url(big))
    filtered = _count(owner_client, _url(big), {"key": big_keys[4].key_id, "kind": "created", "page": 2})
    print(
        f"\nEvent log: {few} queries with 1 key / 3 events, {many} with 10 keys / 1,200 events, "
        f"{filtered} filtered and paged"
    )
    assert few == many == filtered == EVENT_LOG_QUERIES
    with django_assert_num_queries(EVENT_LOG_FRAGMENT_QUERIES):
        response = owner_client.get(_url(big), {"page": 40}, **HX)
    text = page_text(response)
    assert "1,000+ events" in text and "Page 40" in text and "of 48" not in text  # counted up to the cap only
    assert len(_rows(response)) == PAGE_SIZE
