"""Operators oversee webhooks in the Django admin: every endpoint and every delivery with its
attempts, never a signing secret. Disabling an endpoint is one click (it only stops deliveries, like
revoking a key); enabling it again asks to Confirm access in a stale session; both are logged."""

import time

import pytest
from django.urls import reverse

from accounts.reauth import LOGGED_IN_AT
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ProjectFactory, UserFactory
from webhooks import signing
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint

pytestmark = pytest.mark.django_db

REAUTH = reverse("account_reauthenticate")


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def secret():
    return signing.new_secret()


@pytest.fixture
def endpoint(secret):
    return Endpoint.objects.create(
        project=ProjectFactory(),
        url="https://hooks.example.com/nbq",
        all_events=True,
        event_types=[],
        secret_encrypted=signing.encrypt(secret),
    )


def stale(client, minutes=16):
    session = client.session
    session[LOGGED_IN_AT] = time.time() - minutes * 60
    session.save()


def test_endpoints_and_deliveries_are_listed_with_attempts_and_never_a_secret(client, superuser, endpoint, secret):
    delivery = Delivery.objects.create(
        endpoint=endpoint, event_type="key.revoked", body='{"type": "key.revoked"}', status=DeliveryStatus.FAILED
    )
    Attempt.objects.create(delivery=delivery, number=1, status_code=502, response_excerpt="Bad gateway from the hook")
    client.force_login(superuser)
    pages = [
        client.get(reverse("admin:webhooks_endpoint_changelist")),
        client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])),
        client.get(reverse("admin:webhooks_delivery_changelist")),
        client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk])),
    ]
    assert [page.status_code for page in pages] == [200] * 4
    html = [page.content.decode() for page in pages]
    assert "https://hooks.example.com/nbq" in html[0] and delivery.pk in html[2]
    assert "Bad gateway from the hook" in html[3] and "502" in html[3]
    for page in html:
        assert secret not in page and endpoint.secret_encrypted not in page
    # a log, and endpoints are added in the console (where the secret is shown once)
    assert client.get(reverse("admin:webhooks_endpoint_add")).status_code == 403
    delete = reverse("admin:webhooks_delivery_delete", args=[delivery.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Delivery.objects.filter(pk=delivery.pk).exists()


def test_disabling_is_one_click_in_a_stale_session_enabling_asks_both_are_logged(client, superuser, endpoint):
    Delivery.objects.create(endpoint=endpoint, event_type="key.revoked", body="{}", status=DeliveryStatus.PENDING)
    client.force_login(superuser)
    stale(client, minutes=120)
    changelist = reverse("admin:webhooks_endpoint_changelist")

    response = client.post(changelist, {"action": "disable_selected", "_selected_action": [endpoint.pk]})
    assert response.status_code == 302 and not response.url.startswith(REAUTH)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "Disabled by an operator."
    assert not Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).exists()  # retries stop

    response = client.post(changelist, {"action": "enable_selected", "_selected_action": [endpoint.pk]})
    assert response.status_code == 302 and response.url.startswith(REAUTH)
    endpoint.refresh_from_db()
    assert not endpoint.enabled

    stale(client, minutes=0)  # confirmed
    client.post(changelist, {"action": "enable_selected", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.enabled
    events = KeyEvent.objects.filter(project=endpoint.project).order_by("pk")
    assert [(e.kind, e.actor_label.startswith("admin: ")) for e in events] == [
        (EventKind.WEBHOOK_DISABLED, True),
        (EventKind.WEBHOOK_ENABLED, True),
    ]


def test_deleting_an_endpoint_in_the_admin_goes_through_the_service(client, superuser, endpoint):
    client.force_login(superuser)
    response = client.post(reverse("admin:webhooks_endpoint_delete", args=[endpoint.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert KeyEvent.objects.filter(project=endpoint.project, kind=EventKind.WEBHOOK_DELETED).count() == 1


def test_staff_without_the_webhook_permissions_cannot_see_them(client, endpoint):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:webhooks_endpoint_changelist")).status_code == 403
    assert client.get(reverse("admin:webhooks_delivery_changelist")).status_code == 403
