"""Expiry reminders and unused-key notices: `send_key_reminders`, each reminder once per key."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from keys.models.api_key import KeyState
from keys.reminders import send_key_reminders
from projects.models import KeyEvent, Membership, Role
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, UserFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("send_key_reminders", stdout=out)
    return out.getvalue()


@pytest.fixture
def admin(unlocked_project):
    person = UserFactory()
    Membership.objects.create(project=unlocked_project, user=person, role=Role.ADMIN)
    viewer = UserFactory()
    Membership.objects.create(project=unlocked_project, user=viewer, role=Role.VIEWER)
    return person


def test_run_twice_sends_each_reminder_once(unlocked_project, user, admin):
    now = timezone.now()
    soon = ApiKeyFactory(project=unlocked_project, name="soon", expires_at=now + timedelta(days=6), last_used_at=now)
    far = ApiKeyFactory(project=unlocked_project, name="far", expires_at=now + timedelta(days=30), last_used_at=now)
    personal = ApiKeyFactory(
        project=None, owner=user, all_projects=True, expires_at=now + timedelta(hours=20), last_used_at=now
    )
    idle = ApiKeyFactory(project=unlocked_project, name="idle", last_used_at=now - timedelta(days=91))
    ApiKeyFactory(project=unlocked_project, name="gone", expires_at=now + timedelta(days=2), state=KeyState.REVOKED)
    ApiKeyFactory(project=unlocked_project, name="new", created_at=now - timedelta(days=10))  # never used, young

    assert run() == "Sent 1 reminder(s) at 7 days, 1 at 1 day, 1 about unused keys.\n"
    assert run() == "Sent 0 reminder(s) at 7 days, 0 at 1 day, 0 about unused keys.\n"
    assert len(mail.outbox) == 3
    by_subject = {m.subject: m for m in mail.outbox}
    seven = by_subject["[NBQ Keys Console] API key “soon” expires in 6 days"]
    assert sorted(seven.to) == sorted([user.email, admin.email])  # owners and admins, not the viewer
    assert soon.key_id in seven.body and soon.plaintext not in seven.body
    (one_day,) = [m for m in mail.outbox if "within a day" in m.subject]
    assert one_day.to == [user.email] and personal.key_id in one_day.body
    (unused,) = [m for m in mail.outbox if "90 days" in m.subject]
    assert idle.key_id in unused.body
    assert far.key_id not in "".join(m.body for m in mail.outbox)

    # A day later "soon" has a day left: its second reminder, once.
    later = now + timedelta(days=5, hours=1)
    sent = send_key_reminders(now=later)
    assert sent.expires_1d == [soon.key_id] and not sent.expires_7d
    assert send_key_reminders(now=later).total == 0
    events = KeyEvent.objects.filter(kind=EventKind.REMINDER_SENT)
    assert sorted(e.details["reminder"] for e in events if e.key_id == soon.key_id) == ["expires_1d", "expires_7d"]


def test_expires_soon_badge_with_the_date(owner_client, unlocked_project):
    now = timezone.now()
    ApiKeyFactory(project=unlocked_project, name="soon", expires_at=now + timedelta(days=3))
    ApiKeyFactory(project=unlocked_project, name="later", expires_at=now + timedelta(days=8))
    text = page_text(owner_client.get(reverse("project_keys:api_keys", args=[unlocked_project.slug])))
    day = (now + timedelta(days=3)).strftime("%-d %b %Y")
    assert f"Expires soon — {day}" in text
    assert text.count("Expires soon") == 1
