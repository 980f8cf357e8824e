"""Cached key records never outlive a revocation (api/keycache.py, api/invalidation.py)."""

import json

import pytest
from django.utils import timezone

from api import keycache
from projects.actors import Actor
from projects.models import ApiKey
from projects.services import api_key_revoke, api_key_rotate
from tests.api.conftest import bearer
from tests.conftest import use_record_cache

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


def get_key(client, key):
    return client.get("/api/v1/key", headers=bearer(key))


def test_a_revoked_key_is_refused_on_the_next_request(client, key, record_cache):
    assert get_key(client, key).status_code == 200
    assert keycache.fetch(key.key_hash, timezone.now()).record is not None  # served from the cache now
    api_key_revoke(key=key, actor=Actor.cli())
    response = get_key(client, key)
    assert response.status_code == 401 and response.json()["error"]["code"] == "revoked_api_key"


def test_a_stale_record_cannot_overwrite_a_tombstone(key, record_cache):
    stale = keycache.record_of(ApiKey.objects.select_related("project").get(pk=key.pk))  # read before...
    api_key_revoke(key=key, actor=Actor.cli())  # ...the revocation, which leaves a tombstone
    keycache.remember(key.key_hash, stale)  # the slow reader tries to cache what it read
    assert keycache.fetch(key.key_hash, timezone.now()).record is None


@pytest.mark.parametrize("change", ["update", "rotate", "delete"])
def test_every_write_to_a_key_drops_its_record(client, key, record_cache, change):
    assert get_key(client, key).status_code == 200
    if change == "update":
        ApiKey.objects.filter(pk=key.pk).update(rate_limit_per_minute=1)
    elif change == "rotate":
        api_key_rotate(key=key, actor=Actor.cli())
    else:
        ApiKey.objects.filter(pk=key.pk).delete()
    assert keycache.fetch(key.key_hash, timezone.now()).record is None


def test_last_use_updates_leave_the_record_alone(client, key, record_cache):
    assert get_key(client, key).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    assert keycache.fetch(key.key_hash, timezone.now()).record is not None


def test_without_the_setting_records_are_not_cached(client, key, settings):
    settings.API_KEY_RECORD_CACHE_SECONDS = 0
    assert get_key(client, key).status_code == 200
    assert keycache.fetch(key.key_hash, timezone.now()).record is None


# --- one declared schema of the record (issue 13) ----------------------------------------------


def test_the_record_schema_accounts_for_every_field_of_apikey():
    """Adding a field to ApiKey fails here until api/keycache.py says whether the API needs it
    (RECORD_FIELDS) or not (NOT_CACHED, with the reason)."""
    fields = {f.attname for f in ApiKey._meta.concrete_fields}
    assert not set(keycache.RECORD_FIELDS) & set(keycache.NOT_CACHED)
    assert fields == set(keycache.RECORD_FIELDS) | set(keycache.NOT_CACHED), (
        "ApiKey's fields and api/keycache.py's record schema disagree: "
        f"undeclared {sorted(fields - set(keycache.RECORD_FIELDS) - set(keycache.NOT_CACHED))}, "
        f"gone {sorted(set(keycache.RECORD_FIELDS) | set(keycache.NOT_CACHED) - fields)}"
    )


def test_a_record_round_trips_and_never_serves_a_default(key, django_assert_num_queries):
    key = ApiKey.objects.select_related("project").get(pk=key.pk)
    key.stops_at = timezone.now()  # a value of every kind: datetimes, JSON list, FK id, str, None
    record = keycache.record_of(key)
    record = json.loads(json.dumps(record))  # what the cache hands back
    with django_assert_num_queries(0):
        cached = keycache.key_from_record(record, key.key_hash)
        for name in keycache.RECORD_FIELDS:
            assert getattr(cached, name) == getattr(key, name), name
        assert (cached.project.pk, cached.project.slug, cached.project.name) == (
            key.project.pk,
            key.project.slug,
            key.project.name,
        )
        assert cached.status_at(timezone.now()) == key.status_at(timezone.now())
        assert cached.key_hash == key.key_hash
    # A field the record does not carry is loaded from the database, never a made-up default.
    with django_assert_num_queries(1):
        assert cached.last4 == key.last4
    assert cached.key_hash == key.key_hash  # the deferred load did not clobber the hash


def test_records_of_another_schema_are_never_read(key, record_cache, monkeypatch):
    from django.core.cache import cache

    keycache.remember(key.key_hash, keycache.record_of(ApiKey.objects.select_related("project").get(pk=key.pk)))
    assert keycache.fetch(key.key_hash, timezone.now()).record is not None
    monkeypatch.setattr(keycache, "RECORD_FIELDS", (*keycache.RECORD_FIELDS[:-1],))
    assert keycache.fetch(key.key_hash, timezone.now()).record is None
    cache.clear()
