"""Finding 7 (slug): choosing a project slug costs one query however many projects share the name,
and two requests that pick the same slug at once both succeed (the unique constraint decides)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Membership, Project
from projects.services import RESERVED_SLUGS, project_create
from tests.factories import UserFactory
from tests.keys.test_concurrency import _race

pytestmark = pytest.mark.django_db


def _slug_queries(name, owner) -> tuple[Project, int]:
    with CaptureQueriesContext(connection) as ctx:
        project = project_create(name=name, owner=owner)
    selects = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT") and "projects_project" in q["sql"]
    ]
    return project, len(selects)


def test_slug_choice_is_one_query_with_200_clashes(user):
    slugs = []
    for _ in range(200):
        project, selects = _slug_queries("日本", user)
        assert selects == 1
        slugs.append(project.slug)
    assert slugs[:3] == ["project", "project-2", "project-3"] and slugs[-1] == "project-200"
    assert len(set(slugs)) == 200
    project, selects = _slug_queries("日本", user)
    assert (project.slug, selects) == ("project-201", 1)


def test_slug_suffixes_of_other_names_do_not_count(user):
    project_create(name="Demo", owner=user)
    project_create(name="Demo 2", owner=user)  # slug demo-2, a clash with a suffix of "demo"
    project_create(name="Demo pro", owner=user)  # demo-pro: not a numbered "demo"
    assert project_create(name="demo", owner=user).slug == "demo-3"
    assert project_create(name="New", owner=user).slug == "new-2"  # reserved path segment
    assert "new" in RESERVED_SLUGS


def test_a_slug_taken_meanwhile_is_retried_not_a_500(user, monkeypatch):
    from projects import services

    real = services._free_slug
    calls = []

    def stale(base):  # the first answer is stale: another request took it in between
        calls.append(base)
        slug = real(base)
        if len(calls) == 1:
            Project.objects.create(name="other", slug=slug)
        return slug

    monkeypatch.setattr(services, "_free_slug", stale)
    project = project_create(name="Race", owner=user)
    assert project.slug == "race-2" and len(calls) == 2
    assert Membership.objects.filter(project=project, user=user).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_projects_with_one_name_all_succeed_on_postgres():
    owners = [UserFactory() for _ in range(8)]
    results = _race([(lambda o=o: project_create(name="日本", owner=o)) for o in owners])
    errors = [r for kind, r in results if kind == "error"]
    assert errors == []
    slugs = sorted(r.slug for _, r in results)
    assert len(set(slugs)) == 8
    assert set(slugs) == {"project"} | {f"project-{n}" for n in range(2, 9)}
