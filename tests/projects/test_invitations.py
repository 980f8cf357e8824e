"""Invitations: the token is stored as a hash only, accepting needs the invited, confirmed address,
an API key invites viewers only, mails are limited and quote names harmlessly (findings 2, 3, 7),
and a newcomer finds their way (log in / sign up and back; pending invitations listed)."""

import json
import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keys.services import api_key_create
from projects.actors import Actor
from projects.invitations import neutralise
from projects.models import Invitation, Membership, Role
from tests.factories import ProjectFactory, UserFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^/\s]+(/projects/invitations/([A-Za-z0-9_-]{20,})/)")


@pytest.fixture
def invite(user, unlocked_project, mailoutbox):
    """The owner invites `email` from the console (own client); return (invitation, link path, token)."""
    owner_client = Client()
    owner_client.force_login(user)

    def _invite(email="newcomer@example.com", role="viewer"):
        response = owner_client.post(
            reverse("projects:members", args=[unlocked_project.slug]), {"email": email, "role": role}
        )
        assert response.status_code == 302, page_text(response)
        match = LINK.search(mailoutbox[-1].body)
        return Invitation.objects.get(project=unlocked_project, email=email), match.group(1), match.group(2)

    return _invite


def _api_key(project, permissions=("invite",), name="CI"):
    return api_key_create(project=project, name=name, permissions=list(permissions), actor=Actor.cli())


def _api_invite(client, plaintext, body):
    return client.post(
        "/api/v1/invitations",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {plaintext}"},
    )


# --- finding 2: the token is a secret; sign-up must prove the address ------------------------------


def test_invitation_token_is_not_stored(invite):
    invitation, link, token = invite()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM projects_invitation")
        rows = cursor.fetchall()
    assert token not in repr(rows)
    assert invitation.token_hash and invitation.token_hash != token
    assert not hasattr(invitation, "get_absolute_url")


def test_invitation_link_moves_the_token_out_of_the_url(client, invite):
    invitation, link, token = invite()
    response = client.get(link)
    assert response.status_code == 302
    assert token not in response.url
    page = client.get(response.url)
    assert page.status_code == 200
    assert token not in page.content.decode()
    assert token not in json.dumps(dict(client.session.items()), default=str)


def test_unknown_token_is_a_404(client):
    assert client.get(reverse("projects:invitation_open", args=["x" * 43])).status_code == 404
    assert client.get(reverse("projects:invitation")).status_code == 404


def test_signing_up_as_the_invitee_does_not_join_without_confirming(client, invite, mailoutbox):
    """Whoever holds the link signs up with the invited address: without the mailbox, no membership."""
    invitation, link, token = invite("victim@example.com")
    client.get(link)
    client.post(
        reverse("account_signup") + "?next=" + reverse("projects:invitation"),
        {"email": "victim@example.com", "password1": "a-long-unusual-pass-9"},
    )
    assert client.post(reverse("projects:invitation")).status_code == 302  # logged out: sent to log in
    assert not Membership.objects.filter(project=invitation.project, user__email="victim@example.com").exists()
    # Even logged in (e.g. an account made by an admin), an unconfirmed address cannot accept.
    squatter = UserFactory(email="other-victim@example.com", verified=False)
    inv2, link2, _ = invite("other-victim@example.com")
    client.force_login(squatter)
    client.get(link2)
    response = client.post(reverse("projects:invitation"))
    assert response.status_code == 410
    assert "Confirm your address" in page_text(response)
    assert not Membership.objects.filter(user=squatter).exists()


def test_confirmed_invitee_accepts(client, invite):
    invitation, link, token = invite("ok@example.com", role="admin")
    joiner = UserFactory(email="ok@example.com")
    client.force_login(joiner)
    client.get(link)
    assert client.post(reverse("projects:invitation")).status_code == 302
    assert Membership.objects.get(user=joiner, project=invitation.project).role == Role.ADMIN


# --- finding 3: an invite-only key makes viewers, never admins -----------------------------------


def test_api_key_cannot_invite_an_admin(client, unlocked_project, mailoutbox):
    key, plaintext = _api_key(unlocked_project)
    response = _api_invite(client, plaintext, {"email": "boss@example.com", "role": "admin"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_permission"
    assert not Invitation.objects.exists()
    assert mailoutbox == []
    response = _api_invite(client, plaintext, {"email": "reader@example.com", "role": "viewer"})
    assert response.status_code == 201
    assert Invitation.objects.get().role == Role.VIEWER


def test_the_rule_holds_in_the_service_too(unlocked_project):
    from projects.invitations import InvitationForbidden, invitation_create

    key, _ = _api_key(unlocked_project)
    with pytest.raises(InvitationForbidden):
        invitation_create(
            project=unlocked_project,
            email="x@example.com",
            role=Role.ADMIN,
            invited_via_key=key,
            accept_url=lambda token: token,
        )


# --- finding 7 (mail parts): limits and neutral wording -----------------------------------------


def test_invitation_mails_are_limited_per_inviter(owner_client, unlocked_project, settings, mailoutbox):
    settings.INVITATION_MAILS_PER_INVITER_PER_HOUR = 3
    url = reverse("projects:members", args=[unlocked_project.slug])
    statuses = [owner_client.post(url, {"email": f"p{i}@example.com", "role": "viewer"}).status_code for i in range(5)]
    assert statuses == [302, 302, 302, 422, 422]
    assert len(mailoutbox) == 3
    assert (
        "too many invitations"
        in page_text(owner_client.post(url, {"email": "z@example.com", "role": "viewer"})).lower()
    )


def test_invitation_mails_are_limited_per_project_across_inviters(client, unlocked_project, settings, mailoutbox):
    settings.INVITATION_MAILS_PER_PROJECT_PER_HOUR = 4
    keys = [_api_key(unlocked_project, name=f"CI {i}")[1] for i in range(3)]
    statuses = [_api_invite(client, keys[i % 3], {"email": f"q{i}@example.com"}).status_code for i in range(6)]
    assert statuses == [201, 201, 201, 201, 429, 429]
    response = _api_invite(client, keys[0], {"email": "late@example.com"})
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    assert len(mailoutbox) == 4


def test_names_in_the_mail_are_quoted_cut_and_not_links(client, user, mailoutbox):
    project = ProjectFactory(
        owner=user, active_questions=10, name="URGENT: reset password at http://evil.example/reset now " + "x" * 40
    )  # 97 of 100
    key, plaintext = api_key_create(
        project=project, name="Visit www.evil.example\nURGENT", permissions=["invite"], actor=Actor.cli()
    )
    assert _api_invite(client, plaintext, {"email": "target@example.com"}).status_code == 201
    message = mailoutbox[0]
    assert message.subject == "You are invited to a project on NBQ Keys Console"  # fixed wording
    body = message.body
    assert "http://evil" not in body and "evil.example" not in body and "www.evil" not in body
    urls = re.findall(r"https?://\S+", body)
    assert len(urls) == 1 and "/projects/invitations/" in urls[0]  # the only link is ours
    assert "“URGENT: reset password at http : // evil dot example/reset now x" in body
    assert "…”" in body  # cut
    assert "Visit www dot evil dot example URGENT" in body  # one line


def test_neutralise():
    assert neutralise("a.b") == "a dot b"  # no look-alike character (#32, finding 10)
    assert neutralise("line1\nline2\r\tend") == "line1 line2 end"
    assert neutralise("x" * 100, limit=10) == "x" * 9 + "…"


# --- newcomers (issue 12, item 5) --------------------------------------------------------------


def test_invitation_page_explains_and_offers_log_in_and_sign_up_keeping_the_way_back(client, invite):
    invitation, link, token = invite()
    page = client.get(client.get(link).url)
    text = page_text(page)
    assert invitation.project.name in text and "newcomer@example.com" in text and "Viewer" in text
    body = page.content.decode()
    here = reverse("projects:invitation")
    assert f'href="{reverse("account_login")}?next={here}"' in body
    assert f'href="{reverse("account_signup")}?email=newcomer%40example.com&amp;next={here}"' in body
    # and the Log in page's Sign up link keeps `next` too
    login_page = client.get(reverse("account_login") + "?next=" + here).content.decode()
    assert re.search(r'href="/accounts/signup/\?next=' + re.escape(here.replace("/", "%2F")), login_page)


def test_pending_invitations_are_listed_on_the_projects_page_and_can_be_accepted(client, invite):
    invitation, link, token = invite("listed@example.com")
    person = UserFactory(email="listed@example.com")
    client.force_login(person)
    text = page_text(client.get(reverse("projects:list")))
    assert "Pending invitations" in text and invitation.project.name in text
    response = client.post(reverse("projects:invitation_join", args=[invitation.pk]))
    assert response.status_code == 302
    assert Membership.objects.filter(user=person, project=invitation.project, role=Role.VIEWER).exists()
    assert "Pending invitations" not in page_text(client.get(reverse("projects:list")))


def test_someone_else_cannot_accept_a_listed_invitation(client, invite):
    invitation, _, _ = invite("mine@example.com")
    client.force_login(UserFactory(email="thief@example.com"))
    assert client.post(reverse("projects:invitation_join", args=[invitation.pk])).status_code == 404
    unconfirmed = UserFactory(email="mine@example.com", verified=False)
    client.force_login(unconfirmed)
    client.post(reverse("projects:invitation_join", args=[invitation.pk]))
    assert not Membership.objects.filter(user=unconfirmed).exists()
    assert not EmailAddress.objects.filter(user=unconfirmed, verified=True).exists()


def test_the_inviters_address_is_defanged_in_the_mail(mailoutbox):
    """An inviter's address can read as a link ("…www.evil-login.example/verify@…"): it is quoted
    like project names, with no dot a mail client would make a link of."""
    from projects.invitations import invitation_create

    inviter = UserFactory(email="security.notice.sign.in.at.www.evil-login.example/verify@mail.example")
    project = ProjectFactory(owner=inviter, name="Trivia")
    invitation_create(
        project=project,
        email="target@example.com",
        role=Role.VIEWER,
        invited_by=inviter,
        accept_url=lambda token: f"https://console.example/projects/invitations/{token}/",
    )
    body = mailoutbox[0].body
    assert "evil-login.example" not in body and "www.evil" not in body and "mail.example" not in body
    urls = re.findall(r"https?://\S+|www\.\S+|\S+\.example\S*", body)
    assert len(urls) == 1 and urls[0].startswith("https://console.example/projects/invitations/")
    defanged = "security.notice.sign.in.at.www.evil-login.example/verify@mail.example"
    assert defanged.replace(".", " dot ").replace("@", " at ") in body
    assert "\u2024" not in body


# --- issue 22: the invitation page says its state first; expired ones can be sent again -----------


def _expire(invitation):
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))


def test_open_invitation_signs_up_with_the_invited_address_filled_in(client, invite):
    invitation, link, token = invite("filled.in@example.com")
    page = client.get(client.get(link).url)
    main = page.content.decode().split("<main")[1]
    sign_up = re.search(r'href="([^"]*)"[^>]*>Sign up<', main)
    assert sign_up, page.content.decode()
    form = client.get(sign_up.group(1).replace("&amp;", "&")).content.decode()
    assert re.search(r'<input type="email" name="email"[^>]*value="filled.in@example.com"', form), form


def test_expired_invitation_opened_logged_out_says_expired_and_offers_no_sign_up(client, invite, user):
    invitation, link, token = invite("late@example.com")
    _expire(invitation)
    response = client.get(client.get(link).url)
    assert response.status_code == 410
    text = page_text(response)
    day = timezone.localtime(Invitation.objects.get(pk=invitation.pk).expires_at).strftime("%-d %b")
    assert f"Expired on {day} — ask {user.email} for a new one" in text
    assert text.index("expired") < text.index("Expired on")  # the heading says it first
    body = response.content.decode()
    assert reverse("account_signup") not in body.split("<main")[1]
    assert reverse("account_login") not in body.split("<main")[1]
    assert "Accept invitation" not in body


def test_used_invitation_offers_to_open_the_project(client, invite):
    invitation, link, token = invite("used@example.com")
    joiner = UserFactory(email="used@example.com")
    client.force_login(joiner)
    client.get(link)
    assert client.post(reverse("projects:invitation")).status_code == 302
    client.get(link)  # the same link again
    response = client.get(reverse("projects:invitation"))
    assert response.status_code == 410
    text = page_text(response)
    assert "already used" in text
    assert f"Open {invitation.project.name}" in text
    assert "Accept invitation" not in text


def test_admin_resends_an_expired_invitation_with_a_new_link(client, invite, user, unlocked_project, mailoutbox):
    invitation, old_link, old_token = invite("again@example.com")
    _expire(invitation)
    owner = Client()
    owner.force_login(user)
    members_page = owner.get(reverse("projects:members", args=[unlocked_project.slug])).content.decode()
    resend_url = reverse("projects:invitation_resend", args=[unlocked_project.slug, invitation.pk])
    assert resend_url in members_page
    response = owner.post(resend_url)
    assert response.status_code == 302
    assert "Invitation sent again to again@example.com." in page_text(owner.get(response.url))
    invitation.refresh_from_db()
    assert invitation.status == "pending"
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    new_link, new_token = LINK.search(mailoutbox[-1].body).groups()
    assert mailoutbox[-1].to == ["again@example.com"]
    assert new_token != old_token
    dead = client.get(old_link)  # the old link is dead, and says why (#32, finding 7)
    assert dead.status_code == 410 and "was replaced" in page_text(dead) and "Accept" not in page_text(dead)
    assert client.get(client.get(new_link).url).status_code == 200
    event = unlocked_project.events.order_by("-id").first()
    assert (event.kind, event.subject, event.details.get("resent")) == ("invitation_sent", "again@example.com", True)
    # An open invitation is not resent, and viewers cannot resend.
    assert owner.post(resend_url).status_code == 302
    assert "still open" in page_text(owner.get(reverse("projects:members", args=[unlocked_project.slug])))
    viewer = UserFactory()
    Membership.objects.create(project=unlocked_project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert client.post(resend_url).status_code == 403


def test_the_inviters_address_is_written_out_in_words(mailoutbox, db):
    """Issue #32, finding 10: no look-alike dot (it breaks copying and reads oddly aloud)."""
    from projects.invitations import invitation_create

    inviter = UserFactory(email="demo@nbq.example")
    project = ProjectFactory(owner=inviter, name="Trivia")
    invitation_create(
        project=project,
        email="target@example.com",
        role=Role.VIEWER,
        invited_by=inviter,
        accept_url=lambda token: f"https://console.example/projects/invitations/{token}/",
    )
    body = mailoutbox[0].body
    assert "demo at nbq dot example invited you" in body
    assert "\u2024" not in body and "demo@nbq.example" not in body
