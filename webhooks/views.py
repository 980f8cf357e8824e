"""A project's webhook endpoints: Settings tab, section Webhooks (owners and admins, behind
Confirm access). Plain forms and full pages, so everything works without JavaScript.

A signing secret is in exactly one response, the one after Add endpoint or Rotate secret: that
response is `no-store`, the secret never enters a URL, the session, `messages` or a log, and
`sensitive_variables` keeps it out of error reports.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from projects.access import membership_for
from projects.actors import Actor
from projects.views.confirm import Confirmation, confirm

from . import delivery as deliveries
from .event_types import EVENT_TYPES
from .forms import EndpointForm
from .models import Attempt, Delivery, Endpoint
from .services import (
    EndpointRefused,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_set_enabled,
)
from .services import endpoint_delete as delete_endpoint

DELIVERIES_SHOWN = 50


def _settings_url(slug: str) -> str:
    """The project's Settings tab, where the Webhooks section lives (this app's list without it)."""
    try:
        return reverse("project_settings:settings", args=[slug])
    except NoReverseMatch:
        return reverse("webhooks:endpoints", args=[slug])


def _context(membership, **extra) -> dict:
    project = membership.project
    return {
        "membership": membership,
        "project": project,
        "tab": "settings",
        "settings_url": _settings_url(project.slug),
        "endpoints": Endpoint.objects.filter(project=project),
        **extra,
    }


def _endpoint(request, slug: str, pk: int):
    membership = membership_for(request, slug, manage=True)
    return membership, get_object_or_404(Endpoint, pk=pk, project=membership.project)


@login_required
@require_GET
def endpoints(request, slug):
    membership = membership_for(request, slug, manage=True)
    return render(request, "webhooks/endpoints.html", _context(membership))


@never_cache
@sensitive_variables("secret")
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_new(request, slug):
    membership = membership_for(request, slug, manage=True)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = endpoint_create(
                project=membership.project,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                all_events=form.cleaned_data["all_events"],
                event_types=form.cleaned_data["event_types"],
                actor=Actor.from_request(request),
            )
        except EndpointRefused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return render(request, "webhooks/secret.html", _context(membership, endpoint=endpoint, secret=secret))
    return render(
        request,
        "webhooks/endpoint_new.html",
        _context(membership, form=form, descriptions=EVENT_TYPES),
        status=422 if form.errors else 200,
    )


@login_required
@require_GET
def endpoint_detail(request, slug, pk):
    membership, endpoint = _endpoint(request, slug, pk)
    shown = list(Delivery.objects.filter(endpoint=endpoint).order_by("-created_at")[:DELIVERIES_SHOWN])
    tries: dict[str, list[Attempt]] = {}
    for attempt in Attempt.objects.filter(delivery__in=shown).order_by("number", "id"):
        tries.setdefault(attempt.delivery_id, []).append(attempt)
    rows = [(d, tries.get(d.id, [])) for d in shown]
    return render(request, "webhooks/endpoint_detail.html", _context(membership, endpoint=endpoint, rows=rows))


@never_cache
@sensitive_variables("secret")
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_rotate(request, slug, pk):
    membership, endpoint = _endpoint(request, slug, pk)
    if request.method == "GET":
        return confirm(
            request,
            _context(membership),
            Confirmation(
                title=f"Rotate the signing secret of {endpoint.url}?",
                body=(
                    "A new secret is made and shown once. For 24 hours every delivery carries two signatures, "
                    "one with the old secret and one with the new, so the receiver can switch without missing any."
                ),
                button="Rotate secret",
                url=reverse("webhooks:endpoint_rotate", args=[slug, pk]),
                cancel_url=reverse("webhooks:endpoint_detail", args=[slug, pk]),
            ),
        )
    secret = endpoint_rotate_secret(endpoint=endpoint, actor=Actor.from_request(request))
    template = "webhooks/secret_dialog.html" if request.htmx else "webhooks/secret.html"
    return render(request, template, _context(membership, endpoint=endpoint, secret=secret, rotated=True))


@login_required
@require_POST
def endpoint_disable(request, slug, pk):
    _, endpoint = _endpoint(request, slug, pk)
    endpoint_set_enabled(endpoint=endpoint, enabled=False, actor=Actor.from_request(request))
    messages.success(request, f"The endpoint {endpoint.url} is disabled: nothing is sent to it.")
    return redirect("webhooks:endpoint_detail", slug=slug, pk=pk)


@login_required
@require_POST
def endpoint_enable(request, slug, pk):
    _, endpoint = _endpoint(request, slug, pk)
    endpoint_set_enabled(endpoint=endpoint, enabled=True, actor=Actor.from_request(request))
    messages.success(request, f"The endpoint {endpoint.url} is enabled again.")
    return redirect("webhooks:endpoint_detail", slug=slug, pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_delete(request, slug, pk):
    membership, endpoint = _endpoint(request, slug, pk)
    if request.method == "GET":
        return confirm(
            request,
            _context(membership),
            Confirmation(
                title=f"Delete the endpoint {endpoint.url}?",
                body="No more events are sent to it, and its deliveries are deleted with it.",
                button="Delete endpoint",
                url=reverse("webhooks:endpoint_delete", args=[slug, pk]),
                cancel_url=reverse("webhooks:endpoint_detail", args=[slug, pk]),
            ),
        )
    delete_endpoint(endpoint=endpoint, actor=Actor.from_request(request))
    messages.success(request, f"The endpoint {endpoint.url} was deleted.")
    if request.htmx:  # the confirmation dialog posted: the whole page changes
        return HttpResponseClientRedirect(_settings_url(slug) + "#webhooks")
    return redirect(_settings_url(slug))


@login_required
@require_POST
def endpoint_test(request, slug, pk):
    _, endpoint = _endpoint(request, slug, pk)
    sent = endpoint_send_test(endpoint=endpoint, actor_label=Actor.from_request(request).label)
    messages.success(request, f"Test event {sent.id} sent: its delivery is listed below.")
    return redirect("webhooks:endpoint_detail", slug=slug, pk=pk)


@login_required
@require_POST
def delivery_resend(request, slug, pk, delivery_id):
    _, endpoint = _endpoint(request, slug, pk)
    message = get_object_or_404(Delivery, pk=delivery_id, endpoint=endpoint)
    deliveries.resend(message)
    messages.success(request, f"Resent {message.event_type} ({message.id}).")
    return redirect("webhooks:endpoint_detail", slug=slug, pk=pk)
