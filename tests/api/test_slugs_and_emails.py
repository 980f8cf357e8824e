"""A slug from the URL is checked before it reaches authentication or a cache key; every address a
client may send by the OpenAPI document (`format: email`) is one the API accepts."""

import warnings

import pytest
from django.core.cache import CacheKeyWarning
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import keycache
from api.schemas import EMAIL_MAX_LENGTH, InvitationIn
from tests.api.conftest import bearer, error_code
from tests.factories import ApiKeyFactory, ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "slug",
    ["bad%20slug", "caf%C3%A9", "a.b", "x" * 121, "%00", "semi;colon", "%0Anewline"],
    ids=["space", "unicode", "dot", "too-long", "nul", "semicolon", "newline"],
)
def test_a_slug_that_cannot_exist_is_a_404_before_any_cache_key(client, monkeypatch, slug):
    key = ApiKeyFactory(project=ProjectFactory(active_questions=10), permissions=["read"])
    fetched = []
    monkeypatch.setattr(keycache, "fetch", lambda *a, **k: fetched.append(a) or None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        response = client.get(f"/api/v1/projects/{slug}/questions", headers=bearer(key.plaintext))
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert fetched == []  # refused by the URL itself: no authentication, no cache read


def test_a_valid_slug_still_reaches_its_project(client):
    project = ProjectFactory(active_questions=10, slug="Team_a-1")
    key = ApiKeyFactory(project=project, permissions=["read"])
    response = client.get("/api/v1/projects/Team_a-1/questions", headers=bearer(key.plaintext))
    assert response.status_code == 200


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.emails().filter(lambda e: len(e) <= EMAIL_MAX_LENGTH))
def test_every_schema_valid_email_is_accepted(email):
    """What schemathesis sends for `format: email` (hypothesis' emails()) passes the API's check."""
    assert InvitationIn(email=email).email == email.strip().lower()


@pytest.mark.parametrize("email", ["", "   ", "not-an-email", "a@b", "@example.com"])
def test_what_is_not_an_email_is_refused(email):
    with pytest.raises(ValueError):
        InvitationIn(email=email)
