"""Last use (at most one write a minute) and per-day usage counts (buffered, flushed in one upsert)."""

from datetime import date, datetime, timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from api import usage
from keys import usage as key_usage
from keys.models import KeyUsageDay
from keys.services import api_key_delete
from projects.actors import Actor
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def counts(key) -> dict[date, tuple[int, int, int]]:
    return {
        row.day: (row.success, row.client_error, row.server_error) for row in KeyUsageDay.objects.filter(api_key=key)
    }


def test_last_use_is_written_at_most_once_a_minute(client, key, clock, settings, django_assert_num_queries):
    settings.API_KEY_RECORD_CACHE_SECONDS = 10  # key records from the cache: count last-use queries only
    assert key.last_used_at is None
    clock.at(clock.current.replace(second=0, microsecond=0))
    first_use = clock.current
    with django_assert_num_queries(2):  # the key lookup + the first last-use UPDATE
        client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR="203.0.113.7")
    key.refresh_from_db()
    assert key.last_used_at == first_use and key.last_used_ip == "203.0.113.7"

    for seconds in (1, 30, 59):  # same minute: the cache says "used already", no query at all
        clock.at(first_use + timedelta(seconds=seconds))
        with django_assert_num_queries(0):
            client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR="198.51.100.1")
    key.refresh_from_db()
    assert key.last_used_at == first_use and key.last_used_ip == "203.0.113.7"

    clock.at(first_use + timedelta(seconds=60))  # a new minute, but the value is not yet *older* than one
    with django_assert_num_queries(1):  # the conditional UPDATE, which changes nothing
        client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR="198.51.100.1")
    key.refresh_from_db()
    assert key.last_used_at == first_use
    clock.at(first_use + timedelta(seconds=121))
    with django_assert_num_queries(1):
        client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR="198.51.100.1")
    key.refresh_from_db()
    assert key.last_used_at == first_use + timedelta(seconds=121) and key.last_used_ip == "198.51.100.1"


def test_the_conditional_update_skips_a_fresher_value_written_by_another_worker(key, clock, rf):
    stale = type(key).objects.get(pk=key.pk)  # what this worker read: never used
    type(key).objects.filter(pk=key.pk).update(last_used_at=clock.current)  # another worker, just now
    assert usage.touch_last_used(stale, rf.get("/")) is False


def test_counts_are_buffered_then_flushed_in_a_few_upserts(client, make_key, project, monkeypatch):
    key = make_key(permissions=["read"])
    other = make_key()
    for _ in range(3):
        assert client.get("/api/v1/questions", headers=bearer(key)).status_code == 200
    assert (
        client.post(
            "/api/v1/questions", {"text": "x"}, content_type="application/json", headers=bearer(key)
        ).status_code
        == 403
    )
    assert client.get("/api/v1/questions/999999", headers=bearer(key)).status_code == 404

    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    with monkeypatch.context() as patched:
        patched.setattr("api.question_queries.list_page", boom)
        assert client.get("/api/v1/questions", headers=bearer(key)).status_code == 500
    assert client.get("/api/v1/key", headers=bearer(other)).status_code == 200
    client.get("/api/v1/key")  # unauthenticated: not counted

    assert not KeyUsageDay.objects.exists()  # nothing written per request
    with CaptureQueriesContext(connection) as queries:
        assert usage.flush_usage() == 2
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    # per-day totals, the detailed counts (endpoint, outcome), the addresses, their trim: one each
    assert len(statements) == 4
    assert all("ON CONFLICT" in sql for sql in statements[:3]) and statements[3].startswith("DELETE")
    today = usage.clock.now().date()
    assert counts(key) == {today: (3, 2, 1)} and counts(other) == {today: (1, 0, 0)}

    for _ in range(2):
        client.get("/api/v1/questions", headers=bearer(key))
    usage.flush_usage()
    assert counts(key) == {today: (5, 2, 1)}  # the upsert adds to the stored row
    assert usage.flush_usage() == 0 and usage.pending_counts() == {}


def test_a_429_is_a_client_error(client, make_key, clock):
    clock.mid_window()
    key = make_key(rate_limit_per_minute=1)
    client.get("/api/v1/key", headers=bearer(key))
    client.get("/api/v1/key", headers=bearer(key))
    usage.flush_usage()
    assert counts(key) == {clock.current.date(): (1, 1, 0)}


def test_counts_go_to_the_utc_day_of_the_request(client, key, clock):
    midnight = datetime(2026, 3, 1, tzinfo=clock.current.tzinfo)
    clock.at(midnight - timedelta(seconds=1))
    client.get("/api/v1/key", headers=bearer(key))
    clock.at(midnight)
    client.get("/api/v1/key", headers=bearer(key))
    client.get("/api/v1/key", headers=bearer(key))
    usage.flush_usage()
    assert counts(key) == {date(2026, 2, 28): (1, 0, 0), date(2026, 3, 1): (2, 0, 0)}


def test_a_request_flushes_when_the_interval_has_passed(client, key, settings):
    settings.API_USAGE_FLUSH_SECONDS = 0
    client.get("/api/v1/key", headers=bearer(key))
    assert sum(counts(key)[d][0] for d in counts(key)) == 1


def test_a_failed_flush_keeps_the_counts_and_never_breaks_a_request(client, key, settings, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr("api.usage._upsert", down)
    settings.API_USAGE_FLUSH_SECONDS = 0  # every request tries to flush
    for _ in range(3):
        assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    assert list(usage.pending_counts().values()) == [(3, 0, 0)]
    monkeypatch.undo()
    settings.API_USAGE_FLUSH_SECONDS = 3600
    usage.flush_usage()
    assert list(counts(key).values()) == [(3, 0, 0)]


def test_counts_of_a_deleted_key_are_dropped_the_others_written(client, make_key):
    doomed, kept = make_key(), make_key()
    client.get("/api/v1/key", headers=bearer(doomed))
    client.get("/api/v1/key", headers=bearer(kept))
    api_key_delete(key=doomed, actor=Actor.cli())
    assert usage.flush_usage() == 1
    assert list(counts(kept).values()) == [(1, 0, 0)]


def test_counts_are_never_written_to_another_database(client, key, monkeypatch):
    client.get("/api/v1/key", headers=bearer(key))
    monkeypatch.setattr("api.usage._database_name", lambda: "some-other-database")
    assert usage.flush_usage() == 0
    assert not KeyUsageDay.objects.exists()


def test_usage_last_days_for_the_chart(key, make_key):
    today = date(2026, 11, 24)
    KeyUsageDay.objects.create(api_key=key, day=today, success=5, client_error=2, server_error=1)
    KeyUsageDay.objects.create(api_key=key, day=today - timedelta(days=29), success=1)
    KeyUsageDay.objects.create(api_key=key, day=today - timedelta(days=30), success=99)  # too old
    KeyUsageDay.objects.create(api_key=make_key(), day=today, success=7)  # another key

    days = key_usage.usage_last_days(key, today=today)
    assert len(days) == 30
    assert days[0] == (today - timedelta(days=29), 1, 1, 0, 0)
    assert days[-1] == (today, 8, 5, 2, 1)
    assert days[-1].total == 8 and days[-1].day == today
    assert all(d.total == 0 for d in days[1:-1])
    assert [d.day for d in days] == sorted(d.day for d in days)
    assert len(key_usage.usage_last_days(key, days=7, today=today)) == 7


def test_discarded_counts_are_never_written(key):
    usage.flush_usage()
    usage.count_request(key, 200)
    usage.discard_pending()
    assert usage.flush_usage() == 0
    usage.count_request(key, 200)
    assert usage.flush_usage() == 1  # counting goes on as before
