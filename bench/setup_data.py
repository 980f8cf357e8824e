"""Seed the bench database: a project with questions, a DRF API key, and invalid keys for row 5.

Run by bench/bench.py as `python -m bench.setup_data` with DJANGO_SETTINGS_MODULE=bench.settings,
after `migrate` on a freshly created database. The console's own keys are made afterwards through
`manage.py create_api_key`, the operators' path. Prints one JSON object on stdout.
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from rest_framework_api_key.models import APIKey  # noqa: E402

from accounts.models import User  # noqa: E402
from keys import keygen  # noqa: E402
from projects.models import Question  # noqa: E402
from projects.services import project_create  # noqa: E402

PROJECT_SLUG = "bench"
QUESTIONS = 24


def main() -> None:
    owner = User.objects.create_user("bench@nbq.invalid", "bench-password-not-used")
    project = project_create(name="Bench", owner=owner, slug=PROJECT_SLUG)
    Question.objects.bulk_create(
        Question(project=project, text=f"Bench question {i}: what is {i} squared?", priority=i)
        for i in range(QUESTIONS)
    )
    # (its manager's generic class attribute: see pyproject's mypy override for this module)
    _, drf_key = APIKey.objects.create_key(name="bench peer")  # type: ignore[misc]

    unknown = keygen.generate_key()  # well-formed, checksum right, not in the database
    body = keygen.generate_key()[len(keygen.PREFIX) :]
    wrong_last = keygen.ALPHABET[(keygen.ALPHABET.index(body[-1]) + 1) % len(keygen.ALPHABET)]
    bad_checksum = keygen.PREFIX + body[:-1] + wrong_last
    assert keygen.is_well_formed(unknown) and not keygen.is_well_formed(bad_checksum)
    top = list(project.questions.order_by("-priority", "id").values_list("id", flat=True)[:3])
    print(
        json.dumps(
            {
                "project": project.slug,
                "project_id": project.pk,
                "answered": top,  # next-question rows: the three first questions count as answered
                "drf_key": drf_key,
                "invalid": {
                    "malformed": "nbq_live_this-is-not-a-key",
                    "bad_checksum": bad_checksum,
                    "unknown": unknown,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
