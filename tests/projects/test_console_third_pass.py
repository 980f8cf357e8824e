"""Issue #32 at the view and template level: event log filters (finding 9), the key details'
events say what changed, a new project is confirmed, and allauth's mails speak as the console
(finding 10)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from keys.services import api_key_create, api_key_update
from projects.actors import Actor
from projects.models import KeyEvent, Project
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory
from tests.helpers import HX, page_text

pytestmark = pytest.mark.django_db


def _events(client, project, **params):
    return client.get(reverse("projects:events", args=[project.slug]), params)


def _kinds(response):
    return re.findall(r'class="kind kind-([a-z_]+)"', response.content.decode())


def test_actor_filter_matches_part_of_the_actor_in_any_case(owner_client, unlocked_project, user):
    api_key_create(project=unlocked_project, name="by cli", permissions=["read"], actor=Actor.cli())
    api_key_create(
        project=unlocked_project, name="by owner", permissions=["read"], actor=Actor(user=user, label=user.email)
    )
    by_cli = page_text(_events(owner_client, unlocked_project, actor="CLI"))
    assert "“by cli”" in by_cli and "“by owner”" not in by_cli
    local_part = user.email.split("@")[0].upper()
    by_owner = page_text(_events(owner_client, unlocked_project, actor=local_part))
    assert "“by owner”" in by_owner and "“by cli”" not in by_owner


def test_a_start_date_after_the_end_date_ignores_both(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="old one")
    KeyEvent.objects.create(
        project=unlocked_project,
        key_id=key.key_id,
        key_name=key.name,
        kind=EventKind.CREATED,
        actor_label="cli",
        created_at=timezone.now() - timedelta(days=30),
    )
    today = timezone.now().date()
    response = _events(owner_client, unlocked_project, since=str(today), until=str(today - timedelta(days=60)))
    text = page_text(response)
    assert "The end date comes before the start date: both dates (filter ignored)" in text
    assert "“old one”" in text  # the start date was not applied either


def test_key_details_say_what_each_change_changed(owner_client, unlocked_project, user):
    actor = Actor(user=user, label=user.email)
    key, _ = api_key_create(project=unlocked_project, name="changing", permissions=["read"], actor=actor)
    api_key_update(key=key, actor=actor, name="changed", permissions=["read"], rate_limit_per_minute=None)
    api_key_update(key=key, actor=actor, name="changed", permissions=["read", "write"], rate_limit_per_minute=None)
    details = owner_client.get(reverse("project_keys:key_detail", args=[unlocked_project.slug, key.key_id]), **HX)
    text = page_text(details)
    assert "Key changed — " in text
    assert "name: “changing” → “changed”" in text
    assert "permissions: read → read, write" in text


def test_creating_a_project_says_so(owner_client):
    response = owner_client.post(reverse("projects:list"), {"name": "Quiz night"}, follow=True)
    assert Project.objects.filter(name="Quiz night").exists()
    assert "Project “Quiz night” was created." in page_text(response)


def test_the_confirmation_mail_speaks_as_the_console(client, mailoutbox):
    client.post(reverse("account_signup"), {"email": "new.person@example.com", "password1": "a-long-unusual-pass-42"})
    (message,) = mailoutbox
    assert message.subject.endswith("Confirm your email address for NBQ Keys Console")
    assert "Hello from" not in message.body and "Thank you for using" not in message.body
    assert "example.com!" not in message.body and "testserver" not in message.body.split("http")[0]
    assert "NBQ Keys Console" in message.body
    assert re.search(r"https?://\S+/accounts/confirm-email/\S+", message.body)


def test_personal_keys_have_one_name_and_the_account_area_one_tab_bar(owner_client, unlocked_project):
    """Finding 6: "Personal keys" (top bar), "API keys" (heading and tab), "account key" (text), and
    two tab bars in the Account area."""
    page = owner_client.get(reverse("account_keys:api_keys"))
    body = page.content.decode()
    assert "<h1>Personal API keys</h1>" in body
    main = body.split('id="content"')[1]
    assert main.count('class="tabs') == 1
    assert re.search(r'aria-current="page">Personal keys</a>', main)
    assert "account key" not in page_text(page).lower()
    for name in ("account", "account_email", "mfa_index"):
        settings_page = owner_client.get(reverse(name)).content.decode()
        tabs = re.findall(r'<nav class="tabs[^"]*"', settings_page)
        assert len(tabs) == 1, name
        assert ">Personal keys</a>" in settings_page.split('id="content"')[1]
    log = owner_client.get(reverse("account_keys:security_log")).content.decode()
    assert 'aria-current="page">Security log</a>' in log and log.count('class="tabs') == 1
    project_page = owner_client.get(reverse("project_keys:api_keys", args=[unlocked_project.slug])).content.decode()
    assert '<h2 id="keys-heading" class="sr-only">API Key</h2>' in project_page
    assert 'aria-current="page">API Key</a>' in project_page


# --- finding 5: the Members tab's invitations -------------------------------------------------------


def _invite(client, project, email):
    return client.post(reverse("projects:members", args=[project.slug]), {"email": email, "role": "viewer"})


def test_inviting_and_cancelling_lead_back_to_the_invitations_and_cancel_asks_first(
    owner_client, unlocked_project, mailoutbox
):
    from projects.models import Invitation

    sent = _invite(owner_client, unlocked_project, "one@example.com")
    assert sent.status_code == 302 and sent.url.endswith("/members/#invitations-heading")
    _invite(owner_client, unlocked_project, "two@example.com")
    page = owner_client.get(reverse("projects:members", args=[unlocked_project.slug]))
    body = page.content.decode()
    assert '<h2 id="invitations-heading" tabindex="-1">Invitations</h2>' in body
    # Each Cancel is named by its invitation, and is a link to a question, not a one-click post.
    text = page_text(page)
    assert "Cancel invitation to one@example.com" in text and "Cancel invitation to two@example.com" in text
    assert not re.search(r"<button[^>]*>Cancel</button>", body)
    invitation = Invitation.objects.get(email="one@example.com")
    url = reverse("projects:invitation_cancel", args=[unlocked_project.slug, invitation.pk])
    question = owner_client.get(url, **HX)
    assert "Cancel the invitation to one@example.com?" in page_text(question)
    assert "Cancel invitation" in page_text(question)
    invitation.refresh_from_db()
    assert invitation.status == "pending"  # asking changed nothing
    done = owner_client.post(url, **HX)
    swapped = done.content.decode()
    assert 'id="invitations-table" hx-swap-oob="true"' in swapped
    assert "one@example.com" not in swapped.split('id="flash"')[0] and "two@example.com" in swapped
    assert (
        not Invitation.objects.filter(pk=invitation.pk).exists()
        or Invitation.objects.get(pk=invitation.pk).status != "pending"
    )
    plain = Invitation.objects.get(email="two@example.com")
    gone = owner_client.post(reverse("projects:invitation_cancel", args=[unlocked_project.slug, plain.pk]))
    assert gone.status_code == 302 and gone.url.endswith("#invitations-heading")


def test_an_invitation_with_an_error_is_shown_with_the_field_marked(owner_client, unlocked_project):
    response = _invite(owner_client, unlocked_project, "not an address")
    assert response.status_code == 422
    assert re.search(r'<div class="field has-error">\s*<label for="id_email"', response.content.decode())


# --- finding 7: a used invitation link tells a stranger nothing ---------------------------------------


def test_a_used_link_opened_logged_out_does_not_show_the_joiners_address(owner_client, unlocked_project, mailoutbox):
    from projects.invitations import invitation_accept
    from projects.models import Invitation
    from tests.factories import UserFactory

    _invite(owner_client, unlocked_project, "joiner@example.com")
    link = re.search(r"https?://[^/\s]+(/projects/invitations/\S+/)", mailoutbox[-1].body).group(1)
    invitation = Invitation.objects.get(email="joiner@example.com")
    invitation_accept(invitation=invitation, user=UserFactory(email="joiner@example.com"), actor=Actor.cli())
    from django.test import Client

    stranger = Client()  # logged out (`client` is the owner's: owner_client logs it in)
    stranger.get(link)
    response = stranger.get(reverse("projects:invitation"))
    assert response.status_code == 410
    text = page_text(response)
    assert "already used" in text and "The invited person joined" in text
    assert "joiner@example.com" not in response.content.decode()


def test_a_link_replaced_by_resend_says_so_and_whom_to_ask(owner_client, unlocked_project, user, mailoutbox):
    from django.test import Client

    from projects.models import Invitation

    _invite(owner_client, unlocked_project, "again@example.com")
    old_link = re.search(r"https?://[^/\s]+(/projects/invitations/\S+/)", mailoutbox[-1].body).group(1)
    invitation = Invitation.objects.get(email="again@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    owner_client.post(reverse("projects:invitation_resend", args=[unlocked_project.slug, invitation.pk]))
    assert len(mailoutbox) == 2
    response = Client().get(old_link)
    assert response.status_code == 410
    text = page_text(response)
    assert "This invitation link was replaced" in text
    assert f"ask {user.email} to send it again" in text
    assert "again@example.com" not in response.content.decode()  # the invitee's address is not shown
    assert Client().get("/projects/invitations/" + "x" * 43 + "/").status_code == 404  # unknown: as before
