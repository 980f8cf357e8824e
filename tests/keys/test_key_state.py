"""A key's state and status (findings 5 and 6 of the trust review).

- Finding 6: a revocation is a STATE (`ApiKey.state`), not a time compared across hosts; only the
  end of a rotation grace period (`stops_at`) and expiry are judged by the clock.
- Finding 5: a Rotating key and its successor hold one place under the key limit; rotating a key
  whose predecessor is still in its grace period ends that predecessor at once, so chained
  rotations never pile up keys that authenticate.
"""

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from keys.errors import KeyLimitReached
from keys.models import ApiKey
from keys.models.api_key import KeyState, Status, key_status
from keys.services import api_key_create, api_key_revoke, api_key_rotate
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def actor(user):
    return Actor(user=user, label=user.email, ip="203.0.113.7", user_agent="pytest-agent/1.0")


# --- one status rule ------------------------------------------------------------------------


def test_status_rule_and_its_queryset_form_agree(unlocked_project):
    """`key_status` (Python) and `status_q` (SQL) are the same rule: every combination of state,
    grace end and expiry gets the same status from both."""
    times = [None, NOW - timedelta(seconds=1), NOW, NOW + timedelta(seconds=1)]
    keys = [
        ApiKeyFactory(project=unlocked_project, state=state, stops_at=stops_at, expires_at=expires_at)
        for state, stops_at, expires_at in product(KeyState.values, times, times)
    ]
    for status in Status:
        from_sql = set(ApiKey.objects.with_status(status, now=NOW).values_list("pk", flat=True))
        from_python = {k.pk for k in keys if k.status_at(NOW) == status}
        assert from_sql == from_python, status
    assert {k.status_at(NOW) for k in keys} == set(Status)  # the matrix reaches every status
    usable = set(ApiKey.objects.usable(now=NOW).values_list("pk", flat=True))
    assert usable == {k.pk for k in keys if k.status_at(NOW) in (Status.ACTIVE, Status.ROTATING)}


@pytest.mark.parametrize(
    ("state", "stops_at", "expires_at", "expected"),
    [
        (KeyState.ACTIVE, None, None, Status.ACTIVE),
        (KeyState.ACTIVE, NOW + timedelta(hours=1), None, Status.ROTATING),
        (KeyState.ACTIVE, NOW, None, Status.REVOKED),  # the grace period ended: judged by the clock
        (KeyState.ACTIVE, None, NOW, Status.EXPIRED),
        (KeyState.ACTIVE, NOW + timedelta(hours=1), NOW, Status.EXPIRED),
        (KeyState.REVOKED, None, None, Status.REVOKED),
        (KeyState.REVOKED, NOW + timedelta(days=7), NOW + timedelta(days=90), Status.REVOKED),
        (KeyState.REVOKED, None, NOW - timedelta(days=1), Status.REVOKED),  # revoked wins over expired
    ],
)
def test_key_status(state, stops_at, expires_at, expected):
    assert key_status(state=state, stops_at=stops_at, expires_at=expires_at, now=NOW) == expected


def test_revoked_state_does_not_depend_on_any_clock(unlocked_project, actor):
    """A revoked key is Revoked at every instant, also at instants before the revocation (a host
    whose clock runs behind): nothing about it is compared with a time."""
    key, _ = api_key_create(project=unlocked_project, name="k", permissions=["read"], actor=actor)
    api_key_revoke(key=key, actor=actor)
    key.refresh_from_db()
    assert key.state == KeyState.REVOKED
    for skew in (timedelta(seconds=-5), timedelta(days=-365), timedelta(0), timedelta(days=365)):
        assert key.status_at(key.revoked_at + skew) == Status.REVOKED
        assert not ApiKey.objects.usable(now=key.revoked_at + skew).filter(pk=key.pk).exists()


def test_immediate_rotation_revokes_the_old_key_by_state(unlocked_project, actor):
    old, _ = api_key_create(project=unlocked_project, name="k", permissions=["read"], actor=actor)
    api_key_rotate(key=old, actor=actor)
    old.refresh_from_db()
    assert (old.state, old.stops_at) == (KeyState.REVOKED, None)
    assert old.status_at(old.revoked_at - timedelta(seconds=5)) == Status.REVOKED


# --- finding 5: the limit with rotation slots ------------------------------------------------


def _lineage(first: ApiKey) -> list[ApiKey]:
    keys, key = [], ApiKey.objects.get(pk=first.pk)
    while True:
        keys.append(key)
        try:
            key = key.rotated_to
        except ApiKey.DoesNotExist:
            return keys


def test_chained_grace_rotations_leave_two_authenticating_keys(unlocked_project, actor, owner_client):
    first, _ = api_key_create(project=unlocked_project, name="web", permissions=["read"], actor=actor)
    key = first
    for _ in range(30):
        key, _ = api_key_rotate(key=key, actor=actor, grace="7d")
    lineage = _lineage(first)
    assert len(lineage) == 31
    authenticating = [k for k in lineage if k.authenticates]
    assert [k.status for k in authenticating] == [Status.ROTATING, Status.ACTIVE]
    assert authenticating == lineage[-2:]
    assert ApiKey.objects.filter(project=unlocked_project).usable().count() == 2
    assert ApiKey.objects.filter(project=unlocked_project).counted_toward_limit().count() == 1
    assert all(k.status == Status.REVOKED for k in lineage[:-2])
    # Each predecessor was ended by the next rotation, and the event log says so.
    assert (
        KeyEvent.objects.filter(kind=EventKind.REVOKED, details__reason="grace_period_ended_by_rotation").count() == 29
    )
    # The console's counter agrees with the rule.
    response = owner_client.get(reverse("project_keys:api_keys", args=[unlocked_project.slug]))
    assert f"1 of {settings.API_KEY_MAX_ACTIVE_PER_PROJECT}</strong> active keys" in response.content.decode()


def test_never_more_than_twice_the_limit_authenticates(unlocked_project, actor):
    limit = settings.API_KEY_MAX_ACTIVE_PER_PROJECT
    keys = [
        api_key_create(project=unlocked_project, name=f"k{i}", permissions=["read"], actor=actor)[0]
        for i in range(limit)
    ]
    for _ in range(3):  # rotate every lineage three times over, each with a grace period
        keys = [api_key_rotate(key=k, actor=actor, grace="7d")[0] for k in keys]
    project_keys = ApiKey.objects.filter(project=unlocked_project)
    assert project_keys.usable().count() == 2 * limit
    assert project_keys.counted_toward_limit().count() == limit
    with pytest.raises(KeyLimitReached):
        api_key_create(project=unlocked_project, name="eleventh", permissions=["read"], actor=actor)
    # Revoking a successor leaves its Rotating predecessor holding the place on its own.
    rotating = keys[0].rotated_from
    api_key_revoke(key=keys[0], actor=actor)
    assert project_keys.counted_toward_limit().count() == limit
    assert project_keys.counted_toward_limit().filter(pk=rotating.pk).exists()
    with pytest.raises(KeyLimitReached):
        api_key_create(project=unlocked_project, name="eleventh", permissions=["read"], actor=actor)
    assert project_keys.usable().count() == 2 * limit - 1


def test_the_key_counter_counts_what_the_limit_counts(unlocked_project, actor, client):
    now = timezone.now()
    a, _ = api_key_create(project=unlocked_project, name="a", permissions=["read"], actor=actor)
    b, _ = api_key_rotate(key=a, actor=actor, grace="1h")  # a: Rotating, b holds the place
    c, _ = api_key_create(project=unlocked_project, name="c", permissions=["read"], actor=actor)
    d, _ = api_key_rotate(key=c, actor=actor, grace="1h")
    api_key_revoke(key=d, actor=actor)  # c: Rotating with a dead successor: holds its own place
    api_key_create(project=unlocked_project, name="e", permissions=["read"], actor=actor)
    counted = set(ApiKey.objects.filter(project=unlocked_project).counted_toward_limit(now).values_list("name", "pk"))
    assert sorted(name for name, _ in counted) == ["a", "c", "e"]
    assert b.pk in {pk for _, pk in counted}
    # The page's "N of 10" counter is the limit's own count (c, Rotating with a revoked successor,
    # holds its own place; a, Rotating beside its live successor b, does not).
    from keys.views.key_holders import ProjectKeys

    panel = ProjectKeys(unlocked_project.memberships.get(role="owner")).panel_context()
    assert (panel["active_count"], panel["rotating_count"]) == (3, 1)
