"""URL names of the console pages for tests that walk many pages by name."""

from django.urls import reverse

KEY_PAGES = {"api_keys", "key_new", "key_detail", "key_edit", "key_rotate", "key_revoke", "key_delete"}


def project_url(name: str, args) -> str:
    """A project page's URL: the API Key tab's pages live in the `project_keys` namespace."""
    return reverse(f"{'project_keys' if name in KEY_PAGES else 'projects'}:{name}", args=args)
