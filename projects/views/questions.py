from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ..access import membership_for
from ..forms import QuestionForm
from ..gate import question_gate
from ..models import Question


def _render_tab(request, membership, form, status=200):
    project = membership.project
    context = {
        "membership": membership,
        "project": project,
        "tab": "questions",
        "form": form,
        "questions": project.questions.all(),
        "gate": question_gate(project),
    }
    return render(request, "projects/questions.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def questions(request, slug):
    membership = membership_for(request, slug, manage=request.method == "POST")
    form = QuestionForm(request.POST if request.method == "POST" else None, initial={"is_active": True})
    if request.method == "POST":
        if form.is_valid():
            question = form.save(commit=False)
            question.project = membership.project
            question.save()
            messages.success(request, "Question added.")
            return redirect("projects:questions", slug=slug)
        return _render_tab(request, membership, form, status=422)
    return _render_tab(request, membership, form)


@login_required
@require_http_methods(["GET", "POST"])
def question_edit(request, slug, pk):
    membership = membership_for(request, slug, manage=True)
    question = get_object_or_404(Question, pk=pk, project=membership.project)
    form = QuestionForm(request.POST if request.method == "POST" else None, instance=question)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Question saved.")
        return redirect("projects:questions", slug=slug)
    context = {"membership": membership, "project": membership.project, "tab": "questions", "form": form,
               "question": question}
    return render(request, "projects/question_edit.html", context, status=422 if form.errors else 200)


@login_required
@require_POST
def question_toggle(request, slug, pk):
    membership = membership_for(request, slug, manage=True)
    question = get_object_or_404(Question, pk=pk, project=membership.project)
    question.is_active = not question.is_active
    question.save(update_fields=["is_active", "updated_at"])
    messages.success(request, "Question activated." if question.is_active else "Question deactivated.")
    return redirect("projects:questions", slug=slug)


@login_required
@require_POST
def question_delete(request, slug, pk):
    membership = membership_for(request, slug, manage=True)
    question = get_object_or_404(Question, pk=pk, project=membership.project)
    question.delete()
    messages.success(request, "Question deleted.")
    return redirect("projects:questions", slug=slug)
