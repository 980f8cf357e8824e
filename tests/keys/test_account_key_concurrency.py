"""Account keys under real concurrency, on PostgreSQL: the per-person limit holds (the person's
row is the lock, as the project row is for project keys)."""

import pytest

from keys.errors import KeyLimitReached
from keys.models import ApiKey
from keys.services import api_key_create
from projects.actors import Actor
from projects.models import KeyEvent, Role
from projects.models.event import EventKind
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.keys.test_concurrency import _race, _unexpected

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_account_key_generates_at_eight_end_with_ten():
    person = UserFactory()
    MembershipFactory(project=ProjectFactory(active_questions=10), user=person, role=Role.ADMIN)
    actor = Actor(user=None, label="race")
    for i in range(8):
        api_key_create(owner=person, all_projects=True, name=f"before {i}", permissions=["read"], actor=actor)
    results = _race(
        [
            (
                lambda i=i: api_key_create(
                    owner=person, all_projects=True, name=f"racer {i}", permissions=["read"], actor=actor
                )
            )
            for i in range(20)
        ]
    )
    assert _unexpected(results, KeyLimitReached) == []
    assert sum(1 for kind, _ in results if kind == "ok") == 2
    assert ApiKey.objects.filter(owner=person).counted_toward_limit().count() == 10
    assert KeyEvent.objects.filter(account=person, kind=EventKind.CREATED).count() == 10
