"""The 10-active-questions gate: one domain function, used by the tab, generate and rotate."""

import pytest

from keys.models import ApiKey
from keys.models.api_key import Status
from keys.services import api_key_create, api_key_rotate
from projects.actors import Actor
from projects.errors import ApiKeysLocked
from projects.gate import question_gate, require_api_keys_unlocked
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, ProjectFactory, QuestionFactory
from tests.helpers import HX, page_text
from tests.urls import project_url

pytestmark = pytest.mark.django_db

ACTOR = Actor(user=None, label="test")


@pytest.fixture
def make_project(user):
    def make(active: int, inactive: int = 0):
        project = ProjectFactory(owner=user, active_questions=active)
        QuestionFactory.create_batch(inactive, project=project, is_active=False)
        return project

    return make


def _url(name, project, *args):
    return project_url(name, args=[project.slug, *args])


# --- the domain function --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "unlocked", "missing"), [(0, False, 10), (9, False, 1), (10, True, 0), (11, True, 0)]
)
def test_question_gate(make_project, active, unlocked, missing):
    gate = question_gate(make_project(active, inactive=5))
    assert (gate.active, gate.required, gate.unlocked, gate.missing) == (active, 10, unlocked, missing)


def test_gate_counts_only_this_projects_active_questions(make_project):
    project = make_project(9, inactive=3)
    ProjectFactory(active_questions=10)
    assert not question_gate(project).unlocked
    question = project.questions.filter(is_active=False).first()
    question.is_active = True
    question.save()
    assert question_gate(project).unlocked


def test_require_unlocked_explains_what_is_missing(make_project):
    with pytest.raises(ApiKeysLocked) as err:
        require_api_keys_unlocked(make_project(7))
    assert err.value.message == ("API keys unlock at 10 active questions; this project has 7. Activate or add 3 more.")
    assert require_api_keys_unlocked(make_project(10)).unlocked


def test_gate_follows_the_setting(make_project, settings):
    settings.API_KEY_REQUIRED_ACTIVE_QUESTIONS = 3
    assert question_gate(make_project(3)).unlocked


# --- the API Key tab at 9 / 10 / 11 ---------------------------------------------------------


@pytest.mark.parametrize("active", [9, 10, 11])
def test_api_key_tab_at_the_threshold(owner_client, make_project, active):
    project = make_project(active, inactive=2)
    response = owner_client.get(_url("api_keys", project))
    assert response.status_code == 200
    text = page_text(response)
    if active < 10:
        assert "API keys are locked" in text
        assert f"Questions: {active} active (10 needed)." in text
        assert "API keys unlock at 10 active questions" in text
        assert "add or activate 1 more" in text
        assert "Generate a key" not in text
        assert _url("key_new", project) not in response.content.decode()
    else:
        assert "locked" not in text.lower()
        assert "Generate a key" in text
        assert f'href="{_url("key_new", project)}"' in response.content.decode()


@pytest.mark.parametrize("active", [9, 10, 11])
def test_generate_at_the_threshold(owner_client, make_project, active):
    project = make_project(active)
    response = owner_client.post(
        _url("key_new", project), {"name": "ci", "permissions": ["read"], "expiration": "90"}, **HX
    )
    if active < 10:
        assert response.status_code == 422
        assert "API keys unlock at 10 active questions; this project has 9." in page_text(response)
        assert not ApiKey.objects.exists()
        assert not KeyEvent.objects.exists()
    else:
        assert response.status_code == 200
        assert ApiKey.objects.filter(project=project, name="ci").count() == 1


def test_generate_dialog_when_locked_explains_instead_of_a_form(owner_client, make_project):
    project = make_project(9)
    response = owner_client.get(_url("key_new", project), **HX)
    text = page_text(response)
    assert "API keys unlock at 10 active questions; this project has 9." in text
    assert "<form" not in response.content.decode()


@pytest.mark.parametrize("active", [9, 10, 11])
def test_rotate_at_the_threshold(owner_client, make_project, active):
    project = make_project(active)
    key = ApiKeyFactory(project=project)
    response = owner_client.post(_url("key_rotate", project, key.key_id), {"grace": ""}, **HX)
    key.refresh_from_db()
    if active < 10:
        assert response.status_code == 422
        assert "API keys unlock at 10 active questions" in page_text(response)
        assert key.status == Status.ACTIVE and key.revoked_at is None and key.stops_at is None
        assert ApiKey.objects.count() == 1
    else:
        assert response.status_code == 200
        assert key.status == Status.REVOKED
        assert ApiKey.objects.filter(rotated_from=key).count() == 1


def test_rotate_refused_by_the_service_when_locked(make_project):
    project = make_project(10)
    key, _ = api_key_create(project=project, name="k", permissions=["read"], actor=ACTOR)
    project.questions.filter(pk=project.questions.first().pk).update(is_active=False)
    with pytest.raises(ApiKeysLocked):
        api_key_rotate(key=key, actor=ACTOR)
    key.refresh_from_db()
    assert key.status == Status.ACTIVE and key.revoked_at is None
    assert not ApiKey.objects.filter(rotated_from=key).exists()
    assert not KeyEvent.objects.filter(kind=EventKind.ROTATED).exists()


def test_create_refused_by_the_service_when_locked(make_project):
    with pytest.raises(ApiKeysLocked):
        api_key_create(project=make_project(9, inactive=4), name="k", permissions=["read"], actor=ACTOR)
    assert not ApiKey.objects.exists()


def test_locked_project_still_lists_keys_and_allows_revoke_and_delete(owner_client, make_project):
    project = make_project(9)
    keep = ApiKeyFactory(project=project, name="keeps working")
    revoke_me = ApiKeyFactory(project=project, name="to revoke")
    delete_me = ApiKeyFactory(project=project, name="to delete")

    text = page_text(owner_client.get(_url("api_keys", project)))
    assert "API keys are locked" in text
    assert "Existing keys keep working. You can still revoke or delete them." in text
    for key in (keep, revoke_me, delete_me):
        assert key.name in text and key.key_id in text
    assert "Rotate" not in text
    assert "Revoke" in text and "Delete" in text

    assert owner_client.post(_url("key_revoke", project, revoke_me.key_id), **HX).status_code == 200
    revoke_me.refresh_from_db()
    assert revoke_me.status == Status.REVOKED
    assert owner_client.post(_url("key_delete", project, delete_me.key_id), **HX).status_code == 200
    assert not ApiKey.objects.filter(pk=delete_me.pk).exists()
    keep.refresh_from_db()
    assert keep.status == Status.ACTIVE


def test_dropping_below_ten_questions_keeps_existing_keys_active(owner_client, make_project):
    project = make_project(10)
    key, _ = api_key_create(project=project, name="k", permissions=["read"], actor=ACTOR)
    question = project.questions.first()
    owner_client.post(_url("question_toggle", project, question.pk))
    assert not question_gate(project).unlocked
    key.refresh_from_db()
    assert key.status == Status.ACTIVE
    assert ApiKey.objects.usable().filter(pk=key.pk).exists()
