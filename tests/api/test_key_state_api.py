"""Finding 6 through the API's clock seam: a revocation holds however far behind the API host's
clock runs; only grace periods and expiry are judged by the clock (tests/reliability/
test_skewed_clock.py does the same with a second process under faketime)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from keys.models import ApiKey
from keys.services import api_key_revoke, api_key_rotate
from projects.actors import Actor
from tests.api.conftest import bearer, error_code
from tests.api.test_keycache import record_cache  # noqa: F401  (a fixture: locmem and Redis)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("skew", [timedelta(seconds=5), timedelta(minutes=10)])
@pytest.mark.usefixtures("record_cache")
def test_revocation_holds_on_skewed_clock(client, key, clock, skew):
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200  # record cached
    api_key_revoke(key=key, actor=Actor.cli())  # made on a host with the right clock
    clock.at(timezone.now() - skew)  # the API host's clock runs behind
    assert ApiKey.objects.get(pk=key.pk).revoked_at > clock.current
    response = client.get("/api/v1/key", headers=bearer(key))
    assert (response.status_code, error_code(response)) == (401, "revoked_api_key")
    from django.core.cache import cache

    cache.clear()


def test_immediate_rotation_holds_on_skewed_clock(client, key, clock):
    _, new_plaintext = api_key_rotate(key=key, actor=Actor.cli())
    clock.at(timezone.now() - timedelta(seconds=5))
    assert error_code(client.get("/api/v1/key", headers=bearer(key))) == "revoked_api_key"
    assert client.get("/api/v1/key", headers=bearer(new_plaintext)).status_code == 200


def test_grace_end_is_judged_by_the_clock_and_reported(client, key, clock):
    _, new_plaintext = api_key_rotate(key=key, actor=Actor.cli(), grace="1h")
    stops_at = ApiKey.objects.get(pk=key.pk).stops_at
    clock.at(stops_at - timedelta(seconds=1))
    response = client.get("/api/v1/key", headers=bearer(key))
    assert response.status_code == 200
    assert response.json()["stops_at"].startswith(stops_at.strftime("%Y-%m-%dT%H:%M:%S"))
    clock.at(stops_at)
    assert error_code(client.get("/api/v1/key", headers=bearer(key))) == "revoked_api_key"
