"""Issue 12, item 6: destructive one-click actions. Deleting or deactivating a question (which can
re-lock the keys, while the message only said "Question deleted.") and removing a member now ask
first: a dialog with htmx, a page of its own without JavaScript."""

import re

import pytest

from projects.models import Membership, Question, Role
from tests.factories import MembershipFactory, ProjectFactory, QuestionFactory, UserFactory
from tests.helpers import HX, page_text
from tests.urls import project_url

pytestmark = pytest.mark.django_db


def _url(name, project, *args):
    return project_url(name, args=[project.slug, *args])


def _posting_forms(body: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', body)


def test_question_delete_and_deactivate_are_not_one_click(owner_client, unlocked_project):
    body = owner_client.get(_url("questions", unlocked_project)).content.decode()
    actions = _posting_forms(body)
    assert not [a for a in actions if a.endswith("/delete/")]
    assert not [a for a in actions if a.endswith("/toggle/")]  # every question is active: no direct post
    question = unlocked_project.questions.first()
    assert f'href="{_url("question_delete", unlocked_project, question.pk)}?page=1"' in body
    assert f'hx-get="{_url("question_toggle", unlocked_project, question.pk)}?page=1"' in body


def test_member_removal_is_not_one_click(owner_client, unlocked_project):
    member = MembershipFactory(project=unlocked_project, role=Role.VIEWER)
    body = owner_client.get(_url("members", unlocked_project)).content.decode()
    assert not [a for a in _posting_forms(body) if "/remove/" in a]
    assert f'hx-get="{_url("member_remove", unlocked_project, member.pk)}"' in body


@pytest.mark.parametrize(
    "action, button", [("question_delete", "Delete question"), ("question_toggle", "Deactivate question")]
)
def test_question_confirmation_page_without_javascript(owner_client, unlocked_project, action, button):
    question = unlocked_project.questions.first()
    response = owner_client.get(_url(action, unlocked_project, question.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and "<dialog" in body and " open" in body
    assert f'<form method="post" action="{_url(action, unlocked_project, question.pk)}"' in body
    text = page_text(response)
    assert button in text and "Cancel" in text
    assert re.search(r'<a class="button" href="[^"]+" data-close-modal autofocus>Cancel</a>', body)
    assert Question.objects.filter(pk=question.pk, is_active=True).exists()  # asking changed nothing


@pytest.mark.parametrize("action", ["question_delete", "question_toggle"])
def test_question_confirmation_dialog_with_htmx(owner_client, unlocked_project, action):
    question = unlocked_project.questions.first()
    response = owner_client.get(_url(action, unlocked_project, question.pk), **HX)
    body = response.content.decode()
    assert body.lstrip().startswith("<dialog") and "<html" not in body
    assert '<dialog class="modal" data-modal' in body
    assert f'hx-post="{_url(action, unlocked_project, question.pk)}"' in body


@pytest.mark.parametrize("action", ["question_delete", "question_toggle"])
def test_confirmation_says_when_it_locks_api_keys(owner_client, unlocked_project, action):
    question = unlocked_project.questions.first()
    text = page_text(owner_client.get(_url(action, unlocked_project, question.pk)))
    assert "This locks API keys: 9 active questions (10 needed)." in text


@pytest.mark.parametrize("action", ["question_delete", "question_toggle"])
def test_confirmation_is_quiet_when_keys_stay_unlocked(owner_client, unlocked_project, action):
    QuestionFactory(project=unlocked_project)  # 11 active
    question = unlocked_project.questions.first()
    assert "locks API keys" not in page_text(owner_client.get(_url(action, unlocked_project, question.pk)))


def test_deleting_an_inactive_question_never_locks(owner_client, unlocked_project):
    question = QuestionFactory(project=unlocked_project, is_active=False)
    assert "locks API keys" not in page_text(owner_client.get(_url("question_delete", unlocked_project, question.pk)))


def test_message_after_deleting_says_the_keys_are_locked(owner_client, unlocked_project):
    question = unlocked_project.questions.first()
    response = owner_client.post(_url("question_delete", unlocked_project, question.pk), follow=True)
    text = page_text(response)
    assert "Question deleted. API keys are locked now: 9 active questions (10 needed)." in text


def test_confirmed_delete_with_htmx_swaps_the_panel(owner_client, unlocked_project):
    question = unlocked_project.questions.first()
    response = owner_client.post(_url("question_delete", unlocked_project, question.pk), {"page": "1"}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert '<div id="questions-panel" hx-swap-oob="true">' in body
    assert '<div id="flash" aria-live="polite" hx-swap-oob="true">' in body
    assert "9 active questions (10 needed)" in page_text(response)
    assert f'id="question-{question.pk}"' not in body
    assert not Question.objects.filter(pk=question.pk).exists()


def test_confirmed_deactivate_keeps_the_page(owner_client, user):
    project = ProjectFactory(owner=user)
    Question.objects.bulk_create(Question(project=project, text=f"Q{i}?") for i in range(120))
    question = Question.objects.filter(project=project).order_by("-priority", "id")[60]
    response = owner_client.post(_url("question_toggle", project, question.pk), {"page": "2"})
    assert response.status_code == 302 and response.url.endswith("?page=2")
    question.refresh_from_db()
    assert question.is_active is False


def test_activating_needs_no_confirmation(owner_client, unlocked_project):
    question = QuestionFactory(project=unlocked_project, is_active=False)
    assert owner_client.get(_url("question_toggle", unlocked_project, question.pk)).status_code == 302
    owner_client.post(_url("question_toggle", unlocked_project, question.pk))
    question.refresh_from_db()
    assert question.is_active


def test_member_removal_asks_first(owner_client, unlocked_project):
    bob = UserFactory(email="bob@example.com")
    member = MembershipFactory(project=unlocked_project, user=bob, role=Role.ADMIN)
    page = owner_client.get(_url("member_remove", unlocked_project, member.pk))
    text = page_text(page)
    assert f"Remove bob@example.com from {unlocked_project.name}?" in text
    assert "Remove member" in text and "Cancel" in text
    assert Membership.objects.filter(pk=member.pk).exists()
    dialog = owner_client.get(_url("member_remove", unlocked_project, member.pk), **HX).content.decode()
    assert "<html" not in dialog and "<dialog" in dialog
    response = owner_client.post(_url("member_remove", unlocked_project, member.pk), **HX)
    body = response.content.decode()
    assert '<div id="members-table" hx-swap-oob="true">' in body and "bob@example.com was removed" in body
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_owner_removal_is_refused_even_to_ask(admin_member_client, unlocked_project, user):
    owner = Membership.objects.get(project=unlocked_project, user=user)
    assert admin_member_client.get(_url("member_remove", unlocked_project, owner.pk)).status_code == 403


def test_viewer_cannot_open_confirmations(viewer_client, unlocked_project):
    question = unlocked_project.questions.first()
    assert viewer_client.get(_url("question_delete", unlocked_project, question.pk)).status_code == 403
    assert viewer_client.get(_url("question_toggle", unlocked_project, question.pk)).status_code == 403
