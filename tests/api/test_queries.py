"""The hot path stays lean: an authenticated GET /api/v1/key in steady state makes no query (the
key's record comes from the shared cache, with the rate-limit count, in one round trip); a cold
or invalidated key costs one indexed query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Question
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def record_cache(settings):
    """Key records served from the cache, as with REDIS_URL in production."""
    settings.API_KEY_RECORD_CACHE_SECONDS = 10


def warm(client, key, path="/api/v1/key"):
    """The first request of a minute records last use; after it the key is in steady state."""
    assert client.get(path, headers=bearer(key)).status_code == 200


def test_get_key_without_the_record_cache_is_one_query(client, key, django_assert_num_queries):
    warm(client, key)
    for headers in (bearer(key), {"X-API-Key": key.plaintext}):
        with django_assert_num_queries(1):
            assert client.get("/api/v1/key", headers=headers).status_code == 200


def test_get_key_in_steady_state_makes_no_query(client, key, record_cache, django_assert_num_queries):
    warm(client, key)
    for headers in (bearer(key), {"X-API-Key": key.plaintext}):
        with django_assert_num_queries(0):
            assert client.get("/api/v1/key", headers=headers).status_code == 200


def test_a_revocation_sends_the_next_request_to_the_database(client, key, record_cache, django_assert_num_queries):
    from keys.services import api_key_revoke
    from projects.actors import Actor

    warm(client, key)
    api_key_revoke(key=key, actor=Actor.cli())
    with django_assert_num_queries(2):  # the lookup, then the security event
        response = client.get("/api/v1/key", headers=bearer(key))
    assert response.status_code == 401 and response.json()["error"]["code"] == "revoked_api_key"


def test_a_cold_key_is_one_indexed_lookup_by_hash(client, key):
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/key", headers=bearer(key))
    query, _last_use = queries.captured_queries  # first use: the lookup, then last use
    sql = query["sql"]
    assert '"key_hash" =' in sql and "JOIN" in sql and key.plaintext not in sql
    assert key.key_hash in sql  # the stored form, never the key


def test_list_questions_is_one_query_when_the_page_holds_everything(
    client, key, record_cache, django_assert_num_queries
):
    warm(client, key)
    with django_assert_num_queries(1):  # the page (count derived from the short page)
        assert client.get("/api/v1/questions", headers=bearer(key)).json()["count"] == 12


def test_list_questions_is_one_query_for_a_partial_page(client, key, record_cache, project, django_assert_num_queries):
    Question.objects.bulk_create(Question(project=project, text=f"Q{i}") for i in range(100))
    warm(client, key)
    with django_assert_num_queries(1):  # the page and the count together
        assert client.get("/api/v1/questions", headers=bearer(key)).json()["count"] == 112


def test_list_questions_is_one_query_past_the_end(client, key, record_cache, project, django_assert_num_queries):
    warm(client, key)
    with django_assert_num_queries(1):  # an empty page still knows the count
        body = client.get("/api/v1/questions?offset=500", headers=bearer(key)).json()
    assert body == {"items": [], "count": 12}


def test_other_endpoints(client, key, record_cache, project, django_assert_num_queries):
    warm(client, key)
    question = project.questions.first()
    with django_assert_num_queries(1):
        client.get(f"/api/v1/questions/{question.pk}", headers=bearer(key))
    with django_assert_num_queries(1):
        client.post(
            "/api/v1/next-question", {"answered": [question.pk]}, content_type="application/json", headers=bearer(key)
        )
