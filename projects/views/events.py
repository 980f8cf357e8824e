from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..access import membership_for
from ..models import KeyEvent
from ..models.event import EventKind

PAGE_SIZE = 25
PAGE = "projects/events.html"


@login_required
@require_GET
def events(request, slug):
    membership = membership_for(request, slug)
    project = membership.project
    key_id = request.GET.get("key", "")
    kind = request.GET.get("kind", "")
    events = KeyEvent.objects.filter(project=project)
    if key_id:
        events = events.filter(key_id=key_id)
    if kind in EventKind.values:
        events = events.filter(kind=kind)
    else:
        kind = ""
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    key_choices = project.api_keys.order_by("name").values_list("key_id", "name")
    context = {
        "membership": membership,
        "project": project,
        "tab": "events",
        "page": page,
        "key_choices": key_choices,
        "kind_choices": EventKind.choices,
        "selected_key": key_id,
        "selected_kind": kind,
        "query_without_page": _query_without_page(request),
    }
    template = PAGE + "#event-table" if request.htmx else PAGE
    return render(request, template, context)


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
