"""Every new account gets a Sandbox: a project with 10 sample questions, made when the person's
email address is confirmed, and they land on its API Key tab with Generate ready."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from accounts.models import User
from projects.actors import Actor
from projects.gate import question_gate
from projects.models import KeyEvent, Project, Question
from projects.models.event import EventKind
from projects.sandbox import SAMPLE_QUESTIONS, sample_questions_delete, sandbox_create
from tests.factories import UserFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"


def _signup_and_confirm(client, mailoutbox, email="new.person@example.com"):
    client.post(reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD})
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mailoutbox[-1].body).group(1)
    return client.post(link)


def test_confirming_the_email_makes_a_sandbox_with_10_sample_questions(client, mailoutbox):
    _signup_and_confirm(client, mailoutbox)
    user = User.objects.get(email="new.person@example.com")
    sandbox = Project.objects.get(memberships__user=user)
    assert sandbox.name == "Sandbox" and sandbox.is_sandbox
    assert sandbox.memberships.get().role == "owner"
    questions = Question.objects.filter(project=sandbox)
    assert questions.count() == 10 and all(q.is_sample and q.is_active for q in questions)
    assert question_gate(sandbox).unlocked
    kinds = list(KeyEvent.objects.filter(project=sandbox).values_list("kind", flat=True))
    assert EventKind.PROJECT_CREATED in kinds and EventKind.QUESTIONS_BULK_ADDED in kinds


def test_opening_the_mail_link_confirms_and_lands_on_the_sandbox(client, mailoutbox):
    client.post(reverse("account_signup"), {"email": "new.person@example.com", "password1": PASSWORD})
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mailoutbox[-1].body).group(1)
    response = client.get(link)  # no second click
    sandbox = Project.objects.get(is_sandbox=True)
    assert response.status_code == 302
    assert response.url == reverse("project_keys:key_new", args=[sandbox.slug])


def test_an_explicit_next_wins_and_the_landing_is_forgotten(client, mailoutbox):
    from accounts.adapter import LANDING_SESSION_KEY

    projects = reverse("projects:list")
    client.post(
        reverse("account_signup"),
        {"email": "new.person@example.com", "password1": PASSWORD, "next": projects},
    )
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mailoutbox[-1].body).group(1)
    response = client.get(link)
    assert response.status_code == 302 and response.url == projects
    assert Project.objects.filter(is_sandbox=True).count() == 1  # the Sandbox is there all the same
    assert LANDING_SESSION_KEY not in client.session


def test_no_sandbox_before_the_address_is_confirmed(client, mailoutbox):
    client.post(
        reverse("account_signup"),
        {"email": "new.person@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert not Project.objects.exists()


def test_after_confirming_they_land_on_the_sandbox_generate_dialog_with_a_name(client, mailoutbox):
    response = _signup_and_confirm(client, mailoutbox)
    sandbox = Project.objects.get(is_sandbox=True)
    assert response.status_code == 302
    assert response.url == reverse("project_keys:key_new", args=[sandbox.slug])
    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'<dialog[^>]*aria-labelledby="generate-title"[^>]* open', html)
    assert re.search(r'name="name" value="Sandbox key"', html)
    assert "its keys are test keys" in page_text(page)
    # the landing happens once: the next login goes where logins go
    client.logout()
    again = client.post(reverse("account_login"), {"login": "new.person@example.com", "password": PASSWORD})
    assert again.status_code == 302 and again.url == reverse("projects:list")


def test_confirming_in_another_browser_lands_after_the_login(client, mailoutbox, django_user_model):
    from django.test import Client

    client.post(
        reverse("account_signup"),
        {"email": "new.person@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mailoutbox[-1].body).group(1)
    other = Client()
    other.post(link)  # confirmed, not logged in (another session)
    sandbox = Project.objects.get(is_sandbox=True)
    response = other.post(reverse("account_login"), {"login": "new.person@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("project_keys:key_new", args=[sandbox.slug])


def test_a_second_confirmed_address_makes_no_second_sandbox(user):
    sandbox_create(user=user)
    second = EmailAddress.objects.create(user=user, email="second@example.com", verified=True)
    from projects.sandbox import on_email_confirmed

    on_email_confirmed(request=None, email_address=second)
    assert Project.objects.filter(is_sandbox=True).count() == 1


def test_sandbox_create_is_idempotent(user):
    first = sandbox_create(user=user)
    assert sandbox_create(user=user) == first
    assert Question.objects.filter(project=first).count() == len(SAMPLE_QUESTIONS) == 10


def test_replace_the_sample_questions_deletes_them_in_one_logged_action(client):
    user = UserFactory()
    sandbox = sandbox_create(user=user)
    Question.objects.create(project=sandbox, text="My own question")
    client.force_login(user)
    page = client.get(reverse("projects:questions", args=[sandbox.slug]))
    assert "Replace the sample questions" in page_text(page)
    response = client.post(reverse("projects:sample_questions_delete", args=[sandbox.slug]))
    assert response.status_code == 302
    assert list(Question.objects.filter(project=sandbox).values_list("text", flat=True)) == ["My own question"]
    event = KeyEvent.objects.get(project=sandbox, kind=EventKind.SAMPLE_QUESTIONS_DELETED)
    assert event.details["count"] == 10
    page = client.get(reverse("projects:questions", args=[sandbox.slug]))
    assert "Replace the sample questions" not in page_text(page)


def test_replacing_samples_needs_the_right_to_manage(viewer_client, unlocked_project):
    # a viewer of a project (here a real one) cannot post it; a real project has no samples anyway
    response = viewer_client.post(reverse("projects:sample_questions_delete", args=[unlocked_project.slug]))
    assert response.status_code in (403, 404)


def test_sample_questions_delete_touches_only_samples(user, project):
    sandbox = sandbox_create(user=user)
    Question.objects.create(project=project, text="Real question")
    assert sample_questions_delete(project=sandbox, actor=Actor(user=user, label=user.email)) == 10
    assert Question.objects.filter(project=project).count() == 1
    assert sample_questions_delete(project=sandbox, actor=Actor(user=user, label=user.email)) == 0


def test_a_real_project_shows_no_sample_button(owner_client, unlocked_project):
    page = owner_client.get(reverse("projects:questions", args=[unlocked_project.slug]))
    assert "Replace the sample questions" not in page_text(page)
