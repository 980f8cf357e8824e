"""On PostgreSQL, as in production: flushes of several processes at once add up exactly."""

import threading

import pytest
from django.db import connection

from api import usage
from keys.models import KeyUsageDay
from tests.factories import ApiKeyFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_flushes_of_the_same_key_and_day_add_up():
    key, other = ApiKeyFactory(), ApiKeyFactory()
    day = usage.clock.now().date()
    writers, rounds = 6, 20
    start = threading.Barrier(writers)
    errors = []

    def worker():
        try:
            start.wait()
            for _ in range(rounds):  # each call is what one process's flush writes
                usage._upsert({(key.pk, day): [1, 2, 3], (other.pk, day): [1, 0, 0]})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    row = KeyUsageDay.objects.get(api_key=key, day=day)
    total = writers * rounds
    assert (row.success, row.client_error, row.server_error) == (total, 2 * total, 3 * total)
    assert KeyUsageDay.objects.get(api_key=other, day=day).success == total
