"""Small helpers shared by the console tests."""

import html
import re

from keys import keygen

HX = {"HTTP_HX_REQUEST": "true"}  # what htmx sends with every request

KEY_IN_TEXT = re.compile(r"nbq_(?:live|test)_[A-Za-z0-9]{32}")  # live keys and a Sandbox's test keys


def page_text(response) -> str:
    """The visible text of an HTML response: tags removed, entities decoded, spaces collapsed."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"</?bdi>", "", body)  # direction isolation around names: inline, no space on screen
    body = re.sub(r"<[^>]+>", " ", body)
    text = re.sub(r"\s+", " ", html.unescape(body)).strip()
    return re.sub(r" ([.,:;!?])", r"\1", text)  # "<strong>9 questions</strong>." reads "9 questions."


def revealed_key(response) -> str:
    """The one full key shown in a reveal response (fails unless there is exactly one distinct key)."""
    found = set(KEY_IN_TEXT.findall(response.content.decode()))
    assert len(found) == 1, f"expected one key in the response, found {len(found)}"
    (key,) = found
    assert keygen.is_well_formed(key)
    return key
