from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ..access import membership_for
from ..actors import Actor
from ..forms import ProjectForm
from ..gate import gate_for
from ..models import Invitation, Membership, Question
from ..services import project_create


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request):
    form = ProjectForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        project = project_create(name=form.cleaned_data["name"], owner=request.user, actor=Actor.from_request(request))
        # Said once on the project's first page (#32, finding 10: creating a project confirmed nothing).
        messages.success(request, f"Project “{project.name}” was created. You are its owner.")
        return redirect(project)
    # Counted per row shown (a correlated subquery), not by joining every question of every project.
    active_questions = (
        Question.objects.filter(project=OuterRef("project"), is_active=True)
        .order_by()
        .values("project")
        .annotate(n=Count("id"))
        .values("n")
    )
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("project")
        .annotate(active_questions=Coalesce(Subquery(active_questions, output_field=IntegerField()), 0))
        .order_by("project__name", "project_id")
    )
    page = Paginator(memberships, settings.PROJECTS_PAGE_SIZE).get_page(request.GET.get("page"))
    for membership in page.object_list:
        membership.gate = gate_for(membership.active_questions)  # the rule itself, on this page's counts
    invitations = (
        Invitation.objects.pending()
        .filter(email__iexact=request.user.email)
        .exclude(project__memberships__user=request.user)
        .select_related("project", "invited_by")
    )
    context = {
        "memberships": page.object_list,
        "page": page,
        "form": form,
        "invitations": invitations,
    }
    status = 422 if form.errors else 200
    return render(request, "projects/list.html", context, status=status)


@login_required
def project_detail(request, slug):
    membership_for(request, slug)
    return redirect("projects:questions", slug=slug)
