"""Deliveries leave the request: with production's queue (django-tasks-db) revoking a key answers as
fast with ten endpoints as with none, nothing is sent until the worker runs, and a failed try is
retried by the worker at its time (`run_after`), with the same webhook-id."""

import statistics
import time

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks.webhooks import Webhook

from tests.factories import ApiKeyFactory, ProjectFactory
from webhooks.models import Attempt, Delivery
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 20


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


@pytest.fixture
def production_queue(settings, allow_private):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    return settings


def revoke(client, project) -> float:
    key = ApiKeyFactory(project=project)
    url = reverse("project_keys:key_revoke", args=[project.slug, key.key_id])  # type: ignore[attr-defined]
    started = time.perf_counter()
    response = client.post(url)
    took = time.perf_counter() - started
    assert response.status_code in (200, 302)
    return took


def test_revoking_answers_as_fast_with_ten_endpoints_as_with_none(
    production_queue, receiver, user, owner_client, capsys
):
    receiver.delay = 0.5  # a slow receiver: 10 × 0.5 s if deliveries were made in the request
    bare = ProjectFactory(owner=user, active_questions=10)
    busy = ProjectFactory(owner=user, active_questions=10)
    single = ProjectFactory(owner=user, active_questions=10)
    endpoint_create(project=single, url=f"{receiver.url}?single", all_events=True, event_types=[])
    for i in range(10):
        endpoint_create(project=busy, url=f"{receiver.url}?n={i}", all_events=True, event_types=[])
    for _ in range(3):  # warm-up: templates, connections
        revoke(owner_client, bare), revoke(owner_client, busy)
    without, with_one, with_ten = [], [], []
    for _ in range(ROUNDS):  # interleaved, so the machine's other load falls on all alike
        without.append(revoke(owner_client, bare))
        with_one.append(revoke(owner_client, single))
        with_ten.append(revoke(owner_client, busy))
    assert receiver.received == []  # queued, not sent
    assert Delivery.objects.filter(endpoint__project=busy).count() == 10 * (ROUNDS + 3)
    # One task row per event (fan_out), written in the revoking transaction.
    assert DBTaskResult.objects.filter(status="READY").count() == (ROUNDS + 3) + ROUNDS

    median_without, median_with = statistics.median(without), statistics.median(with_ten)
    with capsys.disabled():
        print(
            f"\nrevoke via the console, median of {ROUNDS}: no endpoints {median_without * 1000:.1f} ms, "
            f"one endpoint {statistics.median(with_one) * 1000:.1f} ms, "
            f"ten endpoints {median_with * 1000:.1f} ms (ratio {median_with / median_without:.2f}); "
            f"max {max(without) * 1000:.1f} / {max(with_ten) * 1000:.1f} ms"
        )
    # A bulk insert of ten rows and one task row more, never a connection to a receiver (which
    # would cost 5 s here). The bound is loose: the machine is shared and queries' times vary
    # (measured: 1.23-1.49 times the median without endpoints, about +20-35 ms of queue writes).
    assert median_with < median_without * 2
    assert max(with_ten) < receiver.delay * 2


def test_the_worker_delivers_and_retries_at_its_time_with_the_same_id(production_queue, receiver, unlocked_project):
    endpoint, secret = endpoint_create(project=unlocked_project, url=receiver.url, all_events=True, event_types=[])
    receiver.statuses = [500]
    call_command("revoke_api_key", ApiKeyFactory(project=unlocked_project).key_id, verbosity=0)
    assert receiver.received == []
    run_worker()
    assert len(receiver.received) == 1
    retry = DBTaskResult.objects.filter(status="READY").get()
    assert 3 <= (retry.run_after - timezone.now()).total_seconds() <= 6  # 5 s later
    run_worker()
    assert len(receiver.received) == 1  # not due yet
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    run_worker()
    receiver.wait_for(2)
    first, second = receiver.received
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    for request in (first, second):
        Webhook(secret).verify(request["body"], request["headers"])
    assert list(Attempt.objects.order_by("number").values_list("number", "status_code")) == [(1, 500), (2, 200)]
    # The queue holds the message's id, never its body or the secret.
    for row in DBTaskResult.objects.all():
        assert secret not in str(row.args_kwargs) and "key.revoked" not in str(row.args_kwargs)
