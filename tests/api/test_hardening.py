"""API hardening (finding 7 of the trust review): no API response is ever stored by a cache, and
failed authentication is throttled per client address without costing a database query."""

import pytest
from django.conf import settings as django_settings

from keys import keygen
from keys.services import api_key_revoke
from projects.actors import Actor
from tests.api.conftest import bearer, error_code, x_api_key
from tests.api.test_keycache import record_cache  # noqa: F401  (a fixture: locmem and Redis)

pytestmark = pytest.mark.django_db


def assert_never_stored(response):
    assert response["Cache-Control"] == "no-store", (response.status_code, response.get("Cache-Control"))
    vary = {part.strip().lower() for part in response.get("Vary", "").split(",")}
    assert {"authorization", "x-api-key"} <= vary, (response.status_code, response.get("Vary"))


def test_every_api_response_is_no_store_and_varies_on_the_key(client, key, make_key, project):
    limited = make_key(rate_limit_per_minute=1)
    question = project.questions.first()
    responses = {
        "200": client.get("/api/v1/key", headers=bearer(key)),
        "200 x-api-key": client.get("/api/v1/questions", headers=x_api_key(key)),
        "201": client.post(
            "/api/v1/questions", {"text": "New?", "priority": 1}, content_type="application/json", headers=bearer(key)
        ),
        "204": client.delete(f"/api/v1/questions/{question.pk}", headers=bearer(key)),
        "400": client.post("/api/v1/questions", "{", content_type="application/json", headers=bearer(key)),
        "401 missing": client.get("/api/v1/key"),
        "401 invalid": client.get("/api/v1/key", headers=bearer(keygen.generate_key())),
        "403": client.get("/api/v1/questions", headers=bearer(make_key(permissions=["invite"]))),
        "404 object": client.get("/api/v1/questions/999999", headers=bearer(key)),
        "404 unknown path": client.get("/api/v1/nothing-here", headers=bearer(key)),
        "404 outside v1": client.get("/api/elsewhere"),
        "405": client.put("/api/v1/key", headers=bearer(key)),
        "openapi": client.get("/api/v1/openapi.json"),
    }
    client.get("/api/v1/key", headers=bearer(limited))
    responses["429"] = client.get("/api/v1/key", headers=bearer(limited))
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses == {
        "200": 200,
        "200 x-api-key": 200,
        "201": 201,
        "204": 204,
        "400": 400,
        "401 missing": 401,
        "401 invalid": 401,
        "403": 403,
        "404 object": 404,
        "404 unknown path": 404,
        "404 outside v1": 404,
        "405": 405,
        "openapi": 200,
        "429": 429,
    }
    for name, response in responses.items():
        assert_never_stored(response)
        if name != "204" and name != "openapi":
            assert response["Content-Type"].startswith("application/json"), name
    assert error_code(responses["404 unknown path"]) == error_code(responses["404 outside v1"]) == "not_found"
    assert error_code(responses["405"]) == "method_not_allowed"
    # Bookkeeping still happens for authenticated requests, also on errors.
    assert responses["404 object"]["X-RateLimit-Limit"] and responses["429"]["Retry-After"]


API_CSP = "default-src 'none'; frame-ancestors 'none'"


def test_api_responses_may_load_run_and_be_framed_by_nothing(client, key):
    """A JSON API's policy on every API response, refusals and URL-level errors included; the
    Swagger UI page keeps the console's policy, which lets it load its own scripts."""
    responses = {
        "200": client.get("/api/v1/key", headers=bearer(key)),
        "401 malformed": client.get("/api/v1/key", headers=bearer("nbq_live_short")),
        "401 unknown": client.get("/api/v1/key", headers=bearer(keygen.generate_key())),
        "404 unknown path": client.get("/api/v1/nothing-here", headers=bearer(key)),
        "405": client.put("/api/v1/key", headers=bearer(key)),
        "openapi": client.get("/api/v1/openapi.json"),
    }
    assert {name: r["Content-Security-Policy"] for name, r in responses.items()} == dict.fromkeys(responses, API_CSP)
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and docs["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in docs["Content-Security-Policy"]


def test_console_pages_are_not_given_api_headers(owner_client):
    response = owner_client.get("/", follow=True)
    assert response.status_code == 200
    assert "X-API-Key" not in response.get("Vary", "")
    assert "script-src 'self'" in response["Content-Security-Policy"]


# --- failed authentication, per client address ---------------------------------------------


def test_the_default_failure_budget_is_100_a_minute():
    assert django_settings.API_AUTH_FAILURES_PER_MINUTE == 100


@pytest.fixture
def budget(settings, clock):
    clock.mid_window()  # 30 s left in the window
    settings.API_AUTH_FAILURES_PER_MINUTE = 5
    return 5


def made_up() -> dict:
    """A well-formed key with a valid checksum that no project has: it costs a lookup."""
    return bearer(keygen.generate_key())


def test_made_up_keys_are_throttled_per_address(client, budget, django_assert_num_queries):
    for _ in range(budget):
        with django_assert_num_queries(1):  # one indexed lookup each, then 401
            assert error_code(client.get("/api/v1/key", headers=made_up())) == "invalid_api_key"
    guess = made_up()
    with django_assert_num_queries(1):  # a new hash is looked up (it might be a real key), then 429
        response = client.get("/api/v1/key", headers=guess)
    assert (response.status_code, error_code(response)) == (429, "rate_limited")
    assert response["Retry-After"] == "30"
    assert_never_stored(response)
    with django_assert_num_queries(0):  # a hash known to match no key is not looked up again
        assert client.get("/api/v1/key", headers=guess).status_code == 429
    with django_assert_num_queries(0):  # a malformed key is refused as such, at no cost (api/invalid_keys.py)
        response = client.get("/api/v1/key", headers={"X-API-Key": "nbq_live_nonsense"})
    assert (response.status_code, error_code(response)) == (401, "invalid_api_key")
    # Another address is not affected.
    response = client.get("/api/v1/key", headers=made_up(), REMOTE_ADDR="198.51.100.9")
    assert error_code(response) == "invalid_api_key"


def test_a_repeated_unknown_key_costs_one_query_in_a_window(client, budget, django_assert_num_queries):
    guess = made_up()
    with django_assert_num_queries(1):
        assert error_code(client.get("/api/v1/key", headers=guess)) == "invalid_api_key"
    with django_assert_num_queries(0):  # negative caching: known to be unknown, still counted
        for _ in range(budget - 1):
            assert error_code(client.get("/api/v1/key", headers=guess)) == "invalid_api_key"
        assert error_code(client.get("/api/v1/key", headers=guess)) == "rate_limited"


def test_the_window_ends_and_the_address_is_heard_again(client, budget, clock):
    for _ in range(budget + 3):
        client.get("/api/v1/key", headers=made_up())
    assert client.get("/api/v1/key", headers=made_up()).status_code == 429
    clock.advance(seconds=31)
    assert error_code(client.get("/api/v1/key", headers=made_up())) == "invalid_api_key"


def test_a_valid_key_from_a_throttled_address_is_judged_on_its_key(client, key, make_key, budget):
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200  # used before the attack
    for _ in range(budget + 1):
        client.get("/api/v1/key", headers=made_up())
    assert client.get("/api/v1/key", headers=made_up()).status_code == 429
    response = client.get("/api/v1/key", headers=bearer(key))
    assert response.status_code == 200 and response.json()["id"] == key.key_id
    # ... on its key, whatever it is now: revoked -> 401 revoked_api_key, not 200 and not 429.
    api_key_revoke(key=key, actor=Actor.cli())
    assert error_code(client.get("/api/v1/key", headers=bearer(key))) == "revoked_api_key"


def test_with_the_record_cache_a_valid_key_costs_no_query(client, key, budget, settings, django_assert_num_queries):
    settings.API_KEY_RECORD_CACHE_SECONDS = 10
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    for _ in range(budget + 1):
        client.get("/api/v1/key", headers=made_up())
    assert client.get("/api/v1/key", headers=made_up()).status_code == 429
    with django_assert_num_queries(0):
        response = client.get("/api/v1/key", headers=bearer(key))
    assert response.status_code == 200


def test_revoked_and_expired_keys_get_their_own_answer_and_never_spend_the_budget(
    client, make_key, budget, clock, django_assert_num_queries
):
    from datetime import timedelta

    revoked = make_key(state="revoked")
    expired = make_key(expires_at=clock() - timedelta(days=1))
    for _ in range(budget * 4):
        assert error_code(client.get("/api/v1/key", headers=bearer(revoked))) == "revoked_api_key"
        assert error_code(client.get("/api/v1/key", headers=bearer(expired))) == "expired_api_key"
    # The address's budget is untouched: a guess is still a plain 401, and a real key works.
    assert error_code(client.get("/api/v1/key", headers=made_up())) == "invalid_api_key"
    assert client.get("/api/v1/key", headers=bearer(make_key())).status_code == 200


def test_a_valid_key_is_never_refused_for_other_keys_failures(client, make_key, budget, settings):
    """A key never used before, from an address that spent its budget on made-up keys, is looked
    up and judged on its own: not 429 (cache on or off)."""
    for _ in range(budget + 1):
        client.get("/api/v1/key", headers=made_up())
    assert client.get("/api/v1/key", headers=made_up()).status_code == 429
    fresh = make_key()
    assert [client.get("/api/v1/key", headers=bearer(fresh)).status_code for _ in range(5)] == [200] * 5


@pytest.mark.usefixtures("record_cache")
def test_a_valid_key_survives_a_cache_flush_on_a_throttled_address(client, key, make_key, budget):
    from django.core.cache import cache

    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200  # cached now
    fresh = make_key()  # never used yet
    for _ in range(budget + 1):
        client.get("/api/v1/key", headers=made_up())
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/key", headers=bearer(fresh)).status_code == 200
    cache.clear()  # a Redis restart or FLUSHALL: records and markers gone
    for _ in range(budget + 1):
        client.get("/api/v1/key", headers=made_up())
    assert client.get("/api/v1/key", headers=made_up()).status_code == 429
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/key", headers=bearer(make_key())).status_code == 200


def test_a_key_created_after_its_hash_was_guessed_works(client, make_key, budget, monkeypatch):
    """The unknown-hash marker never outlives the creation of a key with that hash."""
    plaintext = keygen.generate_key()
    for _ in range(budget + 1):
        client.get("/api/v1/key", headers=made_up())
    assert client.get("/api/v1/key", headers=bearer(plaintext)).status_code == 429  # known unknown now
    monkeypatch.setattr(keygen, "generate_key", lambda: plaintext)
    make_key()
    assert client.get("/api/v1/key", headers=bearer(plaintext)).status_code == 200


@pytest.mark.usefixtures("record_cache")
def test_a_dead_key_costs_no_query_after_the_first(client, key, make_key, budget, clock, django_assert_num_queries):
    """Its state is cached (over the tombstone its revocation left): a client that keeps sending
    it costs no SQL query."""
    from datetime import timedelta

    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200  # a cached record
    api_key_revoke(key=key, actor=Actor.cli())  # a tombstone in its place
    expired = make_key(expires_at=clock() - timedelta(days=1))
    for dead, code in ((key, "revoked_api_key"), (expired, "expired_api_key")):
        assert error_code(client.get("/api/v1/key", headers=bearer(dead))) == code  # the database decides
        with django_assert_num_queries(0):
            for _ in range(budget * 3):
                assert error_code(client.get("/api/v1/key", headers=bearer(dead))) == code
    assert error_code(client.get("/api/v1/key", headers=made_up())) == "invalid_api_key"


@pytest.mark.usefixtures("record_cache")
def test_a_dead_record_never_hides_a_later_write(client, make_key, clock):
    """A key that was expired when cached and whose expiry was lifted since is judged anew."""
    from datetime import timedelta

    from keys.models import ApiKey

    expired = make_key(expires_at=clock() - timedelta(days=1))
    assert error_code(client.get("/api/v1/key", headers=bearer(expired))) == "expired_api_key"
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=clock() + timedelta(days=1))  # a tombstone
    assert client.get("/api/v1/key", headers=bearer(expired)).status_code == 200


def test_behind_a_proxy_the_client_address_counts(client, budget, settings):
    settings.TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for _ in range(budget + 1):
        client.get("/api/v1/key", headers=made_up(), HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    assert client.get("/api/v1/key", headers=made_up(), HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).status_code == 429
    other = client.get("/api/v1/key", headers=made_up(), HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy)
    assert error_code(other) == "invalid_api_key"


@pytest.mark.usefixtures("record_cache")
def test_throttle_on_each_cache_backend(client, key, budget, django_assert_num_queries):
    """The same rule through Redis (one pipeline) and the local-memory cache."""
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    for _ in range(budget):
        assert error_code(client.get("/api/v1/key", headers=made_up())) == "invalid_api_key"
    guess = made_up()
    assert error_code(client.get("/api/v1/key", headers=guess)) == "rate_limited"
    with django_assert_num_queries(0):
        assert error_code(client.get("/api/v1/key", headers=guess)) == "rate_limited"  # known unknown
        assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200  # cached record
    from django.core.cache import cache

    cache.clear()


def test_made_up_keys_from_one_ipv6_64_share_one_budget(client, clock):
    """300 made-up keys from 2001:db8:1:2::1 … ::12c (one /64: one subscriber) meet the
    address's budget of 100 like 300 from one IPv4 address; another /64 is not affected."""
    clock.mid_window()
    codes = [
        error_code(client.get("/api/v1/key", headers=made_up(), REMOTE_ADDR=f"2001:db8:1:2::{i:x}"))
        for i in range(1, 0x12C + 1)
    ]
    assert codes.count("invalid_api_key") == django_settings.API_AUTH_FAILURES_PER_MINUTE
    assert codes.count("rate_limited") == 300 - django_settings.API_AUTH_FAILURES_PER_MINUTE
    neighbour = client.get("/api/v1/key", headers=made_up(), REMOTE_ADDR="2001:db8:1:3::1")
    assert error_code(neighbour) == "invalid_api_key"
