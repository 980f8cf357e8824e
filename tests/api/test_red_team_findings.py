"""Regression tests for the red team's findings on the runtime API (issue #27)."""

import logging

import pytest

from keys.services import api_key_create, api_key_revoke
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code
from tests.conftest import use_record_cache
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["no-cache", "locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


# --- Finding 3: a revoked account key cannot flood the Security log -----------------------------
def test_a_revoked_account_key_sent_to_30_made_up_slugs_writes_one_event_and_one_line(client, record_cache, caplog):
    person = UserFactory()
    project = ProjectFactory(slug="real", active_questions=12)
    MembershipFactory(project=project, user=person)
    key, plaintext = api_key_create(
        owner=person, name="script", permissions=["read"], actor=Actor.cli(), all_projects=True
    )
    api_key_revoke(key=key, actor=Actor.cli())
    caplog.set_level(logging.WARNING, logger="api")
    for i in range(30):
        response = client.get(f"/api/v1/projects/junk-{i}/questions", headers=bearer(plaintext))
        assert response.status_code == 401 and error_code(response) == "revoked_api_key"
    assert KeyEvent.objects.filter(kind=EventKind.REVOKED_KEY_USED).count() == 1
    lines = [r for r in caplog.records if r.name == "api" and "presented" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
