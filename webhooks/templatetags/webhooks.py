from django import template

from ..models import Endpoint

register = template.Library()


@register.simple_tag
def project_webhooks(project):
    """A project's endpoints, for the Settings tab's Webhooks section (any view that renders it)."""
    return list(Endpoint.objects.filter(project=project))
