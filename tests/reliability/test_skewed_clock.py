"""Finding 6 of the trust review: a revocation holds on a host whose clock runs behind.

The API runs in a second process under `faketime -f -5s` (gunicorn, DEBUG=0, PostgreSQL, Redis
with the key-record cache on); the revocation is made here, on a host with the right clock. On
the old code (`revoked_at = now`, compared with the API host's clock) the skewed host kept
accepting the key for 5 s; a revocation is a state now, so every worker refuses it at once.
"""

import shutil
import time
from email.utils import parsedate_to_datetime

import pytest

from keys.models import ApiKey
from keys.services import api_key_revoke
from projects.actors import Actor
from tests.factories import ApiKeyFactory

from . import live
from .test_workers import until_every_worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SKEW_SECONDS = 5


def test_revocation_holds_on_skewed_clock(start_gunicorn, redis_url, project, settings, figures):
    if not shutil.which("faketime"):
        pytest.skip("needs faketime (apt-get install faketime)")
    # This process writes the tombstones into the API's own Redis, as a console host would.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    key = ApiKeyFactory(project=project, permissions=["read"])
    server = start_gunicorn(redis_url=redis_url, wrapper=("faketime", "-f", f"-{SKEW_SECONDS}s"))

    def send():
        return server.get("/api/v1/key", headers=live.bearer(key.plaintext))

    before = until_every_worker(server, send)
    assert {r.status for r in before} == {200}, [r.body[:200] for r in before if r.status != 200][:3]
    # The second host's clock really runs behind ours (its Date header, 1 s resolution).
    skews = [r.started - parsedate_to_datetime(r.headers["date"]).timestamp() for r in before]
    assert all(SKEW_SECONDS - 1 <= s <= SKEW_SECONDS + 1.5 for s in skews), skews

    api_key_revoke(key=key, actor=Actor.cli())
    revoked_at = ApiKey.objects.get(pk=key.pk).revoked_at.timestamp()
    started = time.time()
    after = until_every_worker(server, send)
    elapsed = time.time() - started
    # Every worker, within the 5 s its clock lags, refuses the key as revoked.
    early = [r for r in after if parsedate_to_datetime(r.headers["date"]).timestamp() < revoked_at]
    assert early, "no request was answered while the skewed host's clock still read before the revocation"
    wrong = [(r.status, r.body[:120]) for r in after if (r.status, r.error_code) != (401, "revoked_api_key")]
    assert not wrong, wrong
    figures.update(
        skew_seconds=round(sum(skews) / len(skews), 2),
        requests_after_revocation=len(after),
        answered_before_revocation_by_the_skewed_clock=len(early),
        seconds=round(elapsed, 2),
    )
