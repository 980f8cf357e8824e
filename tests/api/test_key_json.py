"""GET /key writes its JSON directly (api/endpoints/key.py): the bytes are those of the schema path
it replaced (KeyOut validated, then django-ninja's JSON renderer), for every kind of key, from the
database and from the record cache."""

from datetime import UTC, datetime

import pytest
from django.http import HttpRequest
from ninja.renderers import JSONRenderer

from api import clock
from api.schemas import KeyOut
from keys.models import ApiKey
from keys.models.api_key import Status
from keys.services import api_key_rotate
from projects.actors import Actor
from tests.api.conftest import bearer
from tests.api.test_account_keys import account_key
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def schema_bytes(key: ApiKey) -> bytes:
    """What the endpoint returned before: this dict, validated by KeyOut, rendered by django-ninja."""
    rotating = key.status_at(clock.now()) == Status.ROTATING
    body = {
        "id": key.key_id,
        "name": key.name,
        "kind": key.kind,
        "project": {"slug": key.project.slug, "name": key.project.name} if key.project is not None else None,
        "scope": key.access["scope"] if key.is_account_key else None,
        "permissions": key.sorted_permissions,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "stops_at": key.stops_at if rotating else None,
        "rate_limit_per_minute": key.rate_limit,
    }
    rendered = JSONRenderer().render(HttpRequest(), KeyOut.model_validate(body).model_dump(), response_status=200)
    return rendered.encode()


@pytest.fixture(params=["no-cache", "cache"])
def record_cache(request, settings):
    settings.API_KEY_RECORD_CACHE_SECONDS = 0 if request.param == "no-cache" else 10
    return request.param


def test_key_json_is_byte_identical_to_the_schema_path(client, project, make_key, record_cache):
    person = UserFactory()
    a = ProjectFactory(slug="a", name="Ça — 日本")
    MembershipFactory(project=a, user=person, role="admin")
    whole_second = make_key(name='quote " and \\ slash', rate_limit_per_minute=7)
    ApiKey.objects.filter(pk=whole_second.pk).update(created_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    expiring = make_key(permissions=["read"], expires_at=datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))
    rotated = make_key()
    new, new_plaintext = api_key_rotate(key=rotated, actor=Actor.cli(), grace="1h")
    keys = [
        whole_second.plaintext,
        expiring.plaintext,
        rotated.plaintext,  # rotating: stops_at set
        new_plaintext,
        account_key(person, projects=[a], permissions=["read", "create"]).plaintext,
        account_key(person, all_projects=True, name="all").plaintext,
    ]
    for plaintext in keys:
        for _ in range(2):  # the second from the record cache when it is on
            response = client.get("/api/v1/key", headers=bearer(plaintext))
            assert response.status_code == 200, response.content
            assert response["Content-Type"] == "application/json; charset=utf-8"
            assert response.content == schema_bytes(response.wsgi_request.auth)  # the key the view saw
    assert b'"stops_at": null' not in client.get("/api/v1/key", headers=bearer(rotated.plaintext)).content
    assert b'"created_at": "2030-01-02T03:04:05Z"' in client.get("/api/v1/key", headers=bearer(keys[0])).content
