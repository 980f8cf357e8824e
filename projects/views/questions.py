"""The Questions tab: add one or many, edit, activate, and (after asking) deactivate or delete.

The tab is paginated so it stays fast with thousands of questions; every change goes through
projects/questions.py, which writes the event log.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_POST

from .. import tabs
from ..access import membership_for
from ..actors import Actor
from ..forms import QuestionBulkForm, QuestionForm
from ..gate import counter_text, question_gate
from ..models import Question
from ..questions import (
    BulkAddRejected,
    question_create,
    question_set_active,
    question_update,
    questions_bulk_create,
    removal_locks_keys,
)
from ..questions import question_delete as delete_question
from ..sandbox import sample_questions_delete as delete_samples
from .confirm import Confirmation, confirm

PAGE = "projects/questions.html"
PANEL = PAGE + "#questions-panel"


def _page_number(request) -> str:
    return request.POST.get("page") or request.GET.get("page") or "1"


def _tab_url(slug: str, page="1") -> str:
    url = reverse("projects:questions", args=[slug])
    return url if str(page) in ("", "1") else f"{url}?page={page}"


def _panel_context(request, membership) -> dict:
    project = membership.project
    questions = Question.objects.filter(project=project).order_by("-priority", "id")
    page = Paginator(questions, settings.QUESTIONS_PAGE_SIZE).get_page(_page_number(request))
    return {
        "membership": membership,
        "project": project,
        "tab": "questions",
        "page": page,
        "questions": page.object_list,
        "gate": question_gate(project),
        "questions_url": reverse("projects:questions", args=[project.slug]),
        "sample_count": Question.objects.filter(project=project, is_sample=True).count() if project.is_sandbox else 0,
    }


def _render_tab(request, membership, *, form=None, bulk_form=None, status=200):
    context = {
        **_panel_context(request, membership),
        "form": form or QuestionForm(initial={"is_active": True}),
        "bulk_form": bulk_form or QuestionBulkForm(),
    }
    return render(request, PAGE, context, status=status)


def _gate_message(project, before, after) -> str:
    """What crossing the question gate means, with a link to the API Key tab on unlocking (the tab
    keys registers: projects/tabs.py)."""
    if after.unlocked and not before.unlocked:
        unlocked = format_html(" API keys are unlocked: {}.", counter_text(after.active, after.required, "questions"))
        api_keys_url = tabs.url(project, "api_keys")
        if api_keys_url is None:
            return unlocked
        return format_html('{} <a href="{}">Generate a key on the API Key tab</a>.', unlocked, api_keys_url)
    if before.unlocked and not after.unlocked:
        return (
            f" API keys are locked now: {counter_text(after.active, after.required, 'questions')}. "
            "Existing keys keep working; generating and rotating need "
            f"{after.required} active questions again."
        )
    return ""


def _with_gate(message: str, project, before) -> str:
    extra = _gate_message(project, before, question_gate(project))
    return format_html("{}{}", message, extra) if extra else message


@login_required
@require_http_methods(["GET", "POST"])
def questions(request, slug):
    membership = membership_for(request, slug, manage=request.method == "POST")
    if request.method == "GET":
        if request.htmx:
            return render(request, PANEL, _panel_context(request, membership))
        return _render_tab(request, membership)
    project = membership.project
    form = QuestionForm(request.POST)
    if not form.is_valid():
        return _render_tab(request, membership, form=form, status=422)
    before = question_gate(project)
    question_create(
        project=project,
        actor=Actor.from_request(request),
        text=form.cleaned_data["text"],
        priority=form.cleaned_data["priority"],
        is_active=form.cleaned_data["is_active"],
    )
    messages.success(request, _with_gate("Question added.", project, before))
    return redirect("projects:questions", slug=slug)


@login_required
@require_POST
def questions_bulk(request, slug):
    membership = membership_for(request, slug, manage=True)
    project = membership.project
    form = QuestionBulkForm(request.POST)
    if form.is_valid():
        before = question_gate(project)
        try:
            created = questions_bulk_create(
                project=project, text=form.cleaned_data["questions"], actor=Actor.from_request(request)
            )
        except BulkAddRejected as exc:
            form.add_rejection(exc)
        else:
            count = len(created)
            messages.success(
                request, _with_gate(f"{count:,} question{'s' if count != 1 else ''} added.", project, before)
            )
            return redirect("projects:questions", slug=slug)
    return _render_tab(request, membership, bulk_form=form, status=422)


@login_required
@require_http_methods(["GET", "POST"])
def question_edit(request, slug, pk):
    membership = membership_for(request, slug, manage=True)
    question = get_object_or_404(Question, pk=pk, project=membership.project)
    form = QuestionForm(request.POST if request.method == "POST" else None, instance=question)
    if request.method == "POST" and form.is_valid():
        before = question_gate(membership.project)
        # The form has written its values onto `question`; compare against the stored row.
        stored = Question.objects.get(pk=question.pk)
        question_update(
            question=stored,
            actor=Actor.from_request(request),
            **{f: form.cleaned_data[f] for f in ("text", "priority", "is_active")},
        )
        messages.success(request, _with_gate("Question saved.", membership.project, before))
        return redirect("projects:questions", slug=slug)
    context = {
        "membership": membership,
        "project": membership.project,
        "tab": "questions",
        "form": form,
        "question": question,
    }
    return render(request, "projects/question_edit.html", context, status=422 if form.errors else 200)


def _after_change(request, membership, message):
    """After a confirmed change: htmx gets the new panel out of band; a plain post a redirect."""
    if request.htmx:
        context = {**_panel_context(request, membership), "panel_template": PANEL, "flash": message}
        return render(request, "projects/confirm/changed.html", context)
    messages.success(request, message)
    return redirect(_tab_url(membership.project.slug, _page_number(request)))


def _confirm_removal(request, membership, question, *, action: str):
    gate = question_gate(membership.project)
    short = question.text if len(question.text) <= 80 else question.text[:79] + "…"
    if action == "delete":
        title, button = f"Delete the question “{short}”?", "Delete question"
        body = "The question is removed for good. The event log keeps a line saying it was deleted."
        url = reverse("projects:question_delete", args=[membership.project.slug, question.pk])
    else:
        title, button = f"Deactivate the question “{short}”?", "Deactivate question"
        body = "The runtime API stops serving it. You can activate it again later."
        url = reverse("projects:question_toggle", args=[membership.project.slug, question.pk])
    warning = ""
    if removal_locks_keys(question, gate):
        warning = (
            f"This locks API keys: {counter_text(gate.active - 1, gate.required, 'questions')}. Existing keys "
            "keep working, but no key can be generated or rotated until the project has "
            f"{gate.required} again."
        )
    page = _page_number(request)
    return confirm(
        request,
        _panel_context(request, membership),
        Confirmation(
            title=title,
            body=body,
            button=button,
            url=url,
            warning=warning,
            cancel_url=_tab_url(membership.project.slug, page),
            hidden={"page": page},
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def question_toggle(request, slug, pk):
    """POST activates an inactive question, or deactivates an active one; GET asks before deactivating."""
    membership = membership_for(request, slug, manage=True)
    question = get_object_or_404(Question, pk=pk, project=membership.project)
    if request.method == "GET":
        if not question.is_active:
            return redirect(_tab_url(slug, _page_number(request)))
        return _confirm_removal(request, membership, question, action="deactivate")
    before = question_gate(membership.project)
    question_set_active(question=question, active=not question.is_active, actor=Actor.from_request(request))
    message = "Question activated." if question.is_active else "Question deactivated."
    return _after_change(request, membership, _with_gate(message, membership.project, before))


@login_required
@require_http_methods(["GET", "POST"])
def question_delete(request, slug, pk):
    membership = membership_for(request, slug, manage=True)
    question = get_object_or_404(Question, pk=pk, project=membership.project)
    if request.method == "GET":
        return _confirm_removal(request, membership, question, action="delete")
    before = question_gate(membership.project)
    delete_question(question=question, actor=Actor.from_request(request))
    return _after_change(request, membership, _with_gate("Question deleted.", membership.project, before))


@login_required
@require_POST
def sample_questions_delete(request, slug):
    """ "Replace the sample questions": the Sandbox's samples go in one action; then add your own."""
    membership = membership_for(request, slug, manage=True)
    project = membership.project
    before = question_gate(project)
    count = delete_samples(project=project, actor=Actor.from_request(request))
    message = f"{count} sample question{'s' if count != 1 else ''} deleted. Add your own questions below."
    messages.success(request, _with_gate(message, project, before))
    return redirect(reverse("projects:questions", args=[slug]) + "#bulk-add")
