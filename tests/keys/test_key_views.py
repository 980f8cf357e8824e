"""The API Key tab: htmx fragments vs full pages, the one-time reveal, validation, badges, counters,
and a query count that does not grow with the number of keys."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from keys.models import ApiKey
from keys.models.api_key import Status
from keys.services import api_key_create, api_key_rotate
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, ProjectFactory, UserFactory
from tests.helpers import HX, KEY_IN_TEXT, page_text, revealed_key
from tests.urls import project_url

pytestmark = pytest.mark.django_db

GOOD = {"name": "Production web app", "permissions": ["read", "write"], "expiration": "90"}


def _url(name, project, *args):
    return project_url(name, args=[project.slug, *args])


def _is_fragment(response):
    body = response.content.decode()
    return "<html" not in body and "<body" not in body


def _no_store(response):
    return "no-store" in response.get("Cache-Control", "")


# --- fragments and pages --------------------------------------------------------------------


def test_tab_is_a_full_page_without_htmx_and_a_fragment_with_it(owner_client, unlocked_project):
    ApiKeyFactory(project=unlocked_project, name="web")
    page = owner_client.get(_url("api_keys", unlocked_project))
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    assert 'aria-current="page">API Key</a>' in page.content.decode()
    fragment = owner_client.get(_url("api_keys", unlocked_project), **HX)
    assert fragment.status_code == 200
    assert _is_fragment(fragment)
    body = fragment.content.decode()
    assert body.lstrip().startswith('<section id="keys-panel"')
    assert "web" in page_text(fragment)
    assert "hx-swap-oob" not in body


@pytest.mark.parametrize("name", ["key_new", "key_detail", "key_rotate", "key_revoke", "key_delete"])
def test_dialogs_and_details_are_fragments_with_htmx_and_pages_without(owner_client, unlocked_project, name):
    key = ApiKeyFactory(project=unlocked_project)
    args = [] if name == "key_new" else [key.key_id]
    fragment = owner_client.get(_url(name, unlocked_project, *args), **HX)
    assert fragment.status_code == 200
    assert _is_fragment(fragment)
    page = owner_client.get(_url(name, unlocked_project, *args))
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    if name != "key_detail":
        assert "<dialog" in fragment.content.decode()
        # without JavaScript the dialog is rendered open inside the page, above the key list
        assert re.search(r"<dialog[^>]* open>", page.content.decode())
        assert 'id="keys-panel"' in page.content.decode()


def test_generate_dialog_contents(owner_client, unlocked_project):
    response = owner_client.get(_url("key_new", unlocked_project), **HX)
    body, text = response.content.decode(), page_text(response)
    assert text.startswith("Generate a key An API key is a secret.")
    assert "secret manager" in text and "never in code" in text and "browser" in text and "once" in text
    assert re.search(r'<label for="id_name">Name</label>', body)
    for label in ("Create", "Read", "Write", "Delete", "Invite"):
        match = re.search(rf'<input type="checkbox" name="permissions" value="{label.lower()}" id="(\w+)"', body)
        assert match, label
        assert f'<label for="{match[1]}">{label}</label>' in body, label
    assert '<label for="id_expiration">Expiration</label>' in body
    for option in ("7 days", "30 days", "60 days", "90 days", "1 year", "Custom date", "No expiration"):
        assert option in text
    assert re.search(r'<option value="90" selected>', body)
    assert '<button type="submit" class="primary">Generate</button>' in body
    assert f'hx-post="{_url("key_new", unlocked_project)}"' in body
    assert f'action="{_url("key_new", unlocked_project)}"' in body


# --- generate and reveal --------------------------------------------------------------------


def test_generate_with_htmx_returns_reveal_dialog_and_oob_panel(owner_client, unlocked_project, user):
    response = owner_client.post(_url("key_new", unlocked_project), GOOD, **HX)
    assert response.status_code == 200
    assert _no_store(response)
    assert _is_fragment(response)
    plaintext = revealed_key(response)
    key = ApiKey.objects.get(project=unlocked_project)
    assert key.name == "Production web app"
    assert key.permissions == ["read", "write"]
    assert key.created_by == user
    assert key.last4 == plaintext[-4:]
    body, text = response.content.decode(), page_text(response)
    assert body.lstrip().startswith("<dialog")
    assert "Your new API key" in text
    assert "It will not be shown again" in text
    assert ">Copy</button>" in body and ">Done</a>" in body
    assert f'value="{plaintext}"' in body
    assert f'curl -H "Authorization: Bearer {plaintext}" http://testserver/api/v1/key' in text
    assert key.key_id in text
    # the key list is swapped out of band, with the new masked row and the counter
    assert '<section id="keys-panel" class="keys-panel" hx-swap-oob="true">' in body
    panel = body[body.index('id="keys-panel"') :]
    assert plaintext not in panel
    assert key.masked in panel and f'id="key-{key.key_id}"' in panel
    assert "1 of 10 active keys" in page_text(response)


def test_generate_without_htmx_shows_the_key_in_a_full_page(owner_client, unlocked_project):
    response = owner_client.post(_url("key_new", unlocked_project), GOOD)
    assert response.status_code == 200
    assert _no_store(response)
    body = response.content.decode()
    assert "<html" in body
    plaintext = revealed_key(response)
    # The key is in the one reveal dialog only: its field and the curl example, nowhere else on the page.
    assert body.count('id="new-key-value"') == 1
    assert body.count(plaintext) == 2
    dialog = body[body.index("<dialog") : body.index("</dialog>")]
    assert dialog.count(plaintext) == 2
    assert re.search(r"<dialog[^>]* open>", body)
    assert "hx-swap-oob" not in body
    assert ApiKey.objects.get().masked in body[body.index("</dialog>") :]


def test_later_pages_never_contain_the_plaintext(owner_client, unlocked_project, admin_client):
    response = owner_client.post(_url("key_new", unlocked_project), GOOD, **HX)
    plaintext = revealed_key(response)
    key = ApiKey.objects.get()
    pages = [
        owner_client.get(_url("api_keys", unlocked_project)),
        owner_client.get(_url("api_keys", unlocked_project), **HX),
        owner_client.get(_url("key_detail", unlocked_project, key.key_id)),
        owner_client.get(_url("key_detail", unlocked_project, key.key_id), **HX),
        owner_client.get(_url("events", unlocked_project)),
        owner_client.get(_url("key_new", unlocked_project)),
        owner_client.get(_url("key_rotate", unlocked_project, key.key_id)),
        owner_client.get(_url("key_revoke", unlocked_project, key.key_id)),
        owner_client.get(_url("key_delete", unlocked_project, key.key_id)),
        admin_client.get(reverse("admin:keys_apikey_changelist")),
        admin_client.get(reverse("admin:keys_apikey_change", args=[key.pk])),
        admin_client.get(reverse("admin:projects_keyevent_changelist")),
    ]
    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert plaintext not in body
        assert plaintext[9:] not in body
        assert not KEY_IN_TEXT.search(body)
    assert key.masked in page_text(pages[0])
    assert plaintext not in response.get("Location", "") and plaintext not in response.request["PATH_INFO"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**GOOD, "name": ""}, "name", "Give the key a name, so you can tell it apart later."),
        ({**GOOD, "name": "x" * 65}, "name", "Keep the name to 64 characters."),
        ({"name": "ci", "expiration": "90"}, "permissions", "Choose at least one permission: create, read, write"),
        ({**GOOD, "permissions": ["read", "sudo"]}, "permissions", "Choose at least one permission: create, read"),
        ({**GOOD, "expiration": "1000"}, "expiration", "Choose an expiration."),
        ({**GOOD, "expiration": "date"}, "expires_on", "Choose the expiration date."),
        ({**GOOD, "expiration": "date", "expires_on": "not a date"}, "expires_on", "Enter a date as YYYY-MM-DD."),
        (
            {**GOOD, "expiration": "date", "expires_on": "2001-01-01"},
            "expires_on",
            "The expiration date must be in the future.",
        ),
        (
            {**GOOD, "expiration": "date", "expires_on": "today"},
            "expires_on",
            "The expiration date must be in the future.",
        ),
    ],
)
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_invalid_generate_form_is_422_and_creates_nothing(owner_client, unlocked_project, data, field, message, htmx):
    if data.get("expires_on") == "today":
        data = {**data, "expires_on": timezone.now().date().isoformat()}
    response = owner_client.post(_url("key_new", unlocked_project), data, **(HX if htmx else {}))
    assert response.status_code == 422
    assert _is_fragment(response) is htmx
    assert message in page_text(response)
    body = response.content.decode()
    assert 'role="alert"' in body
    assert "<form" in body  # the form is shown again, in place
    assert not KEY_IN_TEXT.search(body)
    assert not ApiKey.objects.exists()
    assert not KeyEvent.objects.exists()


def test_the_service_judges_every_field_at_once_and_the_form_shows_each(owner_client, unlocked_project):
    """One validation (services.clean_key_request): the form only presents its errors."""
    from keys.forms import ApiKeyCreateForm

    data = {"name": " ", "permissions": ["sudo"], "expiration": "date", "expires_on": "2001-01-01"}
    assert ApiKeyCreateForm(data).is_valid()  # the form judges nothing of the key itself
    response = owner_client.post(_url("key_new", unlocked_project), data, **HX)
    assert response.status_code == 422
    text = page_text(response)
    for message in ("Give the key a name", "Choose at least one permission:", "must be in the future"):
        assert message in text
    assert not ApiKey.objects.exists()


def test_duplicate_name_is_a_field_error(owner_client, unlocked_project):
    ApiKeyFactory(project=unlocked_project, name="Production web app")
    response = owner_client.post(_url("key_new", unlocked_project), {**GOOD, "name": "production WEB app"}, **HX)
    assert response.status_code == 422
    assert "An active key is already named “production WEB app”. Choose another name." in page_text(response)
    assert ApiKey.objects.count() == 1


def test_generate_with_a_custom_date(owner_client, unlocked_project):
    on = timezone.now().date() + timedelta(days=10)
    response = owner_client.post(
        _url("key_new", unlocked_project), {**GOOD, "expiration": "date", "expires_on": on.isoformat()}, **HX
    )
    assert response.status_code == 200
    key = ApiKey.objects.get()
    assert key.expiry_rule == "date"
    assert key.expires_at.date() == on + timedelta(days=1)


def test_generate_never_expiring(owner_client, unlocked_project):
    owner_client.post(_url("key_new", unlocked_project), {**GOOD, "expiration": "never"}, **HX)
    assert ApiKey.objects.get().expires_at is None


# --- key limit, counters and badges ---------------------------------------------------------


def test_generate_is_disabled_and_explained_at_ten_active_keys(owner_client, unlocked_project):
    for i in range(10):
        ApiKeyFactory(project=unlocked_project, name=f"k{i}")
    ApiKeyFactory(project=unlocked_project, name="gone", state="revoked", revoked_at=timezone.now() - timedelta(days=1))
    response = owner_client.get(_url("api_keys", unlocked_project))
    body, text = response.content.decode(), page_text(response)
    assert "10 of 10 active keys" in text
    assert re.search(r'<button type="button" class="primary" disabled[^>]*>Generate a key</button>', body)
    assert "This project has 10 active keys, the most it can have. Revoke or delete one to generate another." in text
    assert f'href="{_url("key_new", unlocked_project)}"' not in body

    dialog = owner_client.get(_url("key_new", unlocked_project), **HX)
    assert "This project has 10 active keys, the most it can have." in page_text(dialog)
    assert "<form" not in dialog.content.decode()

    refused = owner_client.post(_url("key_new", unlocked_project), {**GOOD, "name": "eleventh"}, **HX)
    assert refused.status_code == 422
    assert "10 active keys, the most it can have. Revoke or delete one first." in page_text(refused)
    assert not ApiKey.objects.filter(name="eleventh").exists()


def test_counter_counts_only_active_keys(owner_client, unlocked_project):
    now = timezone.now()
    ApiKeyFactory.create_batch(3, project=unlocked_project)
    ApiKeyFactory(project=unlocked_project, state="revoked", revoked_at=now - timedelta(seconds=5))
    ApiKeyFactory(project=unlocked_project, expires_at=now - timedelta(seconds=5))
    ApiKeyFactory(project=ProjectFactory())
    assert "3 of 10 active keys" in page_text(owner_client.get(_url("api_keys", unlocked_project)))


def _row(response, key):
    body = response.content.decode()
    start = body.index(f'id="key-{key.key_id}"')
    return body[start : body.index("</tbody>", start)]


def test_status_badges_and_actions(owner_client, unlocked_project):
    now = timezone.now()
    active = ApiKeyFactory(project=unlocked_project, name="active one")
    revoked = ApiKeyFactory(
        project=unlocked_project, name="revoked one", state="revoked", revoked_at=now - timedelta(hours=1)
    )
    expired = ApiKeyFactory(project=unlocked_project, name="expired one", expires_at=now - timedelta(hours=1))
    response = owner_client.get(_url("api_keys", unlocked_project))
    assert '<span class="badge badge-active">Active</span>' in _row(response, active)
    assert '<span class="badge badge-revoked">Revoked</span>' in _row(response, revoked)
    assert '<span class="badge badge-expired">Expired</span>' in _row(response, expired)
    assert all(a in _row(response, active) for a in (">Rotate<", ">Revoke<", ">Delete<"))
    for dead in (revoked, expired):
        row = _row(response, dead)
        assert ">Rotate<" not in row and ">Revoke<" not in row and ">Delete<" in row


@pytest.mark.parametrize(("age_days", "stale"), [(89, False), (91, True), (400, True)])
def test_stale_badge_for_keys_older_than_90_days(owner_client, unlocked_project, age_days, stale):
    key = ApiKeyFactory(project=unlocked_project, created_at=timezone.now() - timedelta(days=age_days))
    row = _row(owner_client.get(_url("api_keys", unlocked_project)), key)
    assert ("Older than 90 days — consider rotating" in row) is stale


def test_no_stale_badge_on_revoked_or_expired_keys(owner_client, unlocked_project):
    old = timezone.now() - timedelta(days=200)
    ApiKeyFactory(project=unlocked_project, created_at=old, state="revoked", revoked_at=old + timedelta(days=1))
    ApiKeyFactory(project=unlocked_project, created_at=old, expires_at=old + timedelta(days=90))
    assert "consider rotating" not in page_text(owner_client.get(_url("api_keys", unlocked_project)))


def test_row_shows_masked_key_key_id_permissions_and_grace_period(owner_client, unlocked_project, user):
    actor = Actor(user=user, label=user.email)
    key, plaintext = api_key_create(project=unlocked_project, name="web", permissions=["write", "read"], actor=actor)
    new, _ = api_key_rotate(key=key, actor=actor, grace="24h")
    response = owner_client.get(_url("api_keys", unlocked_project))
    row = _row(response, key)
    assert f"nbq_live_…{plaintext[-4:]}" in row
    assert key.key_id in row
    assert '<span class="perm">read</span><span class="perm">write</span>' in row
    # The old key is Rotating (not a second green Active), with the time it stops, right under its successor.
    assert '<span class="badge badge-rotating">Rotating</span>' in row and "badge-active" not in row
    assert re.search(r"stops in 23 hours, 59 minutes \(at <time[^>]*>[^<]+ \d\d:\d\d</time> UTC\)", row), row
    assert ">Rotate<" not in row and ">Revoke<" in row
    body = response.content.decode()
    assert body.index(f'id="key-{new.key_id}"') < body.index(f'id="key-{key.key_id}"')
    assert "1 of 10 active keys" in page_text(response) and "1 rotating out" in page_text(response)


def test_empty_state(owner_client, unlocked_project):
    assert "No keys yet." in page_text(owner_client.get(_url("api_keys", unlocked_project)))


# --- rotate, revoke, delete through the views -----------------------------------------------


def test_rotate_dialog_offers_grace_periods(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web")
    response = owner_client.get(_url("key_rotate", unlocked_project, key.key_id), **HX)
    text = page_text(response)
    assert "Rotate “web”?" in text
    for choice in ("Immediately", "After 1 hour", "After 24 hours", "After 7 days"):
        assert choice in text
    assert '<button type="submit" class="primary">Rotate key</button>' in response.content.decode()
    assert ">Cancel</a>" in response.content.decode()


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_rotate_reveals_the_new_key(owner_client, unlocked_project, htmx):
    old = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read", "invite"])
    response = owner_client.post(
        _url("key_rotate", unlocked_project, old.key_id), {"grace": "1h"}, **(HX if htmx else {})
    )
    assert response.status_code == 200
    assert _no_store(response)
    assert _is_fragment(response) is htmx
    plaintext = revealed_key(response)
    new = ApiKey.objects.get(rotated_from=old)
    assert new.last4 == plaintext[-4:]
    text = page_text(response)
    assert "Key rotated: here is the new key" in text
    assert f"The old key {old.key_id} keeps working until" in text
    assert ("hx-swap-oob" in response.content.decode()) is htmx


def test_rotate_immediately_says_the_old_key_stopped(owner_client, unlocked_project):
    old = ApiKeyFactory(project=unlocked_project)
    response = owner_client.post(_url("key_rotate", unlocked_project, old.key_id), {"grace": ""}, **HX)
    assert f"The old key {old.key_id} stopped working." in page_text(response)


def test_rotate_twice_through_the_view_is_refused(owner_client, unlocked_project):
    old = ApiKeyFactory(project=unlocked_project)
    owner_client.post(_url("key_rotate", unlocked_project, old.key_id), {"grace": "7d"}, **HX)
    response = owner_client.post(_url("key_rotate", unlocked_project, old.key_id), {"grace": ""}, **HX)
    assert response.status_code == 422
    assert "This key was already rotated or revoked." in page_text(response)
    assert not KEY_IN_TEXT.search(response.content.decode())
    assert ApiKey.objects.filter(rotated_from=old).count() == 1


def test_rotate_with_bad_grace_is_422(owner_client, unlocked_project):
    old = ApiKeyFactory(project=unlocked_project)
    response = owner_client.post(_url("key_rotate", unlocked_project, old.key_id), {"grace": "forever"}, **HX)
    assert response.status_code == 422
    assert ApiKey.objects.count() == 1


def test_revoke_with_htmx_swaps_panel_and_flash(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web")
    dialog = owner_client.get(_url("key_revoke", unlocked_project, key.key_id), **HX)
    assert "Revoke “web”?" in page_text(dialog)
    assert '<button type="submit" class="danger">Revoke key</button>' in dialog.content.decode()

    response = owner_client.post(_url("key_revoke", unlocked_project, key.key_id), **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert _is_fragment(response)
    assert '<section id="keys-panel" class="keys-panel" hx-swap-oob="true">' in body
    # The message updates the live region's content; the region itself (role=status) stays in place.
    assert '<div hx-swap-oob="innerHTML:#flash">' in body
    assert f"Key “web” ({key.key_id}) was revoked. It stopped working." in page_text(response)
    assert '<span class="badge badge-revoked">Revoked</span>' in _row(response, key)
    key.refresh_from_db()
    assert key.status == Status.REVOKED


def test_revoke_without_htmx_redirects_with_a_message(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web")
    response = owner_client.post(_url("key_revoke", unlocked_project, key.key_id))
    assert response.status_code == 302
    assert response.url == _url("api_keys", unlocked_project)
    page = owner_client.get(response.url)
    assert f"Key “web” ({key.key_id}) was revoked." in page_text(page)


def test_revoking_a_revoked_key_is_422(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, state="revoked", revoked_at=timezone.now() - timedelta(minutes=1))
    response = owner_client.post(_url("key_revoke", unlocked_project, key.key_id), **HX)
    assert response.status_code == 422
    assert "This key is already revoked." in page_text(response)
    assert KeyEvent.objects.count() == 0


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_delete(owner_client, unlocked_project, htmx):
    key = ApiKeyFactory(project=unlocked_project, name="web")
    dialog = owner_client.get(_url("key_delete", unlocked_project, key.key_id), **HX)
    assert "Delete “web”?" in page_text(dialog)
    assert '<button type="submit" class="danger">Delete key</button>' in dialog.content.decode()
    response = owner_client.post(_url("key_delete", unlocked_project, key.key_id), **(HX if htmx else {}))
    assert response.status_code == (200 if htmx else 302)
    assert not ApiKey.objects.exists()
    event = KeyEvent.objects.get(kind=EventKind.DELETED)
    assert (event.key_id, event.key_name) == (key.key_id, "web")


@pytest.mark.parametrize("name", ["key_detail", "key_rotate", "key_revoke", "key_delete"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_key_of_another_project_is_404(owner_client, unlocked_project, user, name, method):
    mine_too = ProjectFactory(owner=user, active_questions=10)  # even one the user owns as well
    other = ApiKeyFactory(project=mine_too)
    stranger = ApiKeyFactory(project=ProjectFactory(active_questions=10))
    for key in (other, stranger):
        if method == "post" and name == "key_detail":
            continue
        response = getattr(owner_client, method)(_url(name, unlocked_project, key.key_id), **HX)
        assert response.status_code == (404 if method == "get" or name != "key_detail" else 405)
        key.refresh_from_db()
        assert key.status == Status.ACTIVE
    assert ApiKey.objects.count() == 2
    assert owner_client.get(_url("key_detail", unlocked_project, "key_doesnotexist")).status_code == 404


def test_details_show_lineage_events_and_usage(owner_client, unlocked_project, user):
    actor = Actor(user=user, label=user.email)
    old, _ = api_key_create(project=unlocked_project, name="web", permissions=["read"], actor=actor)
    new, _ = api_key_rotate(key=old, actor=actor)
    response = owner_client.get(_url("key_detail", unlocked_project, new.key_id), **HX)
    text = page_text(response)
    assert f"Replaces {old.key_id}" in text
    assert f"Created {new.created_at:%Y-%m-%d %H:%M} UTC by {user.email}" in text
    assert "Last used Never" in text
    assert "Permissions read" in text
    assert "Key created" in text
    assert "Requests, last 30 days" in text
    old_text = page_text(owner_client.get(_url("key_detail", unlocked_project, old.key_id), **HX))
    assert f"Replaced by {new.key_id}" in old_text
    assert "Key rotated" in old_text
    assert f"by {user.email}" in old_text


# --- query counts ---------------------------------------------------------------------------


def _make_keys(project, user, n):
    """`n` keys of every kind: with a creator, rotated (lineage both ways), revoked, expired."""
    now = timezone.now()
    actor = Actor(user=user, label=user.email)
    made = step = 0
    while made < n:
        kind, step = step % 4, step + 1
        if kind == 0 or (kind == 1 and made + 2 > n):
            api_key_create(project=project, name=f"k{made}", permissions=["read"], actor=actor)
        elif kind == 1:  # two keys: the rotated one and its successor
            key, _ = api_key_create(project=project, name=f"k{made}", permissions=["read"], actor=actor)
            api_key_rotate(key=key, actor=actor, grace="1h")
            made += 1
        elif kind == 2:
            ApiKeyFactory(
                project=project,
                created_by=UserFactory(),
                state="revoked",
                revoked_at=now - timedelta(days=1),
                revoked_by=user,
            )
        else:
            ApiKeyFactory(project=project, expires_at=now - timedelta(days=1), created_at=now - timedelta(days=200))
        made += 1
    return ApiKey.objects.filter(project=project).count()


def _count_queries(client, url, **extra):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


# Measured: the API Key tab makes 5 queries with 1 key and with 10 (session, user, membership +
# project, the key list with creators and lineage, the active-question count); the htmx fragment too.
API_KEY_TAB_QUERIES = 5


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_api_key_tab_query_count_does_not_grow_with_keys(owner_client, user, django_assert_num_queries, htmx):
    one = ProjectFactory(owner=user, active_questions=10)
    ten = ProjectFactory(owner=user, active_questions=10)
    assert _make_keys(one, user, 1) == 1
    assert _make_keys(ten, user, 10) == 10

    extra = HX if htmx else {}
    owner_client.get(_url("api_keys", one), **extra)  # warm up (session, content types)
    with_one, _ = _count_queries(owner_client, _url("api_keys", one), **extra)
    with_ten, response = _count_queries(owner_client, _url("api_keys", ten), **extra)
    print(f"\nAPI Key tab ({'htmx' if htmx else 'page'}): {with_one} queries with 1 key, {with_ten} with 10 keys")
    assert with_one == with_ten == API_KEY_TAB_QUERIES
    assert response.content.decode().count('class="key-row"') == 10
    with django_assert_num_queries(API_KEY_TAB_QUERIES):
        owner_client.get(_url("api_keys", ten), **extra)


def test_key_detail_query_count_is_constant(owner_client, user):
    project = ProjectFactory(owner=user, active_questions=10)
    _make_keys(project, user, 4)
    key = ApiKey.objects.filter(project=project, rotated_to__isnull=False).first()
    few, _ = _count_queries(owner_client, _url("key_detail", project, key.key_id), **HX)
    actor = Actor(user=user, label=user.email)
    for _ in range(30):
        KeyEvent.objects.create(
            project=project,
            key_id=key.key_id,
            key_name=key.name,
            kind=EventKind.RATE_LIMITED,
            actor_label=actor.label,
        )
    many, _ = _count_queries(owner_client, _url("key_detail", project, key.key_id), **HX)
    print(f"\nKey details: {few} queries with few events, {many} with many")
    assert few == many
