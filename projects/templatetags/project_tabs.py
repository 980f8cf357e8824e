"""The project tabs in templates (projects/tabs.py holds them; each app registers its own)."""

from django import template

from .. import tabs

register = template.Library()


@register.simple_tag
def project_tabs(project, current) -> list[tabs.TabLink]:
    """`{% project_tabs project tab as links %}`: the bar, the tab `current` marked."""
    return tabs.links(project, current)


@register.simple_tag
def project_tab_label(key) -> str:
    return tabs.label(key)


@register.simple_tag
def project_tab_url(project, key) -> str | None:
    """`{% project_tab_url project "api_keys" as url %}`: None when no app registers that tab."""
    return tabs.url(project, key)
