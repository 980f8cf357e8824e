"""Account keys on the runtime API: scope, membership and role checked at the moment of each request.

Run with the record cache off (every request reads the database), on (local memory) and on Redis:
the cached record must learn about membership and question changes as it learns about key changes.
"""

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from api import keycache
from keys.services import api_key_create, api_key_revoke, api_key_rotate
from projects.actors import Actor
from projects.models import KeyEvent, Membership, Question, Role
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code
from tests.conftest import use_record_cache
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

ALL = ["create", "read", "write", "delete", "invite"]


@pytest.fixture(params=["no-cache", "locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


@pytest.fixture
def person(db):
    return UserFactory()


@pytest.fixture
def projects(person):
    """A and B (scope), C (a member, outside the scope), D (not a member): all unlocked."""
    a, b, c, d = (ProjectFactory(slug=s, name=s.upper(), active_questions=12) for s in ("a", "b", "c", "d"))
    for p in (a, b, c):
        MembershipFactory(project=p, user=person, role=Role.ADMIN)
    return {"a": a, "b": b, "c": c, "d": d}


def account_key(person, projects=None, permissions=ALL, all_projects=False, name="script"):
    key, plaintext = api_key_create(
        owner=person,
        name=name,
        permissions=permissions,
        actor=Actor.cli(),
        all_projects=all_projects,
        projects=projects,
    )
    key.plaintext = plaintext
    return key


def get(client, key, path):
    return client.get(path, headers=bearer(key))


def test_scoped_key_reads_its_projects_and_nothing_else(client, person, projects, record_cache):
    key = account_key(person, [projects["a"], projects["b"]])
    for slug in ("a", "b"):
        response = get(client, key, f"/api/v1/projects/{slug}/questions")
        assert response.status_code == 200, response.content
        assert response.json()["count"] == 12
        assert {q["id"] for q in response.json()["items"]} == set(
            Question.objects.filter(project=projects[slug]).values_list("pk", flat=True)
        )
    for slug in ("c", "d", "no-such-project"):  # outside the scope / not a member / missing: alike
        response = get(client, key, f"/api/v1/projects/{slug}/questions")
        assert response.status_code == 404 and error_code(response) == "not_found"


def test_account_key_on_the_short_form_is_project_required(client, person, projects, record_cache):
    key = account_key(person, [projects["a"]])
    for method, path in [("get", "/api/v1/questions"), ("post", "/api/v1/next-question")]:
        response = getattr(client, method)(path, headers=bearer(key), content_type="application/json")
        assert response.status_code == 400 and error_code(response) == "project_required"
        assert "/api/v1/projects/" in response.json()["error"]["message"]


def test_get_key_tells_kind_and_scope(client, person, projects, record_cache):
    key = account_key(person, [projects["b"], projects["a"]], permissions=["read"])
    body = get(client, key, "/api/v1/key").json()
    assert (body["kind"], body["scope"], body["project"]) == ("account", ["a", "b"], None)
    body = get(client, key, "/api/v1/projects/a/key").json()
    assert body["project"] == {"slug": "a", "name": "A"}
    every = account_key(person, all_projects=True, permissions=["read"], name="other")
    assert get(client, every, "/api/v1/key").json()["scope"] == "all"


def test_project_key_works_on_its_own_slug_only(client, projects, record_cache):
    from tests.factories import ApiKeyFactory

    key = ApiKeyFactory(project=projects["a"], permissions=["read"])
    assert get(client, key, "/api/v1/key").json()["kind"] == "project"
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200
    response = get(client, key, "/api/v1/projects/b/questions")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_losing_a_membership_is_a_404_on_the_next_request(client, person, projects, record_cache):
    key = account_key(person, [projects["a"], projects["b"]])
    assert get(client, key, "/api/v1/projects/b/questions").status_code == 200
    if record_cache != "no-cache":
        assert keycache.fetch(key.key_hash, timezone.now()).record is not None  # served from the cache
    Membership.objects.get(project=projects["b"], user=person).delete()
    assert get(client, key, "/api/v1/projects/b/questions").status_code == 404
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200


def test_a_viewer_reads_but_cannot_write_at_once(client, person, projects, record_cache):
    key = account_key(person, [projects["a"]])
    created = client.post(
        "/api/v1/projects/a/questions",
        {"text": "Before?", "priority": 1},
        headers=bearer(key),
        content_type="application/json",
    )
    assert created.status_code == 201
    membership = Membership.objects.get(project=projects["a"], user=person)
    membership.role = Role.VIEWER
    membership.save()
    response = client.post(
        "/api/v1/projects/a/questions",
        {"text": "After?", "priority": 1},
        headers=bearer(key),
        content_type="application/json",
    )
    assert response.status_code == 403 and error_code(response) == "insufficient_permission"
    patch = client.patch(
        f"/api/v1/projects/a/questions/{created.json()['id']}",
        {"text": "x?"},
        headers=bearer(key),
        content_type="application/json",
    )
    assert patch.status_code == 403
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200
    assert get(client, key, "/api/v1/projects/a/key").json()["permissions"] == ["read"]


def test_below_ten_active_questions_is_project_locked(client, person, projects, record_cache):
    key = account_key(person, [projects["a"]])
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200
    question = Question.objects.filter(project=projects["a"]).first()
    for extra in Question.objects.filter(project=projects["a"]).exclude(pk=question.pk)[:2]:
        extra.delete()  # 12 -> 10 active
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200
    question.is_active = False
    question.save()  # 9 active
    response = get(client, key, "/api/v1/projects/a/questions")
    assert response.status_code == 403 and error_code(response) == "project_locked"
    # The refusal is the project's business and the account's: one line in both logs.
    event = KeyEvent.objects.get(kind=EventKind.PROJECT_LOCKED)
    assert (event.project_id, event.account_id, event.key_id) == (projects["a"].pk, person.pk, key.key_id)
    question.is_active = True
    question.save()
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200


def test_all_my_projects_picks_up_a_project_joined_later(client, person, projects, record_cache):
    key = account_key(person, all_projects=True, permissions=["read"])
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200
    assert get(client, key, "/api/v1/projects/d/questions").status_code == 404
    MembershipFactory(project=projects["d"], user=person, role=Role.VIEWER)
    assert get(client, key, "/api/v1/projects/d/questions").status_code == 200


def test_a_deleted_project_is_a_404_on_the_next_request(client, person, projects, record_cache):
    key = account_key(person, all_projects=True, permissions=["read"])
    assert get(client, key, "/api/v1/projects/b/questions").status_code == 200
    projects["b"].delete()
    assert get(client, key, "/api/v1/projects/b/questions").status_code == 404


def test_a_new_project_under_an_old_slug_is_not_reached(client, person, projects, record_cache):
    """A scope names projects, not slugs: a project re-created under a deleted one's slug is not in it."""
    key = account_key(person, [projects["b"]], permissions=["read"])
    assert get(client, key, "/api/v1/projects/b/questions").status_code == 200
    projects["b"].delete()
    reborn = ProjectFactory(slug="b", active_questions=12)
    MembershipFactory(project=reborn, user=person, role=Role.OWNER)
    assert get(client, key, "/api/v1/projects/b/questions").status_code == 404


def test_objects_of_another_project_stay_hidden(client, person, projects, record_cache):
    key = account_key(person, [projects["a"], projects["b"]])
    in_b = Question.objects.filter(project=projects["b"]).first()
    response = get(client, key, f"/api/v1/projects/a/questions/{in_b.pk}")
    assert response.status_code == 404
    assert get(client, key, f"/api/v1/projects/b/questions/{in_b.pk}").status_code == 200


def test_invitation_through_an_account_key_lands_in_the_addressed_project(client, person, projects, record_cache):
    key = account_key(person, [projects["a"]], permissions=["invite"])
    response = client.post(
        "/api/v1/projects/a/invitations",
        {"email": "new@example.com", "role": "viewer"},
        headers=bearer(key),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert projects["a"].invitations.get().invited_via_key_id == key.key_id


def test_revoked_account_key_presented_to_a_project_logs_there_and_in_the_account(
    client, person, projects, record_cache
):
    key = account_key(person, [projects["a"]], permissions=["read"])
    api_key_revoke(key=key, actor=Actor.cli())
    response = get(client, key, "/api/v1/projects/a/questions")
    assert response.status_code == 401 and error_code(response) == "revoked_api_key"
    event = KeyEvent.objects.get(kind=EventKind.REVOKED_KEY_USED)
    assert (event.project_id, event.account_id) == (projects["a"].pk, person.pk)
    # Presented to a project outside its scope: the account's log only.
    get(client, key, "/api/v1/projects/d/questions")
    assert KeyEvent.objects.filter(kind=EventKind.REVOKED_KEY_USED, project=projects["d"]).count() == 0


def test_rotated_account_key_keeps_its_scope_and_grace(client, person, projects, record_cache):
    key = account_key(person, [projects["a"]], permissions=["read"])
    new, plaintext = api_key_rotate(key=key, actor=Actor.cli(), grace="1h")
    assert new.owner_id == person.pk and list(new.scope_projects.all()) == [projects["a"]]
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200  # in its grace period
    assert get(client, plaintext, "/api/v1/projects/a/questions").status_code == 200
    assert get(client, plaintext, "/api/v1/projects/b/questions").status_code == 404


# --- never a project its holder never belonged to (hypothesis, PostgreSQL) ----------------------

SLUGS = ["p0", "p1", "p2", "p3"]
ROLES = [None, Role.VIEWER, Role.ADMIN, Role.OWNER]  # None: never a member


@pytest.mark.postgres
@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    roles=st.lists(st.sampled_from(ROLES), min_size=len(SLUGS), max_size=len(SLUGS)),
    scope=st.one_of(st.just("all"), st.sets(st.sampled_from(SLUGS))),
    permissions=st.sets(st.sampled_from(ALL), min_size=1),
    removed=st.sets(st.sampled_from(SLUGS)),
)
def test_an_account_key_never_acts_beyond_its_holder_memberships(client, roles, scope, permissions, removed):
    """Whatever the memberships, scope and permissions, and whichever memberships end later: a read
    succeeds exactly where the person is a member now and the scope reaches; a create, exactly
    there and as an admin or owner with the create permission. Everywhere else: 404 (or 403)."""
    person = UserFactory()
    projects = {s: ProjectFactory(slug=f"{s}-{person.pk}", active_questions=10) for s in SLUGS}
    for slug, role in zip(SLUGS, roles, strict=True):
        if role is not None:
            MembershipFactory(project=projects[slug], user=person, role=role)
    member_of = {s for s, r in zip(SLUGS, roles, strict=True) if r is not None}
    chosen = [projects[s] for s in sorted(scope & member_of)] if scope != "all" else None
    if scope != "all" and not chosen:
        return  # the console refuses an empty scope; nothing to call with
    key = account_key(person, chosen, permissions=sorted(permissions), all_projects=scope == "all")
    Membership.objects.filter(user=person, project__in=[projects[s] for s in removed]).delete()
    writable = set()
    for slug, role in zip(SLUGS, roles, strict=True):
        reachable = role is not None and slug not in removed and (scope == "all" or slug in scope)
        path = f"/api/v1/projects/{projects[slug].slug}/questions"
        read = get(client, key, path)
        if not reachable:
            assert read.status_code == 404, (slug, role, scope, read.content)
        else:
            assert read.status_code == (200 if "read" in permissions else 403)
        write = client.post(path, {"text": "New?", "priority": 1}, headers=bearer(key), content_type="application/json")
        may_create = reachable and role != Role.VIEWER and "create" in permissions
        assert write.status_code == (201 if may_create else 403 if reachable else 404), (slug, role, write.content)
        if may_create:
            writable.add(projects[slug].pk)
    written = Question.objects.filter(text="New?", project__in=list(projects.values()))
    assert set(written.values_list("project_id", flat=True)) == writable


def test_a_deactivated_person_reaches_nothing(client, person, projects, record_cache):
    key = account_key(person, all_projects=True, permissions=["read"], name="until-deactivated")
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 200
    person.is_active = False
    person.save()
    assert get(client, key, "/api/v1/projects/a/questions").status_code == 404


def test_usage_is_counted_per_project_for_account_keys(client, person, projects):
    from api import usage
    from keys import usage as key_usage
    from keys.models import KeyProjectUsageDay, KeyUsageDay

    key = account_key(person, [projects["a"], projects["b"]], permissions=["read"], name="counted")
    for slug, times in (("a", 3), ("b", 2), ("c", 1)):  # c: outside the scope (404), not a project's use
        for _ in range(times):
            get(client, key, f"/api/v1/projects/{slug}/questions")
    usage.flush_usage()
    assert KeyUsageDay.objects.get(api_key=key).total == 6
    per_project = {(r.project.slug, r.requests) for r in KeyProjectUsageDay.objects.filter(api_key=key)}
    assert per_project == {("a", 3), ("b", 2)}
    assert key_usage.usage_by_project(key) == [("A", 3), ("B", 2)]


def test_narrowing_for_one_project_never_carries_over_to_the_next_request(client, person, projects, record_cache):
    """Each request acts on its own copy of the key (api/keycache.py keeps one built instance per
    record): a viewer's read-only narrowing in A must not reach the next request, for B (admin)."""
    Membership.objects.filter(project=projects["a"], user=person).update(role=Role.VIEWER)
    key = account_key(person, [projects["a"], projects["b"]])
    for _ in range(3):
        described = get(client, key, "/api/v1/projects/a/key")
        assert described.status_code == 200 and described.json()["permissions"] == ["read"]
        refused = client.post(
            "/api/v1/projects/a/questions", {"text": "No?"}, headers=bearer(key), content_type="application/json"
        )
        assert refused.status_code == 403 and error_code(refused) == "insufficient_permission"
        described = get(client, key, "/api/v1/projects/b/key")
        assert described.status_code == 200 and set(described.json()["permissions"]) == set(ALL)
        created = client.post(
            "/api/v1/projects/b/questions", {"text": "Yes?"}, headers=bearer(key), content_type="application/json"
        )
        assert created.status_code == 201, created.content
