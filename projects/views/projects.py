from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ..access import membership_for
from ..forms import ProjectForm
from ..models import Invitation, Membership
from ..services import project_create


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request):
    form = ProjectForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        project = project_create(name=form.cleaned_data["name"], owner=request.user)
        return redirect(project)
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("project")
        .annotate(active_questions=Count("project__questions", filter=Q(project__questions__is_active=True)))
        .order_by("project__name")
    )
    invitations = (Invitation.objects.pending().filter(email__iexact=request.user.email)
                   .exclude(project__memberships__user=request.user).select_related("project", "invited_by"))
    status = 422 if form.errors else 200
    return render(request, "projects/list.html", {"memberships": memberships, "form": form, "invitations": invitations},
                  status=status)


@login_required
def project_detail(request, slug):
    membership_for(request, slug)
    return redirect("projects:questions", slug=slug)
