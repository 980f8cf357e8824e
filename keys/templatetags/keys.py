"""URLs of the key console pages, for the templates both kinds of key share.

A project key's pages live under its project (`project_keys:key_*`), an account key's under the
account (`account_keys:key_*`); the same dialogs and panel serve both.
"""

from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def key_url(context, key, action: str) -> str:
    """`{% key_url key "rotate" %}`: detail, rotate, revoke or delete one key."""
    if key.is_account_key:
        return reverse(f"account_keys:key_{action}", args=[key.key_id])
    return reverse(f"project_keys:key_{action}", args=[context["project"].slug, key.key_id])


@register.simple_tag(takes_context=True)
def keys_url(context, page: str = "list") -> str:
    """`{% keys_url %}` the key list, `{% keys_url "new" %}` the Generate a key dialog."""
    name = {"list": "api_keys", "new": "key_new", "revoke_selected": "keys_revoke_selected"}[page]
    if context.get("account_page"):
        return reverse(f"account_keys:{name}")
    return reverse(f"project_keys:{name}", args=[context["project"].slug])
