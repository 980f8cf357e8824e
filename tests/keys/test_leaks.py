"""Leaked keys stop themselves: keys.leaks.report_leaked_keys (the one handler of every report)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from keys import keygen
from keys.leaks import report_leaked_keys, token_hash
from keys.models import ApiKey
from keys.models.api_key import KeyState, Status
from projects.actors import Actor
from projects.models import KeyEvent, Role
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

REPORTER = Actor(user=None, label="GitHub secret scanning")
URL = "https://github.com/someone/repo/blob/abc/settings.py"


@pytest.fixture
def team(user):
    project = ProjectFactory(owner=user, active_questions=10)
    admin, viewer = UserFactory(), UserFactory()
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    MembershipFactory(project=project, user=viewer, role=Role.VIEWER)
    return project, user, admin, viewer


def report(*candidates, found_at=URL):
    return report_leaked_keys(candidates, found_at=found_at, reporter="GitHub secret scanning", actor=REPORTER)


def test_live_project_key_is_revoked_logged_and_its_owners_and_admins_mailed(team, django_capture_on_commit_callbacks):
    project, owner, admin, viewer = team
    key = ApiKeyFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        (verdict,) = report(key.plaintext)
    assert verdict.ours and verdict.revoked
    assert verdict.token_hash == token_hash(key.plaintext)
    key.refresh_from_db()
    assert key.state == KeyState.REVOKED and key.status == Status.REVOKED
    event = KeyEvent.objects.get(kind=EventKind.LEAKED)
    assert event.project == project and event.key_id == key.key_id
    assert event.details["found_at"] == URL and event.details["reason"] == "found_in_public"
    assert event.actor_label == "GitHub secret scanning"
    (message,) = mail.outbox
    assert sorted(message.to) == sorted([owner.email, admin.email])  # not the viewer
    assert key.key_id in message.body and "found in public" in message.subject
    assert "github" in message.body  # the place (made unclickable), with the key's ID and mask
    assert key.plaintext not in message.body and key.plaintext not in message.subject
    assert key.plaintext not in str(event.details)


def test_account_key_mails_its_holder(user, django_capture_on_commit_callbacks):
    key = ApiKeyFactory(project=None, owner=user, all_projects=True)
    with django_capture_on_commit_callbacks(execute=True):
        (verdict,) = report(key.plaintext)
    assert verdict.revoked
    (message,) = mail.outbox
    assert message.to == [user.email]
    assert KeyEvent.objects.get(kind=EventKind.LEAKED, account=user).details["found_at"] == URL


def test_rotating_key_is_revoked_too(team, django_capture_on_commit_callbacks):
    key = ApiKeyFactory(project=team[0], stops_at=timezone.now() + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        (verdict,) = report(key.plaintext)
    assert verdict.revoked
    key.refresh_from_db()
    assert key.state == KeyState.REVOKED


def test_already_revoked_key_is_ours_but_changes_nothing(team, django_capture_on_commit_callbacks):
    key = ApiKeyFactory(project=team[0], state=KeyState.REVOKED)
    with django_capture_on_commit_callbacks(execute=True):
        (verdict,) = report(key.plaintext)
    assert verdict.ours and not verdict.revoked
    assert not mail.outbox and not KeyEvent.objects.exists()


def test_made_up_and_malformed_keys_are_not_ours(team, django_assert_num_queries):
    made_up = keygen.generate_key()  # well formed, checksum fine, no such key: one lookup
    with django_assert_num_queries(1):
        verdicts = report(made_up, "nbq_live_" + "a" * 32, "not a key", "", 42)
    assert [v.ours for v in verdicts] == [False] * 4  # "" and a non-string are one (empty) candidate
    assert not any(v.revoked for v in verdicts)
    assert not mail.outbox and not KeyEvent.objects.exists()


def test_duplicates_count_once_and_the_place_is_one_line(team, django_capture_on_commit_callbacks):
    key = ApiKeyFactory(project=team[0])
    with django_capture_on_commit_callbacks(execute=True):
        verdicts = report(key.plaintext, key.plaintext, found_at="a\nb" + "x" * 900)
    assert len(verdicts) == 1 and len(mail.outbox) == 1
    found = KeyEvent.objects.get(kind=EventKind.LEAKED).details["found_at"]
    assert found.startswith("a b") and len(found) == 500
    assert ApiKey.objects.get(pk=key.pk).state == KeyState.REVOKED


@pytest.mark.django_db(transaction=True)  # the worker closes its database connection at the end
def test_the_leak_mail_goes_through_the_task_queue(team, settings, django_capture_on_commit_callbacks):
    """With the production queue, a report sends nothing in the request: the mail waits as a task
    (so a real key's report takes no longer than a made-up one's) and the worker sends it."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from tests.test_mail_tasks import DATABASE_QUEUE

    settings.TASKS = DATABASE_QUEUE
    project, owner, admin, viewer = team
    key = ApiKeyFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        (verdict,) = report(key.plaintext)
    assert verdict.revoked
    assert mail.outbox == []
    assert DBTaskResult.objects.count() == 1
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    (message,) = mail.outbox
    assert sorted(message.to) == sorted([owner.email, admin.email])
    assert key.plaintext not in message.body
