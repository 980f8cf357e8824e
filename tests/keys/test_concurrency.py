"""The key rules under real concurrency, on PostgreSQL: many threads, each with its own connection,
released together by a barrier. The limit, one successor per rotation, and revoke-vs-rotate hold."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from keys.errors import DuplicateKeyName, KeyLimitReached, KeyNotActive, KeyRuleError
from keys.models import ApiKey
from keys.models.api_key import Status
from keys.services import api_key_create, api_key_revoke, api_key_rotate, api_key_update
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(workers: list[Callable[[], object]]) -> list[tuple[str, object]]:
    """Run the callables at once in threads. Returns ("ok", result) or ("error", exception) for each."""
    barrier = threading.Barrier(len(workers))
    results: list[tuple[str, object] | None] = [None] * len(workers)

    def run(i, work):
        try:
            barrier.wait(timeout=30)
            results[i] = ("ok", work())
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = ("error", exc)
        finally:
            connection.close()  # each thread has its own connection: give it back

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _unexpected(results, *allowed):
    return [r for kind, r in results if kind == "error" and not isinstance(r, allowed)]


def test_twenty_concurrent_generates_at_eight_keys_end_with_ten():
    project = ProjectFactory(active_questions=10)
    ApiKeyFactory.create_batch(8, project=project)
    actor = Actor(user=None, label="race")
    results = _race(
        [
            (lambda i=i: api_key_create(project=project, name=f"racer {i}", permissions=["read"], actor=actor))
            for i in range(20)
        ]
    )
    assert _unexpected(results, KeyLimitReached) == []
    assert sum(1 for kind, _ in results if kind == "ok") == 2
    assert sum(1 for kind, _ in results if kind == "error") == 18
    assert ApiKey.objects.filter(project=project).counted_toward_limit().count() == 10
    assert ApiKey.objects.filter(project=project).count() == 10
    assert KeyEvent.objects.filter(project=project, kind=EventKind.CREATED).count() == 2


def test_two_generates_at_nine_keys_leave_ten():
    project = ProjectFactory(active_questions=10)
    ApiKeyFactory.create_batch(9, project=project)
    actor = Actor(user=None, label="race")
    for _ in range(5):
        results = _race(
            [
                (lambda i=i: api_key_create(project=project, name=f"pair {i}", permissions=["read"], actor=actor))
                for i in range(2)
            ]
        )
        assert ApiKey.objects.filter(project=project).counted_toward_limit().count() == 10
        made = [r for kind, r in results if kind == "ok"]
        if made:
            assert len(made) == 1
            key, _ = made[0]
            ApiKey.objects.filter(pk=key.pk).delete()  # back to 9 for the next round


def test_concurrent_same_name_yields_one_key():
    project = ProjectFactory(active_questions=10)
    actor = Actor(user=None, label="race")
    results = _race(
        [
            (lambda: api_key_create(project=project, name="Same name", permissions=["read"], actor=actor))
            for _ in range(8)
        ]
    )
    assert _unexpected(results, KeyRuleError) == []
    assert ApiKey.objects.filter(project=project, name__iexact="same name").count() == 1


def test_ten_concurrent_rotations_yield_one_successor():
    project = ProjectFactory(active_questions=10)
    key = ApiKeyFactory(project=project, name="hot")
    actor = Actor(user=UserFactory(), label="race")
    results = _race([(lambda: api_key_rotate(key=key, actor=actor, grace="1h")) for _ in range(10)])
    assert _unexpected(results, KeyNotActive) == []
    winners = [r for kind, r in results if kind == "ok"]
    assert len(winners) == 1
    successor, plaintext = winners[0]
    assert list(ApiKey.objects.filter(rotated_from=key)) == [successor]
    assert ApiKey.objects.filter(project=project).count() == 2
    assert KeyEvent.objects.filter(kind=EventKind.ROTATED, key_id=key.key_id).count() == 1
    key.refresh_from_db()
    assert key.in_grace_period


def _lineage(key: ApiKey) -> list[ApiKey]:
    chain: list[ApiKey] = []
    current: ApiKey | None = ApiKey.objects.get(pk=key.pk)
    while current is not None:
        chain.append(current)
        current = ApiKey.objects.filter(rotated_from=current).first()
    return chain


@pytest.mark.parametrize("grace", ["", "1h"])
def test_revoke_racing_rotate_leaves_no_unseen_active_key(grace):
    """Whichever wins, every key of the lineage that still works was shown to the person who rotated."""
    project = ProjectFactory(active_questions=10)
    actor = Actor(user=UserFactory(), label="race")
    outcomes = set()
    for round_ in range(8):
        key = ApiKeyFactory(project=project, name=f"lineage {round_}")
        results = _race(
            [
                lambda key=key: api_key_rotate(key=key, actor=actor, grace=grace),
                lambda key=key: api_key_revoke(key=key, actor=actor),
            ]
        )
        assert _unexpected(results, KeyNotActive) == []
        (rotate_kind, rotate_result), (revoke_kind, _) = results
        seen = {rotate_result[0].pk} if rotate_kind == "ok" else set()
        usable = {k.pk for k in _lineage(key) if k.status == Status.ACTIVE}
        assert usable <= seen, f"round {round_}: a working key nobody was shown"
        # the original key never keeps working once someone revoked it
        if revoke_kind == "ok":
            assert ApiKey.objects.get(pk=key.pk).status == Status.REVOKED
        assert len(_lineage(key)) <= 2
        outcomes.add((rotate_kind, revoke_kind))
    # at least one of the rounds did something; both may have won in different orders
    assert outcomes & {("ok", "ok"), ("ok", "error"), ("error", "ok")}


def test_rotation_slots_hold_under_concurrent_generates():
    """Ten places taken, five of them by a Rotating key and its successor (15 keys authenticate):
    ten concurrent generates are all refused, and concurrent rotations of the successors end
    their predecessors, never adding a third authenticating key to a lineage."""
    project = ProjectFactory(active_questions=10)
    actor = Actor(user=None, label="race")
    keys = [api_key_create(project=project, name=f"k{i}", permissions=["read"], actor=actor)[0] for i in range(10)]
    successors = [api_key_rotate(key=k, actor=actor, grace="7d")[0] for k in keys[:5]]
    live = ApiKey.objects.filter(project=project)
    assert (live.usable().count(), live.counted_toward_limit().count()) == (15, 10)
    results = _race(
        [
            (lambda i=i: api_key_create(project=project, name=f"racer {i}", permissions=["read"], actor=actor))
            for i in range(10)
        ]
        + [(lambda s=s: api_key_rotate(key=s, actor=actor, grace="7d")) for s in successors]
    )
    assert _unexpected(results, KeyLimitReached) == []
    created = [r for kind, r in results if kind == "ok" and r[0].rotated_from_id is None]
    assert created == []
    assert (live.usable().count(), live.counted_toward_limit().count()) == (15, 10)
    assert all(not k.authenticates for k in ApiKey.objects.filter(pk__in=[k.pk for k in keys[:5]]))


def test_concurrent_renames_to_one_name_leave_one_key_with_it():
    """Editing keys (issue 12, finding 9) keeps the unique-name rule under concurrency."""
    project = ProjectFactory(active_questions=10)
    keys = ApiKeyFactory.create_batch(6, project=project, permissions=["read"])
    actor = Actor(user=None, label="race")
    results = _race(
        [
            (
                lambda k=k: api_key_update(
                    key=k, actor=actor, name="Same name", permissions=["read"], rate_limit_per_minute=None
                )
            )
            for k in keys
        ]
    )
    assert _unexpected(results, DuplicateKeyName) == []
    assert sum(1 for kind, _ in results if kind == "ok") == 1
    assert ApiKey.objects.filter(project=project, name__iexact="same name").count() == 1
    assert KeyEvent.objects.filter(project=project, kind=EventKind.UPDATED).count() == 1


def test_edit_racing_a_revoke_never_edits_a_revoked_key():
    project = ProjectFactory(active_questions=10)
    key = ApiKeyFactory(project=project, permissions=["read"])
    actor = Actor(user=None, label="race")
    results = _race(
        [
            lambda key=key: api_key_revoke(key=key, actor=actor),
            lambda: api_key_update(
                key=key, actor=actor, name="edited", permissions=["read", "write"], rate_limit_per_minute=5
            ),
        ]
    )
    assert _unexpected(results, KeyNotActive) == []
    key.refresh_from_db()
    assert key.status == Status.REVOKED
    edited = results[1][0] == "ok"
    assert (key.name == "edited") is edited  # either edited before the revoke, or refused after it
