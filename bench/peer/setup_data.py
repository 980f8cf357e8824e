"""Seed the peer's database: one project with the console bench's questions, and a DRF API key.

Run by bench/bench.py as `python -m bench.peer.setup_data` with DJANGO_SETTINGS_MODULE=bench.peer.settings,
after `migrate` on a freshly created database. Prints one JSON object on stdout.
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peer.settings")
django.setup()

from rest_framework_api_key.models import APIKey  # noqa: E402

from bench.data_shape import QUESTIONS, question_text  # noqa: E402
from bench.peer.questions.models import Project, Question  # noqa: E402


def main() -> None:
    project = Project.objects.create(name="Bench")
    Question.objects.bulk_create(Question(project=project, text=question_text(i), priority=i) for i in range(QUESTIONS))
    _, drf_key = APIKey.objects.create_key(name="bench peer")
    top = list(project.questions.order_by("-priority", "id").values_list("id", flat=True)[:3])
    print(json.dumps({"project_id": project.pk, "answered": top, "drf_key": drf_key}))


if __name__ == "__main__":
    main()
