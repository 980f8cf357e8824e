"""Account → API keys: the same lifecycle as a project's API Key tab (generate with a scope, reveal
once, list, details, rotate, revoke, delete), htmx fragments and plain pages, and the Security log."""

import pytest
from django.urls import reverse

from keys.models import ApiKey
from keys.services import api_key_create
from projects.actors import Actor
from projects.models import KeyEvent, Role
from projects.models.event import EventKind
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.helpers import HX, KEY_IN_TEXT, page_text, revealed_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_projects(user):
    a = ProjectFactory(name="Alpha", slug="alpha", owner=user, active_questions=10)
    b = ProjectFactory(name="Beta", slug="beta", active_questions=3)
    MembershipFactory(project=b, user=user, role=Role.VIEWER)
    return a, b


def _url(name, *args):
    return reverse(f"account_keys:{name}", args=args)


def test_page_heading_and_header_link(owner_client):
    page = owner_client.get(_url("api_keys"))
    assert page.status_code == 200
    assert "<h1>Personal API keys</h1>" in page.content.decode()  # the top bar's Personal keys (#32)
    assert f'href="{_url("api_keys")}"' in owner_client.get(reverse("projects:list")).content.decode()


def test_generate_dialog_has_scope_with_one_checkbox_per_project(owner_client, two_projects):
    text = page_text(owner_client.get(_url("key_new"), **HX))
    for label in (
        "Generate a key",
        "Name",
        "Create",
        "Read",
        "Write",
        "Delete",
        "Invite",
        "Expiration",
        "Scope",
        "All my projects",
        "Chosen projects",
        "Alpha",
        "Beta",
        "Generate",
    ):
        assert label in text, label
    other = ProjectFactory(name="Gamma")  # not the user's: not offered
    assert "Gamma" not in page_text(owner_client.get(_url("key_new"), **HX)) and other


@pytest.mark.parametrize("htmx", [True, False])
def test_generate_with_chosen_scope_reveals_once(owner_client, user, two_projects, htmx):
    a, b = two_projects
    extra = HX if htmx else {}
    response = owner_client.post(
        _url("key_new"),
        {"name": "laptop", "permissions": ["read"], "expiration": "30", "scope": "chosen", "projects": [a.pk, b.pk]},
        **extra,
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = revealed_key(response)
    key = ApiKey.objects.get(owner=user)
    assert (key.project_id, key.all_projects) == (None, False)
    assert set(key.scope_projects.all()) == {a, b}
    assert 'role="dialog"' in response.content.decode() or "<dialog" in response.content.decode()
    assert "Copy" in page_text(response) and "Done" in page_text(response)
    assert f"/api/v1/projects/{a.slug}/questions" in response.content.decode()
    listing = owner_client.get(_url("api_keys"))
    assert not KEY_IN_TEXT.search(listing.content.decode())
    assert plaintext[-4:] in page_text(listing) and "Alpha, Beta" in page_text(listing)


def test_generate_refuses_an_empty_chosen_scope_and_keeps_the_input(owner_client, two_projects):
    response = owner_client.post(
        _url("key_new"), {"name": "laptop", "permissions": ["read"], "expiration": "30", "scope": "chosen"}, **HX
    )
    assert response.status_code == 422
    assert "Choose at least one project" in page_text(response)
    assert 'value="laptop"' in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_project_of_someone_else_cannot_be_chosen(owner_client, two_projects):
    stranger = ProjectFactory(name="Secret")
    response = owner_client.post(
        _url("key_new"),
        {"name": "x", "permissions": ["read"], "expiration": "30", "scope": "chosen", "projects": [stranger.pk]},
        **HX,
    )
    assert response.status_code == 422 and not ApiKey.objects.exists()


def test_the_eleventh_account_key_is_refused(owner_client, user, two_projects):
    for i in range(10):
        api_key_create(owner=user, all_projects=True, name=f"k{i}", permissions=["read"], actor=Actor.cli())
    response = owner_client.post(
        _url("key_new"), {"name": "k10", "permissions": ["read"], "expiration": "30", "scope": "all"}, **HX
    )
    assert "10 active keys" in page_text(response)
    assert ApiKey.objects.filter(owner=user).count() == 10


def test_rotate_revoke_delete_and_the_security_log(owner_client, user, two_projects):
    a, b = two_projects
    key, _ = api_key_create(owner=user, projects=[a], name="ci", permissions=["read"], actor=Actor.cli())
    rotate = owner_client.get(_url("key_rotate", key.key_id), **HX)
    assert "Rotate key" in page_text(rotate) and "Cancel" in page_text(rotate)
    rotated = owner_client.post(_url("key_rotate", key.key_id), {"grace": "1h"}, **HX)
    new_plaintext = revealed_key(rotated)
    new = ApiKey.objects.get(owner=user, rotated_from=key)
    assert new_plaintext[-4:] == new.last4 and new.scope_projects.get() == a
    assert "Rotating" in page_text(owner_client.get(_url("api_keys")))
    confirm = owner_client.get(_url("key_revoke", new.key_id), **HX)
    assert "Revoke key" in page_text(confirm)
    assert owner_client.post(_url("key_revoke", new.key_id), **HX).status_code == 200
    assert owner_client.post(_url("key_delete", new.key_id)).status_code == 302
    log = page_text(owner_client.get(_url("security_log")))
    for words in ("Key created", "Key rotated", "Key revoked", "Key deleted"):
        assert words in log
    # Lifecycle events also reach the projects of the key's scope, not the others.
    assert KeyEvent.objects.filter(project=a, key_id=key.key_id, kind=EventKind.ROTATED).exists()
    assert not KeyEvent.objects.filter(project=b).exists()
    assert not KeyEvent.objects.filter(account=user, project=a).exists()  # copies are the project's only


def test_details_show_scope_and_reach(owner_client, user, two_projects):
    key, _ = api_key_create(owner=user, all_projects=True, name="all", permissions=["read"], actor=Actor.cli())
    text = page_text(owner_client.get(_url("key_detail", key.key_id), **HX))
    assert "All my projects" in text and "Alpha" in text and "Beta" in text
    assert "locked" in text  # Beta has 3 active questions
    assert "Requests per project, last 30 days" in text


def test_someone_elses_account_key_is_a_404(client, user, two_projects):
    key, _ = api_key_create(owner=user, all_projects=True, name="mine", permissions=["read"], actor=Actor.cli())
    client.force_login(UserFactory())
    for name in ("key_detail", "key_rotate", "key_revoke", "key_delete"):
        assert client.get(_url(name, key.key_id)).status_code == 404
    assert client.post(_url("key_revoke", key.key_id)).status_code == 404
    assert "mine" not in page_text(client.get(_url("api_keys")))


def test_pages_need_a_login(client):
    response = client.get(_url("api_keys"))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("action", ["generate", "rotate"])
def test_generate_and_rotate_ask_confirm_access_when_the_login_is_stale(client, user, two_projects, action):
    import time

    from accounts.reauth import LOGGED_IN_AT
    from tests.factories import PASSWORD

    a, _ = two_projects
    client.force_login(user)
    session = client.session
    session[LOGGED_IN_AT] = time.time() - 16 * 60
    session.save()
    if action == "generate":
        url, form = (
            _url("key_new"),
            {"name": "late", "permissions": ["read"], "expiration": "30", "scope": "chosen", "projects": [a.pk]},
        )
    else:
        key, _ = api_key_create(owner=user, projects=[a], name="late", permissions=["read"], actor=Actor.cli())
        url, form = _url("key_rotate", key.key_id), {"grace": ""}
    before = ApiKey.objects.count()
    response = client.post(url, form)
    assert response.status_code == 302 and response.url.startswith(reverse("account_reauthenticate"))
    assert ApiKey.objects.count() == before
    done = client.post(response.url, {"password": PASSWORD, "next": url})
    assert done.status_code == 200 and revealed_key(done)
    assert ApiKey.objects.count() == before + 1


def test_edit_an_account_key(owner_client, user, two_projects):
    a, _ = two_projects
    key, _ = api_key_create(owner=user, projects=[a], name="old", permissions=["read"], actor=Actor.cli())
    dialog = owner_client.get(_url("key_edit", key.key_id), **HX)
    assert dialog.status_code == 200 and 'value="old"' in dialog.content.decode()
    response = owner_client.post(
        _url("key_edit", key.key_id),
        {"name": "new", "permissions": ["read", "write"], "rate_limit_per_minute": ""},
        **HX,
    )
    assert response.status_code == 200, page_text(response)
    key.refresh_from_db()
    assert (key.name, key.sorted_permissions) == ("new", ["read", "write"])
    assert KeyEvent.objects.filter(account=user, kind=EventKind.UPDATED).count() == 1
    assert KeyEvent.objects.filter(project=a, kind=EventKind.UPDATED, account=None).count() == 1
