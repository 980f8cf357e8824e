"""The console's **Report a leaked key** page (linked from every page's footer): a plain form post,
no account needed, the same handling as POST /api/v1/leaked-keys."""

import pytest
from django.core import mail
from django.test import Client

from keys import keygen
from keys.models.api_key import KeyState
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db

PAGE = "/report-leak/"


def test_footer_links_to_the_page(owner_client):
    response = owner_client.get("/projects/")
    assert 'href="/report-leak/"' in response.content.decode()
    assert "Report a leaked key" in page_text(response)


def test_anyone_reports_without_an_account_and_the_live_key_stops(
    unlocked_project, user, django_capture_on_commit_callbacks
):
    key = ApiKeyFactory(project=unlocked_project)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(PAGE)
    assert page.status_code == 200 and "Report a leaked key" in page_text(page)
    token = page.cookies["csrftoken"].value
    lines = f"{key.plaintext}\n\n{keygen.generate_key()}\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(PAGE, {"keys": lines, "url": "https://gist.example/x", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "We received 2 keys" in page_text(response)
    assert key.plaintext not in response.content.decode()  # the form is emptied, the key not echoed
    key.refresh_from_db()
    assert key.state == KeyState.REVOKED
    event = KeyEvent.objects.get(kind=EventKind.LEAKED)
    assert event.details["found_at"] == "https://gist.example/x"
    assert mail.outbox and mail.outbox[0].to == [user.email]


def test_made_up_keys_get_the_same_thanks(client, unlocked_project):
    response = client.post(PAGE, {"keys": keygen.generate_key() + "\n" + keygen.generate_key()})
    assert response.status_code == 200 and "We received 2 keys" in page_text(response)
    assert not KeyEvent.objects.exists()


@pytest.mark.parametrize("keys,message", [("  \n ", "Paste at least one key."), ("k\n" * 101, "At most 100 keys")])
def test_bad_input_is_a_form_error(client, keys, message):
    response = client.post(PAGE, {"keys": keys})
    assert response.status_code == 400 and message in page_text(response)


def test_shares_the_per_address_budget_with_the_api(client, settings):
    settings.LEAK_REPORTS_PER_MINUTE = 1
    body = {"keys": [keygen.generate_key()]}
    assert client.post("/api/v1/leaked-keys", body, content_type="application/json").status_code == 202
    response = client.post(PAGE, {"keys": keygen.generate_key()})
    assert response.status_code == 429 and "Too many reports" in page_text(response)


def test_keys_are_never_echoed_nor_kept_in_the_place(client, unlocked_project, settings):
    key = ApiKeyFactory(project=unlocked_project)
    refused = client.post(PAGE, {"keys": key.plaintext + "\n" + "k\n" * 100})
    assert refused.status_code == 400 and key.plaintext not in refused.content.decode()
    client.post(PAGE, {"keys": key.plaintext, "url": f"https://paste.example/?k={key.plaintext}"})
    event = KeyEvent.objects.get(kind=EventKind.LEAKED)
    assert key.plaintext not in str(event.details)
    assert event.details["found_at"] == f"https://paste.example/?k=nbq_live_…{key.plaintext[-4:]}"
