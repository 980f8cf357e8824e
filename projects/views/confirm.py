"""Asking before a destructive action: an htmx dialog, or a page of its own without JavaScript.

GET on an action's URL shows the question; POST (from the dialog's or the page's form) acts.
"""

from dataclasses import dataclass, field

from django.shortcuts import render


@dataclass
class Confirmation:
    title: str
    body: str
    button: str
    url: str  # where the form posts
    cancel_url: str  # where Cancel leads without JavaScript
    warning: str = ""  # e.g. "This locks API keys: 9 active questions (10 needed)."
    hidden: dict = field(default_factory=dict)  # extra form fields, e.g. the page to come back to


def confirm(request, context: dict, confirmation: Confirmation):
    context = {**context, "confirm": confirmation}
    if request.htmx:
        return render(request, "projects/confirm/dialog.html", context)
    return render(request, "projects/confirm/page.html", {**context, "as_page": True})
