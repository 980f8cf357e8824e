"""The Account tabs higher apps add, in templates (accounts/tabs.py holds them)."""

from django import template

from .. import tabs

register = template.Library()


@register.simple_tag
def account_tabs(view_name="") -> list[tabs.TabLink]:
    """`{% account_tabs request.resolver_match.view_name as links %}`: the current one marked."""
    return tabs.links(view_name or "")
