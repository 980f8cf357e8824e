"""Issue 12, item 7: reaching 10 questions was tedious — 10 separate posts, the form below the fold,
no bulk add, no link to the API Key tab on unlocking. And issue 14: the tab stays flat at 5,000."""

import re

import pytest
from django.urls import reverse

from projects.actors import Actor
from projects.models import KeyEvent, Question
from projects.models.event import EventKind
from projects.models.question import QUESTION_TEXT_MAX
from projects.questions import BulkAddRejected, questions_bulk_create
from tests.factories import ProjectFactory, QuestionFactory
from tests.helpers import HX, page_text
from tests.urls import project_url

pytestmark = pytest.mark.django_db


def _url(name, project, *args):
    return project_url(name, args=[project.slug, *args])


def _bulk(client, project, text):
    return client.post(_url("questions_bulk", project), {"questions": text})


def test_bulk_add_form_has_the_contract_names(owner_client, project):
    response = owner_client.get(_url("questions", project))
    body = response.content.decode()
    assert re.search(r'<label for="id_questions">Questions \(one per line\):?</label>', body)
    assert re.search(r"<textarea[^>]*name=\"questions\"", body)
    assert '<button type="submit" class="primary">Add questions</button>' in body


def test_add_forms_sit_above_the_question_list(owner_client, project):
    QuestionFactory.create_batch(3, project=project)
    body = owner_client.get(_url("questions", project)).content.decode()
    table = body.index('<table class="table questions"')
    assert body.index("Add a question") < body.index("Add questions in bulk") < table


def test_viewer_has_no_add_forms_and_cannot_bulk_add(viewer_client, unlocked_project):
    assert "Add questions" not in page_text(viewer_client.get(_url("questions", unlocked_project)))
    assert _bulk(viewer_client, unlocked_project, "Sneaky?").status_code == 403
    assert not Question.objects.filter(text="Sneaky?").exists()


def test_bulk_add_adds_one_question_per_line_in_order(owner_client, project):
    response = _bulk(owner_client, project, "\n  First?  \n\nSecond?\r\nThird?\n\n")
    assert response.status_code == 302
    assert list(
        Question.objects.filter(project=project).order_by("-priority", "id").values_list("text", "is_active")
    ) == [("First?", True), ("Second?", True), ("Third?", True)]
    assert KeyEvent.objects.get(project=project).kind == EventKind.QUESTIONS_BULK_ADDED
    assert "3 questions added." in page_text(owner_client.get(response.url))


def test_bulk_add_errors_name_each_line_and_add_nothing(owner_client, project):
    QuestionFactory(project=project, text="Already here?")
    long_line = "x" * (QUESTION_TEXT_MAX + 1)
    text = f"Good one?\n\nAlready here?\n{long_line}\nGood one?\nBad \x00 byte?\nFine too?"
    response = _bulk(owner_client, project, text)
    assert response.status_code == 422
    page = page_text(response)
    assert "Nothing was added: 4 lines need fixing" in page
    assert "Line 3: this question is already in the project." in page
    assert (
        f"Line 4: keep each question to {QUESTION_TEXT_MAX:,} characters (this line has {QUESTION_TEXT_MAX + 1:,})."
    ) in page
    assert "Line 5: repeats line 1." in page
    assert "Line 6: contains a NUL character" in page
    assert "Line 1" not in page and "Line 7" not in page
    assert Question.objects.filter(project=project).count() == 1
    # nothing lost: the text comes back as typed (the NUL aside, which HTML cannot carry)
    body = response.content.decode()
    assert "Good one?\n\nAlready here?\n" + long_line + "\nGood one?" in body and "Fine too?" in body


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Write at least one question, one per line."),
        ("\n   \n", "Write at least one question, one per line."),
    ],
)
def test_bulk_add_of_nothing_is_a_form_error(owner_client, project, text, message):
    response = _bulk(owner_client, project, text)
    assert response.status_code == 422
    assert message in page_text(response)


def test_bulk_add_has_a_line_limit(owner_client, project, settings):
    settings.QUESTIONS_BULK_MAX = 5
    response = _bulk(owner_client, project, "\n".join(f"Q{i}?" for i in range(6)))
    assert response.status_code == 422
    assert "Add at most 5 questions at a time (this has 6)." in page_text(response)
    assert not Question.objects.filter(project=project).exists()


def test_bulk_add_service_is_all_or_nothing(project):
    with pytest.raises(BulkAddRejected) as caught:
        questions_bulk_create(project=project, text="A?\nA?", actor=Actor.cli())
    assert [str(e) for e in caught.value.line_errors] == ["Line 2: repeats line 1."]
    assert not Question.objects.exists() and not KeyEvent.objects.exists()


def test_reaching_the_gate_links_to_the_api_key_tab(owner_client, project):
    QuestionFactory.create_batch(7, project=project)
    response = _bulk(owner_client, project, "Eight?\nNine?\nTen?")
    body = owner_client.get(response.url).content.decode()
    assert re.search(
        r'class="flash[^"]*">[^<]*API keys are unlocked: 10 active questions \(10 needed\)\. '
        r'<a href="' + re.escape(_url("api_keys", project)) + '">',
        body,
    )
    assert "API keys are unlocked: 10 of" not in page_text(owner_client.get(_url("questions", project)))  # said once


def test_single_add_reaching_the_gate_links_too(owner_client, project):
    QuestionFactory.create_batch(9, project=project)
    response = owner_client.post(_url("questions", project), {"text": "Tenth?", "priority": "0", "is_active": "on"})
    body = owner_client.get(response.url).content.decode()
    assert f'API keys are unlocked: 10 active questions (10 needed). <a href="{_url("api_keys", project)}">' in body


def test_adding_past_the_gate_says_nothing_about_it(owner_client, unlocked_project):
    response = _bulk(owner_client, unlocked_project, "Eleventh?")
    assert "unlocked:" not in page_text(owner_client.get(response.url))


# --- 5,000 questions ------------------------------------------------------------------------------

QUESTIONS_TAB_MAX_QUERIES = 7  # session, user, membership + project, gate count, page count, one page (+1 spare)


@pytest.fixture
def big_project(user):
    project = ProjectFactory(owner=user)
    Question.objects.bulk_create(Question(project=project, text=f"Question {i}?", priority=i % 7) for i in range(5000))
    return project


def test_questions_tab_is_paginated_at_5000_questions(
    owner_client, big_project, settings, django_assert_max_num_queries
):
    with django_assert_max_num_queries(QUESTIONS_TAB_MAX_QUERIES):
        response = owner_client.get(_url("questions", big_project))
    rows = re.findall(r'<tr id="question-\d+">', response.content.decode())
    assert len(rows) == settings.QUESTIONS_PAGE_SIZE
    assert "Page 1 of 100 · 5,000 questions" in page_text(response)
    with django_assert_max_num_queries(QUESTIONS_TAB_MAX_QUERIES):
        last = owner_client.get(_url("questions", big_project), {"page": 100})
    assert len(re.findall(r'<tr id="question-\d+">', last.content.decode())) == settings.QUESTIONS_PAGE_SIZE
    with django_assert_max_num_queries(QUESTIONS_TAB_MAX_QUERIES - 1):
        fragment = owner_client.get(_url("questions", big_project), {"page": 2}, **HX)
    assert fragment.content.decode().lstrip().startswith('<div id="questions-panel"')


PROJECT_LIST_MAX_QUERIES = 5  # session, user, page count, one page of projects with their counts (+1 spare)


def test_project_list_is_paginated_at_500_projects(owner_client, user, settings, django_assert_max_num_queries):
    projects = [ProjectFactory(owner=user) for _ in range(500)]
    Question.objects.bulk_create(Question(project=p, text=f"Q{i}?") for p in projects[:20] for i in range(12))
    with django_assert_max_num_queries(PROJECT_LIST_MAX_QUERIES):
        response = owner_client.get(reverse("projects:list"))
    body = response.content.decode()
    assert body.count('<td data-label="Project"><a href="/projects/') == settings.PROJECTS_PAGE_SIZE
    assert "Page 1 of 10 · 500 projects" in page_text(response)
    with django_assert_max_num_queries(PROJECT_LIST_MAX_QUERIES):
        owner_client.get(reverse("projects:list"), {"page": 10})
