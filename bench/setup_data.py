"""Seed the console's bench database: a project with questions, and invalid keys for rows 5.

Run by bench/bench.py as `python -m bench.setup_data` with the console's own settings
(keys_console.settings, the production profile), after `migrate` on a freshly created database.
The console's keys are made afterwards through `manage.py create_api_key`, the operators' path.
Prints one JSON object on stdout.
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keys_console.settings")
django.setup()

from accounts.models import User  # noqa: E402
from bench.data_shape import QUESTIONS, question_text  # noqa: E402
from keys import keygen  # noqa: E402
from projects.models import Question  # noqa: E402
from projects.services import project_create  # noqa: E402

PROJECT_SLUG = "bench"


def main() -> None:
    owner = User.objects.create_user("bench@nbq.invalid", "bench-password-not-used")
    project = project_create(name="Bench", owner=owner, slug=PROJECT_SLUG)
    Question.objects.bulk_create(Question(project=project, text=question_text(i), priority=i) for i in range(QUESTIONS))
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
