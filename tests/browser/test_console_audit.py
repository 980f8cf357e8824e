"""Issue 12, items 6–8 in a real browser: bulk add, a confirmation dialog, filtering the event log
with htmx, and the CSV export matching the filtered rows. Plus the same confirmation without JavaScript."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from projects.models import KeyEvent, Question
from projects.models.event import EventKind
from tests.browser.conftest import log_in, row_action
from tests.factories import PASSWORD, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner(transactional_db):
    return UserFactory(email="ana@example.com")


@pytest.fixture
def project(owner):
    return ProjectFactory(owner=owner, name="Trivia", slug="trivia", active_questions=7)


def test_bulk_add_confirm_delete_and_filter_the_log(page, live_server, owner, project, screenshot_dir):
    log_in(page, live_server.url, owner.email, PASSWORD)
    base = f"{live_server.url}/projects/{project.slug}"
    page.goto(base + "/questions/")

    # Bulk add: a repeated line is refused with its line number, and the text stays.
    area = page.get_by_label("Questions (one per line)")
    area.fill("Capital of Peru?\nLongest river?\nCapital of Peru?")
    page.get_by_role("button", name="Add questions").click()
    expect(page.get_by_text("Line 3: repeats line 1.")).to_be_visible()
    expect(page.get_by_label("Questions (one per line)")).to_have_value(
        "Capital of Peru?\nLongest river?\nCapital of Peru?"
    )
    assert Question.objects.filter(project=project).count() == 7
    page.screenshot(path=screenshot_dir / "audit-1-bulk-add-errors.png", full_page=True)
    page.get_by_label("Questions (one per line)").fill("Capital of Peru?\nLongest river?\nHighest peak?")
    page.get_by_role("button", name="Add questions").click()
    flash = page.locator("#flash")
    expect(flash).to_contain_text("3 questions added. API keys are unlocked: 10 active questions (10 needed).")
    expect(flash.get_by_role("link", name="Generate a key on the API Key tab")).to_have_attribute(
        "href", f"/projects/{project.slug}/keys/"
    )

    # Delete asks first (htmx dialog, opening on Cancel) and says it locks the keys.
    page.evaluate("window.__noReload = 'still here'")
    question = Question.objects.get(project=project, text="Highest peak?")
    row = page.locator(f"#question-{question.pk}")
    row_action(row, "Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This locks API keys: 9 active questions (10 needed).")
    expect(dialog.get_by_role("link", name="Cancel")).to_be_focused()
    page.screenshot(path=screenshot_dir / "audit-2-delete-question-dialog.png")
    dialog.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row).to_be_visible()
    row_action(row, "Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete question").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator(f"#question-{question.pk}")).to_have_count(0)
    expect(page.locator("#flash")).to_contain_text(
        "Question deleted. API keys are locked now: 9 active questions (10 needed)"
    )
    expect(page.get_by_text("9 active (10 needed)", exact=False).first).to_be_visible()
    assert page.evaluate("window.__noReload") == "still here"
    assert not Question.objects.filter(pk=question.pk).exists()

    # The event log: filter with htmx (no reload, the URL follows), then export what it shows.
    KeyEvent.objects.create(project=project, kind=EventKind.QUESTION_ADDED, subject="=1+1", actor_label="cli")
    page.get_by_role("link", name="Event log").click()
    expect(page.get_by_text("ana@example.com deleted the question “Highest peak?”")).to_be_visible()
    page.evaluate("window.__noReload = 'still here'")
    page.get_by_label("Event", exact=True).select_option(label="Questions added in bulk")
    expect(page.locator("#event-table")).to_contain_text("1 event matches these filters")
    expect(page.locator("#event-table .sentence")).to_have_text(["ana@example.com added 3 questions in bulk"])
    assert "kind=questions_bulk_added" in page.url
    page.get_by_label("Event", exact=True).select_option(value="")
    page.get_by_label("Actor").fill("ana@example.com")
    page.get_by_label("Actor").press("Enter")
    expect(page.locator("#event-table")).to_contain_text("2 events match these filters")
    assert page.evaluate("window.__noReload") == "still here"
    assert "actor=ana%40example.com" in page.url
    shown = page.locator("#event-table .sentence").all_inner_texts()
    assert shown == [
        "ana@example.com deleted the question “Highest peak?”",
        "ana@example.com added 3 questions in bulk",
    ]
    page.screenshot(path=screenshot_dir / "audit-3-event-log-filtered.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["When (UTC)", "Event", "Description"]
    assert [r[2] for r in rows[1:]] == shown
    assert all(r[6] == "ana@example.com" for r in rows[1:])


def test_confirmation_without_javascript(browser, live_server, owner, project, screenshot_dir):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, live_server.url, owner.email, PASSWORD)
    question = Question.objects.filter(project=project).first()
    page.goto(f"{live_server.url}/projects/{project.slug}/questions/")
    page.locator(f"#question-{question.pk}").get_by_role("link", name="Deactivate").click()
    expect(page).to_have_url(f"{live_server.url}/projects/{project.slug}/questions/{question.pk}/toggle/?page=1")
    expect(page.get_by_role("heading", name=f"Deactivate the question “{question.text}”?")).to_be_visible()
    page.screenshot(path=screenshot_dir / "audit-4-deactivate-page-nojs.png")
    page.get_by_role("link", name="Cancel").click()
    question.refresh_from_db()
    assert question.is_active
    page.locator(f"#question-{question.pk}").get_by_role("link", name="Deactivate").click()
    page.get_by_role("button", name="Deactivate question").click()
    expect(page.locator("#flash")).to_contain_text("Question deactivated.")
    question.refresh_from_db()
    assert not question.is_active
    context.close()
