"""The Settings tab's sections below the Key policy, added by higher apps.

keys renders the tab (keys/views/policy.py); an app above it adds a section, a template rendered
with the page's context (`project`, `membership`), from its `AppConfig.ready()` (webhooks/apps.py:
its Webhooks section). So keys names no template or URL of a higher app (tests/test_layers.py).
"""

_SECTIONS: dict[str, int] = {}  # template name -> its place, top to bottom


def register(template_name: str, *, order: int) -> None:
    _SECTIONS[template_name] = order


def sections() -> list[str]:
    """The templates of the added sections, top to bottom."""
    return sorted(_SECTIONS, key=_SECTIONS.__getitem__)
