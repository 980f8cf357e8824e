"""key.expiring from send_key_reminders (each once), payloads of member events, the pages' rules."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from projects.actors import Actor
from projects.membership import membership_change_role
from projects.models import KeyEvent, Membership, Role
from tests.factories import ApiKeyFactory, UserFactory
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(unlocked_project, allow_private):
    made, _ = endpoint_create(project=unlocked_project, url="http://127.0.0.1:9/hook", all_events=True, event_types=[])
    return made


def sent(event_type: str) -> list[dict]:
    return [json.loads(d.body) for d in Delivery.objects.filter(event_type=event_type).order_by("created_at")]


def test_send_key_reminders_twice_sends_each_key_expiring_once(
    endpoint, unlocked_project, user, django_capture_on_commit_callbacks
):
    now = timezone.now()
    in_20_days = ApiKeyFactory(project=unlocked_project, name="a", expires_at=now + timedelta(days=20))
    in_5_days = ApiKeyFactory(project=unlocked_project, name="b", expires_at=now + timedelta(days=5))
    in_10_hours = ApiKeyFactory(project=unlocked_project, name="c", expires_at=now + timedelta(hours=10))
    ApiKeyFactory(project=unlocked_project, name="d", expires_at=now + timedelta(days=45))  # not yet
    account = ApiKeyFactory(project=None, owner=user, all_projects=True, expires_at=now + timedelta(days=6))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_key_reminders", stdout=StringIO())
        call_command("send_key_reminders", stdout=StringIO())
    notices = {p["data"]["key"]["key_id"]: p["data"]["days"] for p in sent("key.expiring")}
    assert notices == {in_20_days.key_id: 30, in_5_days.key_id: 7, in_10_hours.key_id: 1, account.key_id: 7}
    assert len(sent("key.expiring")) == 4

    # Later, the same keys cross the next threshold: one more each, once.
    later = now + timedelta(days=4, hours=1)
    from keys.reminders import send_key_reminders

    with django_capture_on_commit_callbacks(execute=True):
        send_key_reminders(later)
        send_key_reminders(later)
    by_key: dict[str, list[int]] = {}
    for payload in sent("key.expiring"):
        by_key.setdefault(payload["data"]["key"]["key_id"], []).append(payload["data"]["days"])
    assert by_key[in_5_days.key_id] == [7, 1]
    assert by_key[in_20_days.key_id] == [30]
    assert by_key[in_10_hours.key_id] == [1]  # expired by then: nothing more


def test_member_events_become_webhooks_without_a_key_in_sight(endpoint, unlocked_project, user):
    member = UserFactory()
    membership = Membership.objects.create(project=unlocked_project, user=member, role=Role.VIEWER)
    membership_change_role(membership=membership, role=Role.ADMIN, actor=Actor(user=user, label=user.email))
    (payload,) = sent("member.role_changed")
    assert payload["data"] == {
        "project": unlocked_project.slug,
        "actor": user.email,
        "email": member.email,
        "old_role": "viewer",
        "role": "admin",
    }


def test_an_endpoint_gets_only_the_types_it_chose(unlocked_project, allow_private):
    endpoint_create(project=unlocked_project, url="http://127.0.0.1:9/a", all_events=False, event_types=["key.leaked"])
    call_command("revoke_api_key", ApiKeyFactory(project=unlocked_project).key_id, stdout=StringIO())
    assert not Delivery.objects.exists()


@pytest.mark.parametrize("name", ["endpoints", "endpoint_new"])
def test_viewers_are_refused_and_strangers_see_nothing(viewer_client, stranger_client, unlocked_project, name):
    url = reverse(f"webhooks:{name}", args=[unlocked_project.slug])
    assert viewer_client.get(url).status_code == 403
    assert stranger_client.get(url).status_code == 404


def test_admins_manage_and_every_action_works_without_javascript(
    admin_member_client, unlocked_project, endpoint, django_capture_on_commit_callbacks
):
    slug, pk = unlocked_project.slug, endpoint.pk
    detail = reverse("webhooks:endpoint_detail", args=[slug, pk])
    assert admin_member_client.get(detail).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_member_client.post(reverse("webhooks:endpoint_test", args=[slug, pk])).status_code == 302
    assert Delivery.objects.filter(event_type="webhook.test").count() == 1
    assert admin_member_client.post(reverse("webhooks:endpoint_disable", args=[slug, pk])).status_code == 302
    assert not Endpoint.objects.get(pk=pk).enabled
    assert admin_member_client.post(reverse("webhooks:endpoint_enable", args=[slug, pk])).status_code == 302
    assert Endpoint.objects.get(pk=pk).enabled
    rotate = reverse("webhooks:endpoint_rotate", args=[slug, pk])
    assert "Rotate secret" in admin_member_client.get(rotate).content.decode()
    rotated = admin_member_client.post(rotate)
    assert rotated.status_code == 200 and 'value="whsec_' in rotated.content.decode()
    assert Endpoint.objects.get(pk=pk).previous_secret_until is not None
    delete = reverse("webhooks:endpoint_delete", args=[slug, pk])
    assert admin_member_client.get(delete).status_code == 200
    assert admin_member_client.post(delete).status_code == 302
    assert not Endpoint.objects.filter(pk=pk).exists()
    # The project's event log says who pointed its events where, and every change after.
    lines = [e.sentence for e in KeyEvent.objects.filter(project=unlocked_project, kind__startswith="webhook_")]
    who = admin_member_client.user.email
    url = "http://127.0.0.1:9/hook"
    assert lines == [
        f"{who} deleted the webhook endpoint {url}",
        f"{who} rotated the signing secret of the webhook endpoint {url}",
        f"{who} enabled the webhook endpoint {url}",
        f"{who} disabled the webhook endpoint {url}",
        f"webhooks added the webhook endpoint {url}",  # the fixture made it without a person
    ]


def test_a_stale_session_is_asked_to_confirm_access(owner_client, unlocked_project):
    from accounts.reauth import LOGGED_IN_AT

    session = owner_client.session
    session[LOGGED_IN_AT] = 0
    for key in list(session.keys()):
        if "authenticated" in key or "reauth" in key:
            del session[key]
    session.save()
    response = owner_client.get(reverse("webhooks:endpoint_new", args=[unlocked_project.slug]))
    assert response.status_code == 302 and "reauthenticate" in response["Location"]


def test_the_settings_partial_lists_endpoints_for_managers_only(endpoint, unlocked_project, rf, user):
    from django.template.loader import render_to_string

    owner = Membership.objects.get(project=unlocked_project, user=user)
    html = render_to_string("webhooks/_settings_section.html", {"project": unlocked_project, "membership": owner})
    assert "http://127.0.0.1:9/hook" in html and "Add endpoint" in html and "Send test event" in html
    viewer = Membership(project=unlocked_project, user=UserFactory(), role=Role.VIEWER)
    html = render_to_string("webhooks/_settings_section.html", {"project": unlocked_project, "membership": viewer})
    assert "127.0.0.1" not in html and "Add endpoint" not in html


def test_with_htmx_rotate_answers_a_dialog_and_delete_a_client_redirect(
    admin_member_client, unlocked_project, endpoint
):
    hx = {"HTTP_HX_REQUEST": "true"}
    slug, pk = unlocked_project.slug, endpoint.pk
    dialog = admin_member_client.get(reverse("webhooks:endpoint_rotate", args=[slug, pk]), **hx)
    assert "<html" not in dialog.content.decode() and "Rotate secret" in dialog.content.decode()
    rotated = admin_member_client.post(reverse("webhooks:endpoint_rotate", args=[slug, pk]), **hx)
    html = rotated.content.decode()
    assert "<html" not in html and "<dialog" in html and 'value="whsec_' in html
    assert "no-store" in rotated["Cache-Control"] or "max-age=0" in rotated["Cache-Control"]
    deleted = admin_member_client.post(reverse("webhooks:endpoint_delete", args=[slug, pk]), **hx)
    assert deleted["HX-Redirect"].endswith("#webhooks")
    assert not Endpoint.objects.filter(pk=pk).exists()


def test_send_webhook_retries_sends_what_is_due_and_what_was_never_tried(unlocked_project, allow_private):
    from datetime import timedelta as td

    from webhooks.models import Attempt

    endpoint, _ = endpoint_create(
        project=unlocked_project, url="http://127.0.0.1:9/hook", all_events=True, event_types=[]
    )
    now = timezone.now()
    due = Delivery.objects.create(endpoint=endpoint, event_type="key.revoked", body="{}", attempts=1)
    Delivery.objects.filter(pk=due.pk).update(next_attempt_at=now - td(seconds=1))
    lost = Delivery.objects.create(endpoint=endpoint, event_type="key.created", body="{}")
    Delivery.objects.filter(pk=lost.pk).update(created_at=now - td(minutes=2))  # its task never ran
    Delivery.objects.create(endpoint=endpoint, event_type="key.created", body="{}")  # just queued: left alone
    later = Delivery.objects.create(endpoint=endpoint, event_type="key.revoked", body="{}", attempts=1)
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=now + td(minutes=5))
    out = StringIO()
    call_command("send_webhook_retries", stdout=out)
    assert out.getvalue() == "2 webhook retries sent.\n"
    tried = dict(Attempt.objects.values_list("delivery_id", "number"))
    assert tried == {due.pk: 2, lost.pk: 1}  # port 9 refuses: each failed and is scheduled again


def test_a_try_lost_with_its_worker_is_made_again_after_the_lease(unlocked_project, allow_private):
    from datetime import timedelta as td

    from webhooks import delivery as deliveries
    from webhooks.models import Attempt

    endpoint, _ = endpoint_create(
        project=unlocked_project, url="http://127.0.0.1:9/hook", all_events=True, event_types=[]
    )
    message = Delivery.objects.create(endpoint=endpoint, event_type="key.revoked", body="{}")
    assert deliveries._claim(message.pk, 1, manual=False) is not None  # the worker took try 1, then died
    assert deliveries._claim(message.pk, 1, manual=False) is None  # never twice
    assert deliveries.send_due(timezone.now() + td(minutes=5)) == 0  # still leased
    assert deliveries.send_due(timezone.now() + td(minutes=16)) == 1
    assert list(Attempt.objects.filter(delivery=message).values_list("number", flat=True)) == [2]


def test_prune_webhook_deliveries_keeps_30_days_and_anything_waiting_for_a_retry(unlocked_project, allow_private):
    from datetime import timedelta as td

    from webhooks.models import Attempt

    endpoint, _ = endpoint_create(
        project=unlocked_project, url="http://127.0.0.1:9/hook", all_events=True, event_types=[]
    )
    now = timezone.now()

    def message(age_days: int, **fields) -> Delivery:
        made = Delivery.objects.create(endpoint=endpoint, event_type="key.revoked", body="{}", **fields)
        Delivery.objects.filter(pk=made.pk).update(created_at=now - td(days=age_days))
        Attempt.objects.create(delivery=made, number=1)
        return made

    old = message(31, status="succeeded")
    recent = message(29, status="succeeded")
    waiting = message(31, status="pending", next_attempt_at=now + td(hours=1))
    out = StringIO()
    call_command("prune_webhook_deliveries", stdout=out)
    assert out.getvalue() == "1 webhook message deleted.\n"
    assert set(Delivery.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not Attempt.objects.filter(delivery_id=old.pk).exists()
