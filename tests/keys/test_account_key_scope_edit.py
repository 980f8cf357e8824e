"""Editable scope of personal keys: the Edit dialog offers Scope (All my projects / Chosen
projects), asks Confirm access, logs the change, and the API applies it on the next request."""

import time

import pytest
from django.urls import reverse

from accounts.reauth import LOGGED_IN_AT
from keys.errors import InvalidKeyRequest
from keys.models import ApiKey
from keys.services import api_key_create, api_key_update
from projects.actors import Actor
from projects.event_text import details_text
from projects.models import KeyEvent, Role
from projects.models.event import EventKind
from tests.conftest import use_record_cache
from tests.factories import MembershipFactory, ProjectFactory
from tests.helpers import HX, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects(user):
    a = ProjectFactory(name="Alpha", slug="alpha", owner=user, active_questions=10)
    b = ProjectFactory(name="Beta", slug="beta", active_questions=10)
    MembershipFactory(project=b, user=user, role=Role.ADMIN)
    outside = ProjectFactory(name="Outside", slug="outside", active_questions=10)
    return a, b, outside


@pytest.fixture(params=["no-cache", "locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


def _edit_url(key):
    return reverse("account_keys:key_edit", args=[key.key_id])


def _questions(client, plaintext, slug):
    return client.get(f"/api/v1/projects/{slug}/questions", headers={"Authorization": f"Bearer {plaintext}"})


def _form(key, **changes):
    data = {"name": key.name, "permissions": ["read"], "rate_limit_per_minute": "", "allowed_ips": ""}
    return {**data, **changes}


def test_scope_a_to_a_b_and_back_applies_on_the_next_request(owner_client, client, user, projects, record_cache):
    a, b, _ = projects
    key, plaintext = api_key_create(owner=user, projects=[a], name="laptop", permissions=["read"], actor=Actor.cli())
    assert _questions(client, plaintext, "alpha").status_code == 200
    assert _questions(client, plaintext, "beta").status_code == 404  # cached now, if a cache is on

    dialog = owner_client.get(_edit_url(key), **HX)
    text = page_text(dialog)
    assert "Scope" in text and "All my projects" in text and "Chosen projects" in text
    assert "Alpha" in text and "Beta" in text
    assert owner_client.post(_edit_url(key), _form(key, scope="chosen", projects=[a.pk, b.pk]), **HX).status_code == 200
    assert _questions(client, plaintext, "beta").status_code == 200
    key.refresh_from_db()
    assert sorted(key.scope_projects.values_list("slug", flat=True)) == ["alpha", "beta"]

    assert owner_client.post(_edit_url(key), _form(key, scope="chosen", projects=[a.pk]), **HX).status_code == 200
    refused = _questions(client, plaintext, "beta")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert _questions(client, plaintext, "alpha").status_code == 200

    events = KeyEvent.objects.filter(account=user, kind=EventKind.UPDATED, key_id=key.key_id).order_by("pk")
    assert [e.details["scope"] for e in events] == [
        {"from": ["alpha"], "to": ["alpha", "beta"]},
        {"from": ["alpha", "beta"], "to": ["alpha"]},
    ]
    assert details_text(events[0]) == "scope: alpha → alpha, beta"


def test_all_my_projects(owner_client, client, user, projects):
    a, b, _ = projects
    key, plaintext = api_key_create(owner=user, projects=[a], name="laptop", permissions=["read"], actor=Actor.cli())
    assert owner_client.post(_edit_url(key), _form(key, scope="all"), **HX).status_code == 200
    key.refresh_from_db()
    assert key.all_projects
    assert _questions(client, plaintext, "beta").status_code == 200
    event = KeyEvent.objects.get(account=user, kind=EventKind.UPDATED)
    assert details_text(event) == "scope: alpha → all projects"


def test_chosen_with_none_or_a_project_not_mine_is_refused(owner_client, user, projects):
    a, _, outside = projects
    key, _ = api_key_create(owner=user, projects=[a], name="laptop", permissions=["read"], actor=Actor.cli())
    none = owner_client.post(_edit_url(key), _form(key, scope="chosen"), **HX)
    assert none.status_code == 422 and "Choose at least one project" in page_text(none)
    with pytest.raises(InvalidKeyRequest, match="member of"):
        api_key_update(
            key=key,
            actor=Actor.cli(),
            name="laptop",
            permissions=["read"],
            rate_limit_per_minute=None,
            all_projects=False,
            projects=[outside],
        )
    assert list(ApiKey.objects.get(pk=key.pk).scope_projects.all()) == [a]
    assert not KeyEvent.objects.filter(kind=EventKind.UPDATED).exists()


def test_editing_scope_asks_confirm_access_when_the_login_is_stale(client, user, projects):
    a, b, _ = projects
    key, _ = api_key_create(owner=user, projects=[a], name="laptop", permissions=["read"], actor=Actor.cli())
    client.force_login(user)
    session = client.session
    session[LOGGED_IN_AT] = time.time() - 16 * 60
    session.save()
    response = client.post(_edit_url(key), _form(key, scope="chosen", projects=[a.pk, b.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("account_reauthenticate"))
    assert list(ApiKey.objects.get(pk=key.pk).scope_projects.all()) == [a]
