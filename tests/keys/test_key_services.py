"""The key rules in the domain layer: api_key_create / rotate / revoke / delete."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from keys import keygen
from keys.errors import DuplicateKeyName, InvalidKeyRequest, KeyLimitReached, KeyNotActive
from keys.models import ApiKey
from keys.models.api_key import ExpiryRule, Status
from keys.services import api_key_create, api_key_delete, api_key_revoke, api_key_rotate, expires_at_for
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, ProjectFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 6, 15, 12, 30, tzinfo=UTC)


@pytest.fixture
def actor(user):
    return Actor(user=user, label=user.email, ip="203.0.113.7", user_agent="pytest-agent/1.0")


@pytest.fixture
def create(unlocked_project, actor):
    def make(name="key", permissions=("read",), **kwargs):
        kwargs.setdefault("project", unlocked_project)
        return api_key_create(name=name, permissions=list(permissions), actor=actor, **kwargs)

    return make


# --- name -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", None])
def test_name_is_required(create, name):
    with pytest.raises(InvalidKeyRequest) as err:
        create(name=name)
    assert err.value.field == "name"
    assert "Give the key a name" in err.value.message
    assert not ApiKey.objects.exists()


def test_name_is_trimmed_and_limited(create):
    key, _ = create(name="  web app  ")
    assert key.name == "web app"
    with pytest.raises(InvalidKeyRequest, match="64 characters"):
        create(name="x" * 65)
    key, _ = create(name="y" * 64)
    assert len(key.name) == 64


def test_name_unique_among_active_keys_case_insensitive(create, unlocked_project):
    first, _ = create(name="Production")
    with pytest.raises(DuplicateKeyName) as err:
        create(name="production")
    assert err.value.field == "name"
    assert "An active key is already named “production”" in err.value.message
    assert ApiKey.objects.count() == 1
    # the same name is fine in another project
    create(name="Production", project=ProjectFactory(active_questions=10))
    # and here again once the first one is revoked
    api_key_revoke(key=first, actor=Actor.cli())
    second, _ = create(name="PRODUCTION")
    assert second.name == "PRODUCTION"


def test_name_of_an_expired_key_can_be_reused(create, unlocked_project):
    ApiKeyFactory(project=unlocked_project, name="old", expires_at=timezone.now() - timedelta(seconds=1))
    key, _ = create(name="old")
    assert key.status == Status.ACTIVE


# --- permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize("permissions", [(), ("admin",), ("read", "root"), ("READ",)])
def test_permissions_must_be_a_non_empty_subset(create, permissions):
    with pytest.raises(InvalidKeyRequest) as err:
        create(permissions=permissions)
    assert err.value.field == "permissions"
    assert "create, read, write, delete, invite" in err.value.message
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    "permissions",
    [
        ("read",),
        ("invite", "read"),
        ("delete", "write", "read", "invite", "create"),
        ("read", "read"),
    ],
)
def test_any_subset_is_accepted_in_canonical_order(create, permissions):
    key, _ = create(permissions=permissions)
    order = ["create", "read", "write", "delete", "invite"]
    assert key.permissions == [p for p in order if p in permissions]
    assert all(key.has_permission(p) for p in permissions)


def test_database_refuses_a_key_without_permissions(unlocked_project):
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(project=unlocked_project, name="x", key_hash="h", last4="abcd", permissions=[])


# --- expiry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "days"), [("7", 7), ("30", 30), ("60", 60), ("90", 90), ("365", 365)])
def test_expiry_in_days(rule, days):
    assert expires_at_for(rule, now=NOW) == NOW + timedelta(days=days)


def test_expiry_never():
    assert expires_at_for(ExpiryRule.NEVER, now=NOW) is None


def test_default_expiry_is_90_days(create):
    before = timezone.now()
    key, _ = create()
    assert key.expiry_rule == ExpiryRule.DAYS_90
    assert before + timedelta(days=90) <= key.expires_at <= timezone.now() + timedelta(days=90)


@pytest.mark.parametrize(
    ("on", "ok"),
    [
        (date(2030, 6, 14), False),  # yesterday
        (date(2030, 6, 15), False),  # today
        (date(2030, 6, 16), True),  # tomorrow
        (date(2031, 1, 1), True),
    ],
)
def test_expiry_date_must_be_in_the_future(on, ok):
    if ok:
        assert expires_at_for(ExpiryRule.DATE, on=on, now=NOW) == datetime.combine(
            on + timedelta(days=1), datetime.min.time(), tzinfo=UTC
        )
    else:
        with pytest.raises(InvalidKeyRequest, match="must be in the future") as err:
            expires_at_for(ExpiryRule.DATE, on=on, now=NOW)
        assert err.value.field == "expires_on"


def test_expiry_date_is_required_for_the_date_rule():
    with pytest.raises(InvalidKeyRequest, match="Choose the expiration date"):
        expires_at_for(ExpiryRule.DATE, on=None, now=NOW)


def test_unknown_expiry_rule_is_refused():
    with pytest.raises(InvalidKeyRequest, match="Choose an expiration"):
        expires_at_for("forever", now=NOW)


def test_key_with_a_date_is_usable_through_that_day(create):
    on = timezone.now().date() + timedelta(days=3)
    key, _ = create(expiry_rule=ExpiryRule.DATE, expires_on=on)
    last_second = datetime.combine(on, datetime.max.time(), tzinfo=UTC)
    next_day = datetime.combine(on + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    assert key.status_at(last_second) == Status.ACTIVE
    assert key.status_at(next_day) == Status.EXPIRED
    assert ApiKey.objects.usable(now=last_second).filter(pk=key.pk).exists()
    assert not ApiKey.objects.usable(now=next_day).filter(pk=key.pk).exists()


@pytest.mark.parametrize(
    ("offset", "status"),
    [(timedelta(seconds=-1), Status.EXPIRED), (timedelta(0), Status.EXPIRED), (timedelta(seconds=1), Status.ACTIVE)],
)
def test_expiry_is_judged_at_the_moment_of_use(unlocked_project, offset, status):
    now = timezone.now()
    key = ApiKeyFactory(project=unlocked_project, expires_at=now + offset)
    assert key.status_at(now) == status
    assert ApiKey.objects.with_status(status, now=now).filter(pk=key.pk).exists()


# --- the limit of 10 active keys ------------------------------------------------------------


def test_at_most_ten_active_keys(create, unlocked_project):
    for i in range(10):
        create(name=f"key {i}")
    with pytest.raises(KeyLimitReached) as err:
        create(name="eleventh")
    assert err.value.message == (
        "This project already has 10 active keys, the most it can have. Revoke or delete one first."
    )
    assert ApiKey.objects.filter(project=unlocked_project).count() == 10
    assert not ApiKey.objects.filter(name="eleventh").exists()
    assert KeyEvent.objects.filter(kind=EventKind.CREATED).count() == 10


def test_revoked_and_expired_keys_do_not_count(create, unlocked_project):
    now = timezone.now()
    for i in range(9):
        ApiKeyFactory(project=unlocked_project, name=f"active {i}")
    for i in range(4):
        ApiKeyFactory(
            project=unlocked_project, name=f"revoked {i}", state="revoked", revoked_at=now - timedelta(minutes=1)
        )
    for i in range(4):
        ApiKeyFactory(project=unlocked_project, name=f"expired {i}", expires_at=now - timedelta(minutes=1))
    ApiKeyFactory(project=ProjectFactory(), name="other project")
    key, _ = create(name="tenth")
    assert key.status == Status.ACTIVE
    with pytest.raises(KeyLimitReached):
        create(name="eleventh")


def test_freeing_a_slot_allows_another_key(create):
    keys = [create(name=f"k{i}")[0] for i in range(10)]
    api_key_revoke(key=keys[0], actor=Actor.cli())
    create(name="after revoke")
    api_key_delete(key=keys[1], actor=Actor.cli())
    create(name="after delete")
    with pytest.raises(KeyLimitReached):
        create(name="one too many")


# --- rotate ---------------------------------------------------------------------------------


def test_rotate_copies_name_permissions_expiry_rule_and_rate_limit(create, actor):
    old, old_plaintext = create(
        name="web", permissions=("read", "write"), expiry_rule=ExpiryRule.DAYS_30, rate_limit_per_minute=42
    )
    new, plaintext = api_key_rotate(key=old, actor=actor)
    old.refresh_from_db()
    assert plaintext != old_plaintext and keygen.is_well_formed(plaintext)
    assert new.key_hash == keygen.hash_key(plaintext)
    assert (new.name, new.permissions, new.expiry_rule, new.rate_limit_per_minute) == (
        "web",
        ["read", "write"],
        ExpiryRule.DAYS_30,
        42,
    )
    assert new.key_id != old.key_id
    assert new.rotated_from == old
    assert old.rotated_to == new
    assert timezone.now() + timedelta(days=29) < new.expires_at <= timezone.now() + timedelta(days=30)
    assert old.status == Status.REVOKED
    assert old.revoked_by == actor.user
    assert new.status == Status.ACTIVE


def test_rotate_keeps_a_chosen_expiry_date(create, actor):
    on = timezone.now().date() + timedelta(days=20)
    old, _ = create(expiry_rule=ExpiryRule.DATE, expires_on=on)
    new, _ = api_key_rotate(key=old, actor=actor)
    assert new.expiry_rule == ExpiryRule.DATE
    assert new.expires_at == old.expires_at


def test_rotate_with_never_expiring_key(create, actor):
    old, _ = create(expiry_rule=ExpiryRule.NEVER)
    new, _ = api_key_rotate(key=old, actor=actor)
    assert new.expires_at is None


@pytest.mark.parametrize(
    ("grace", "period"), [("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7))]
)
def test_rotate_with_grace_period_keeps_old_key_working_until_then(create, actor, grace, period):
    old, _ = create(name="web")
    before = timezone.now()
    new, _ = api_key_rotate(key=old, actor=actor, grace=grace)
    old.refresh_from_db()
    assert before + period <= old.stops_at <= timezone.now() + period
    assert old.status == Status.ROTATING and old.in_grace_period
    assert set(ApiKey.objects.usable().values_list("pk", flat=True)) == {old.pk, new.pk}
    # the old key does not count toward the limit nor block the name
    assert list(ApiKey.objects.counted_toward_limit().values_list("pk", flat=True)) == [new.pk]
    just_before, at_end = old.stops_at - timedelta(seconds=1), old.stops_at
    assert old.status_at(just_before) == Status.ROTATING
    assert old.status_at(at_end) == Status.REVOKED
    assert not ApiKey.objects.usable(now=at_end).filter(pk=old.pk).exists()
    event = KeyEvent.objects.get(kind=EventKind.ROTATED)
    assert event.details == {"new_key_id": new.key_id, "old_key_stops_at": old.stops_at.isoformat()}


def test_unknown_grace_period_is_refused(create, actor):
    old, _ = create()
    with pytest.raises(InvalidKeyRequest):
        api_key_rotate(key=old, actor=actor, grace="2w")
    assert ApiKey.objects.count() == 1


def test_rotating_twice_is_refused(create, actor):
    old, _ = create()
    api_key_rotate(key=old, actor=actor, grace="24h")
    with pytest.raises(KeyNotActive, match="already rotated or revoked"):
        api_key_rotate(key=old, actor=actor)
    assert ApiKey.objects.filter(rotated_from=old).count() == 1
    assert ApiKey.objects.count() == 2


def test_rotating_with_a_stale_object_is_refused(create, actor):
    old, _ = create()
    stale = ApiKey.objects.get(pk=old.pk)
    api_key_rotate(key=old, actor=actor)
    with pytest.raises(KeyNotActive):
        api_key_rotate(key=stale, actor=actor)
    assert ApiKey.objects.count() == 2


def test_rotating_an_expired_or_revoked_key_is_refused(unlocked_project, actor):
    expired = ApiKeyFactory(project=unlocked_project, expires_at=timezone.now() - timedelta(seconds=1))
    revoked = ApiKeyFactory(project=unlocked_project, state="revoked", revoked_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(KeyNotActive, match="expired"):
        api_key_rotate(key=expired, actor=actor)
    with pytest.raises(KeyNotActive):
        api_key_rotate(key=revoked, actor=actor)
    assert ApiKey.objects.count() == 2


def test_rotate_is_allowed_at_ten_active_keys(create, actor):
    keys = [create(name=f"k{i}")[0] for i in range(10)]
    new, _ = api_key_rotate(key=keys[3], actor=actor, grace="1h")
    assert ApiKey.objects.counted_toward_limit().count() == 10
    assert new.name == "k3"


# --- revoke / delete ------------------------------------------------------------------------


def test_revoke_stops_a_key_at_once(create, actor):
    key, _ = create()
    revoked = api_key_revoke(key=key, actor=actor)
    key.refresh_from_db()
    assert key.status == Status.REVOKED == revoked.status
    assert key.revoked_by == actor.user
    assert not ApiKey.objects.usable().exists()


def test_revoking_twice_is_an_error(create, actor):
    key, _ = create()
    api_key_revoke(key=key, actor=actor)
    first_revoked_at = ApiKey.objects.get(pk=key.pk).revoked_at
    with pytest.raises(KeyNotActive, match="already revoked"):
        api_key_revoke(key=key, actor=actor)
    assert ApiKey.objects.get(pk=key.pk).revoked_at == first_revoked_at
    assert KeyEvent.objects.filter(kind=EventKind.REVOKED).count() == 1


def test_revoke_ends_a_grace_period_early(create, actor):
    old, _ = create()
    api_key_rotate(key=old, actor=actor, grace="7d")
    api_key_revoke(key=old, actor=actor)
    old.refresh_from_db()
    assert old.status == Status.REVOKED
    assert not old.in_grace_period


def test_a_revoked_key_cannot_be_reactivated(create, actor):
    key, _ = create()
    api_key_revoke(key=key, actor=actor)
    key.refresh_from_db()
    key.state = "active"
    with pytest.raises(ValidationError):
        key.save()
    assert ApiKey.objects.get(pk=key.pk).status == Status.REVOKED


def test_delete_keeps_events_with_key_id_and_name(create, actor, unlocked_project):
    key, _ = create(name="to delete")
    api_key_rotate(key=key, actor=actor, grace="1h")
    key_id = key.key_id
    api_key_delete(key=key, actor=actor)
    assert not ApiKey.objects.filter(key_id=key_id).exists()
    events = KeyEvent.objects.filter(project=unlocked_project, key_id=key_id).order_by("id")
    assert [e.kind for e in events] == [EventKind.CREATED, EventKind.ROTATED, EventKind.DELETED]
    assert {e.key_name for e in events} == {"to delete"}
    assert events.last().details == {"status_when_deleted": "active"}


# --- events ---------------------------------------------------------------------------------


def test_events_record_actor_ip_user_agent_and_details(create, actor, user, unlocked_project):
    key, _ = create(name="audited", permissions=("read", "create"), expiry_rule=ExpiryRule.NEVER)
    new, _ = api_key_rotate(key=key, actor=actor)
    api_key_revoke(key=new, actor=Actor.cli())
    events = list(KeyEvent.objects.filter(project=unlocked_project).order_by("id"))
    assert [(e.kind, e.key_id) for e in events] == [
        (EventKind.CREATED, key.key_id),
        (EventKind.ROTATED, key.key_id),
        (EventKind.CREATED, new.key_id),
        (EventKind.REVOKED, new.key_id),
    ]
    for e in events[:3]:
        assert (e.actor, e.actor_label, e.ip, e.user_agent) == (user, user.email, "203.0.113.7", "pytest-agent/1.0")
        assert e.key_name == "audited"
    assert events[0].details == {"permissions": ["create", "read"], "expires_at": None}
    assert events[2].details["rotated_from"] == key.key_id
    cli = events[3]
    assert (cli.actor, cli.actor_label, cli.ip, cli.user_agent) == (None, "cli", None, "")


def test_failed_operations_record_no_event(create, actor, unlocked_project):
    create(name="dup")
    with pytest.raises(DuplicateKeyName):
        create(name="DUP")
    with pytest.raises(InvalidKeyRequest):
        create(name="x", permissions=())
    assert KeyEvent.objects.count() == 1


def test_clean_key_request_is_the_one_validation_and_reports_every_field():
    from keys.services import clean_key_request

    with pytest.raises(InvalidKeyRequest) as err:
        clean_key_request(name="", permissions=["nope"], expiry_rule="12")
    assert set(err.value.errors) == {"name", "permissions", "expiration"}
    request = clean_key_request(name=" ci ", permissions=["write", "read", "read"], expiry_rule="never")
    assert (request.name, request.permissions, request.expires_at) == ("ci", ["read", "write"], None)
