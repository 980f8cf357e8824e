"""Regressions of inputs the API fuzzing found (in-process, any database)."""

import pytest

from keys.services import api_key_create
from projects.actors import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(unlocked_project):
    _, plaintext = api_key_create(
        project=unlocked_project, name="in", actor=Actor.cli(), permissions=["create", "read", "write"]
    )
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.mark.parametrize("text", ["\x00", "before\x00after", "\u00b8\U000af7cbM2\x00"])
def test_nul_in_question_text_is_a_400_not_a_500(client, unlocked_project, headers, text):
    """Schemathesis found it: PostgreSQL text cannot hold NUL, and the driver's error was a 500."""
    created = client.post("/api/v1/questions", {"text": text}, content_type="application/json", headers=headers)
    assert created.status_code == 400, created.content
    assert created.json()["error"]["fields"]["text"] == "The question text must not contain NUL characters."
    question = unlocked_project.questions.first()
    patched = client.patch(
        f"/api/v1/questions/{question.pk}", {"text": text}, content_type="application/json", headers=headers
    )
    assert patched.status_code == 400, patched.content
