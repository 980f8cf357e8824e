"""Property tests: whatever arrives in Authorization / X-API-Key, the answer is a JSON 401, never a 500."""

import string

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keys import keygen
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

BASE62 = keygen.ALPHABET
CODES_401 = {"missing_api_key", "invalid_api_key"}
HYPOTHESIS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Header values as a WSGI server could deliver them: latin-1 text without line breaks.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300)
any_text = st.text(max_size=300)  # anything at all, through the test client


@pytest.fixture(autouse=True)
def _failures_not_throttled():
    """Hundreds of examples from one address: the per-address throttle has its own tests."""
    with override_settings(API_AUTH_FAILURES_PER_MINUTE=10**9):
        yield


@pytest.fixture
def live_key(db):
    return ApiKeyFactory(permissions=["read"])


def assert_json_401(response, codes=CODES_401):
    assert response.status_code == 401, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] in codes


@HYPOTHESIS
@given(
    value=st.one_of(
        header_text, any_text, st.builds("Bearer {}".format, any_text), st.builds("bearer {}".format, header_text)
    )
)
@example(value="Bearer " + "A" * 10_240)
@example(value="Bearer nbq_live_" + "A" * 32)
@example(value="Bearer\tnbq_live_")
@example(value="Bearer \x00")
def test_arbitrary_authorization_header(client, value):
    assert_json_401(client.get("/api/v1/key", headers={"Authorization": value}))


@HYPOTHESIS
@given(value=st.one_of(header_text, any_text))
@example(value="x" * 10_240)
@example(value="nbq_live_" + "Z" * 10_000)
def test_arbitrary_x_api_key_header(client, value):
    assert_json_401(client.get("/api/v1/key", headers={"X-API-Key": value}))


@HYPOTHESIS
@given(size=st.integers(min_value=1024, max_value=10_240), char=st.sampled_from(list(string.printable[:94])))
def test_huge_headers(client, size, char):
    assert_json_401(
        client.get("/api/v1/key", headers={"Authorization": "Bearer " + char * size, "X-API-Key": char * size})
    )


@HYPOTHESIS
@given(data=st.data())
def test_near_miss_keys_are_refused_without_a_query(client, live_key, data):
    """Change one character of a real key: the checksum (or the pattern) catches it offline."""
    real = live_key.plaintext
    position = data.draw(st.integers(min_value=0, max_value=len(real) - 1))
    replacement = data.draw(st.sampled_from(BASE62 + "_-!é ").filter(lambda c: c != real[position]))
    near_miss = real[:position] + replacement + real[position + 1 :]
    header = data.draw(st.sampled_from(["Authorization", "X-API-Key"]))
    value = f"Bearer {near_miss}" if header == "Authorization" else near_miss
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/key", headers={header: value})
    assert_json_401(response, {"invalid_api_key"})
    assert len(queries.captured_queries) == 0


@HYPOTHESIS
@given(random_part=st.text(BASE62, min_size=26, max_size=26), header=st.sampled_from(["Authorization", "X-API-Key"]))
def test_well_formed_but_unknown_keys(client, live_key, random_part, header):
    candidate = keygen.PREFIX + random_part + keygen.checksum(random_part)
    assert keygen.is_well_formed(candidate) and candidate != live_key.plaintext
    value = f"Bearer {candidate}" if header == "Authorization" else candidate
    assert_json_401(client.get("/api/v1/key", headers={header: value}), {"invalid_api_key"})
