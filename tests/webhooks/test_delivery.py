"""Webhooks end to end: a real receiver on loopback, keys revoked through three doors, every
delivery verified with the `standardwebhooks` package (what a receiver runs), retries keep their
`webhook-id`, and the Deliveries list shows each try."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from keys.models.api_key import KeyState
from keys.services import api_key_create, api_key_rotate
from projects.actors import Actor
from projects.models import KeyEvent, Membership, Role
from tests.factories import ApiKeyFactory, UserFactory
from tests.helpers import page_text
from webhooks import delivery as deliveries
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint
from webhooks.services import endpoint_create, endpoint_rotate_secret

pytestmark = pytest.mark.django_db(transaction=True)


def add_endpoint(project, url, **kwargs):
    kwargs.setdefault("all_events", True)
    kwargs.setdefault("event_types", [])
    return endpoint_create(project=project, url=url, **kwargs)


def verify(secret: str, request: dict) -> dict:
    """The receiver's check: standardwebhooks' own verifier (raises on a bad signature)."""
    return Webhook(secret).verify(request["body"], request["headers"])


def test_three_doors_three_verified_key_revoked_with_their_reason(
    allow_private, receiver, unlocked_project, owner_client, client
):
    endpoint, secret = add_endpoint(unlocked_project, receiver.url, all_events=False, event_types=["key.revoked"])
    console_key, cli_key, leaked_key = (ApiKeyFactory(project=unlocked_project, name=n) for n in ("a", "b", "c"))

    response = owner_client.post(reverse("project_keys:key_revoke", args=[unlocked_project.slug, console_key.key_id]))
    assert response.status_code in (200, 302)
    call_command("revoke_api_key", cli_key.key_id, stdout=StringIO())
    report = client.post(
        "/api/v1/leaked-keys",
        {"keys": [leaked_key.plaintext], "url": "https://pastebin.example/raw/abc"},
        content_type="application/json",
    )
    assert report.status_code == 202

    receiver.wait_for(3)
    assert len(receiver.received) == 3
    reasons = {}
    for request in receiver.received:
        payload = verify(secret, request)
        assert payload["type"] == "key.revoked"
        assert payload["data"]["project"] == unlocked_project.slug
        assert payload["data"]["key"]["status"] == "revoked"
        reasons[payload["data"]["key"]["key_id"]] = payload["data"]["reason"]
    assert reasons == {console_key.key_id: "manual", cli_key.key_id: "cli", leaked_key.key_id: "leaked"}
    for key in (console_key, cli_key, leaked_key):  # never the key, its hash or its last characters
        for request in receiver.received:
            assert key.plaintext not in request["body"] and key.key_hash not in request["body"]
            assert key.plaintext not in json.dumps(request["headers"])
    endpoint.refresh_from_db()
    assert secret not in endpoint.secret_encrypted  # stored encrypted


def test_after_a_rotation_both_secrets_verify_for_24_hours(allow_private, receiver, unlocked_project):
    endpoint, old_secret = add_endpoint(unlocked_project, receiver.url)
    new_secret = endpoint_rotate_secret(endpoint=endpoint)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    key = ApiKeyFactory(project=unlocked_project)
    call_command("revoke_api_key", key.key_id, stdout=StringIO())
    receiver.wait_for(1)
    (request,) = receiver.received
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert verify(new_secret, request)["data"]["reason"] == "cli"
    assert verify(old_secret, request)["type"] == "key.revoked"
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "A" * 43 + "=", request)

    # A day later the old secret no longer signs.
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    other = ApiKeyFactory(project=unlocked_project)
    call_command("revoke_api_key", other.key_id, stdout=StringIO())
    receiver.wait_for(2)
    later = receiver.received[1]
    assert len(later["headers"]["webhook-signature"].split(" ")) == 1
    verify(new_secret, later)
    with pytest.raises(WebhookVerificationError):
        verify(old_secret, later)


def test_500_then_200_same_webhook_id_twice_and_the_deliveries_list_shows_both(
    allow_private, receiver, unlocked_project, owner_client
):
    endpoint, secret = add_endpoint(unlocked_project, receiver.url)
    receiver.statuses = [500]
    key = ApiKeyFactory(project=unlocked_project, name="deploy")
    call_command("revoke_api_key", key.key_id, stdout=StringIO())
    receiver.wait_for(1)
    message = Delivery.objects.get(endpoint=endpoint)
    assert message.status == DeliveryStatus.PENDING and message.attempts == 1
    # The Standard Webhooks schedule: the second try 5 s later.
    assert 4 <= (message.next_attempt_at - timezone.now()).total_seconds() <= 6
    assert deliveries.send_due() == 0  # not due yet
    assert deliveries.send_due(timezone.now() + timedelta(seconds=6)) == 1
    receiver.wait_for(2)

    first, second = receiver.received
    assert first["status"] == 500 and second["status"] == 200
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == message.id
    verify(secret, first), verify(secret, second)
    message.refresh_from_db()
    assert message.status == DeliveryStatus.SUCCEEDED and message.attempts == 2
    tries = list(Attempt.objects.filter(delivery=message).order_by("number"))
    assert [(t.number, t.status_code, t.succeeded) for t in tries] == [(1, 500, False), (2, 200, True)]
    assert len(tries[0].response_excerpt) <= 500  # the receiver answered 2000 bytes: truncated

    page = owner_client.get(reverse("webhooks:endpoint_detail", args=[unlocked_project.slug, endpoint.pk]))
    text = page_text(page)
    assert page.status_code == 200
    assert page.content.decode().count(f'data-webhook-id="{message.id}"') == 2
    assert "500" in text and "200" in text and "key.revoked" in text

    # Resend: a third try of the same message, same id.
    resend = owner_client.post(
        reverse("webhooks:delivery_resend", args=[unlocked_project.slug, endpoint.pk, message.id])
    )
    assert resend.status_code == 302
    receiver.wait_for(3)
    assert receiver.received[2]["headers"]["webhook-id"] == message.id
    assert Attempt.objects.filter(delivery=message, number=3, manual=True, succeeded=True).exists()


def test_the_schedule_and_a_failing_endpoint_is_disabled_after_5_days_and_its_managers_mailed(
    allow_private, receiver, unlocked_project, user
):
    assert [deliveries.retry_delay(n) for n in range(1, 9)] == [5, 300, 1800, 7200, 18000, 36000, 36000, None]
    admin = UserFactory()
    Membership.objects.create(project=unlocked_project, user=admin, role=Role.ADMIN)
    endpoint, _ = add_endpoint(unlocked_project, receiver.url)
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=5, minutes=1))
    receiver.statuses = [503]
    mail.outbox.clear()
    call_command("revoke_api_key", ApiKeyFactory(project=unlocked_project).key_id, stdout=StringIO())
    receiver.wait_for(1)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "5 days" in endpoint.disabled_reason
    assert KeyEvent.objects.get(project=unlocked_project, kind="webhook_disabled").actor_label == "webhooks"
    assert Delivery.objects.get(endpoint=endpoint).status == DeliveryStatus.FAILED
    (message,) = [m for m in mail.outbox if "Webhook endpoint disabled" in m.subject]
    assert sorted(message.to) == sorted([user.email, admin.email])
    # Disabled: nothing more is sent.
    call_command("revoke_api_key", ApiKeyFactory(project=unlocked_project).key_id, stdout=StringIO())
    assert len(receiver.received) == 1


def test_a_success_clears_the_failing_clock(allow_private, receiver, unlocked_project):
    endpoint, _ = add_endpoint(unlocked_project, receiver.url)
    receiver.statuses = [500]
    call_command("revoke_api_key", ApiKeyFactory(project=unlocked_project).key_id, stdout=StringIO())
    receiver.wait_for(1)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    call_command("revoke_api_key", ApiKeyFactory(project=unlocked_project).key_id, stdout=StringIO())
    receiver.wait_for(2)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_lifecycle_types_and_an_account_key_reaches_every_project_of_its_scope(
    allow_private, receiver, unlocked_project, user
):
    from tests.factories import ProjectFactory

    other = ProjectFactory(owner=user, active_questions=10)
    elsewhere = ProjectFactory(active_questions=10)  # not the holder's: the key does not reach it
    here, _ = add_endpoint(unlocked_project, receiver.url + "?p=1")
    there, _ = add_endpoint(other, receiver.url + "?p=2")
    add_endpoint(elsewhere, receiver.url + "?p=3")
    actor = Actor(user=user, label=user.email)
    key, plaintext = api_key_create(owner=user, all_projects=True, name="laptop", permissions=["read"], actor=actor)
    receiver.wait_for(2)
    created = receiver.payloads("key.created")
    assert sorted(p["data"]["project"] for p in created) == sorted([unlocked_project.slug, other.slug])
    assert all(p["data"]["key"]["kind"] == "account" and p["data"]["actor"] == user.email for p in created)
    assert all(plaintext not in r["body"] for r in receiver.received)

    project_key, _ = api_key_create(project=unlocked_project, name="ci", permissions=["read"], actor=actor)
    api_key_rotate(key=project_key, actor=actor, grace="1h")
    receiver.wait_for(5)
    rotated = receiver.payloads("key.rotated")
    assert len(rotated) == 1 and rotated[0]["data"]["key"]["key_id"] == project_key.key_id
    assert rotated[0]["data"]["new_key_id"] and rotated[0]["data"]["old_key_stops_at"]
    project_key.refresh_from_db()
    assert project_key.state != KeyState.REVOKED
    assert {"type", "timestamp", "data"} == set(rotated[0])


def test_an_endpoint_deleted_during_a_try_ends_the_try_quietly(allow_private, unlocked_project, monkeypatch, caplog):
    from webhooks import guard

    endpoint, _ = add_endpoint(unlocked_project, "http://127.0.0.1:9/hook")

    def post_while_deleting(url, body, headers, **kwargs):
        Endpoint.objects.filter(pk=endpoint.pk).delete()
        return guard.Response(200, "ok", "", 3)

    monkeypatch.setattr(guard, "post", post_while_deleting)
    call_command("revoke_api_key", ApiKeyFactory(project=unlocked_project).key_id, stdout=StringIO())
    assert not Endpoint.objects.exists() and not Attempt.objects.exists()
    assert not [r for r in caplog.records if "state=FAILED" in r.getMessage()]  # the task ended well
