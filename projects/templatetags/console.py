"""Small wording filters for the console's templates: grouped numbers and relative times."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def grouped(value) -> str:
    """137949 → "137,949" (anything that is not a whole number is shown as it is)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "" if value is None else str(value)


@register.filter
def ago(value: datetime | None) -> str:
    """A past moment as "just now" (under a minute) or "5 minutes ago", "2 days, 3 hours ago"."""
    if value is None:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value)} ago"
