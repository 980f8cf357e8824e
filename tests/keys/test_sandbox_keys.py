"""A Sandbox's keys are test keys: `nbq_test_` + 32 characters (the live keys' checksum rules),
acting on their Sandbox only; personal keys never reach a Sandbox; masking, logs and the admin
know both prefixes."""

import re

import pytest
from django.urls import reverse

from api.acting import load_access
from keys import keygen
from keys.errors import InvalidKeyRequest
from keys.forms import AccountKeyCreateForm
from keys.services import api_key_create, api_key_rotate, projects_in_scope
from keys_console.observability import _scrub
from projects.actors import Actor
from projects.models import Membership, Role
from projects.sandbox import sample_questions_delete, sandbox_create
from tests.api.conftest import bearer, error_code
from tests.conftest import use_record_cache
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

TEST_FORMAT = re.compile(r"nbq_test_[A-Za-z0-9]{32}")


@pytest.fixture(params=["no-cache", "locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


@pytest.fixture
def person():
    return UserFactory()


@pytest.fixture
def sandbox(person):
    return sandbox_create(user=person)


@pytest.fixture
def demo(person):
    """A real project (the Demo), unlocked; the Sandbox's owner is its owner too."""
    demo = ProjectFactory(slug="demo", name="Demo", active_questions=12)
    Membership.objects.create(project=demo, user=person, role=Role.OWNER)
    return demo


def _key(project=None, **kwargs):
    key, plaintext = api_key_create(
        project=project, name=kwargs.pop("name", "k"), permissions=["read"], actor=Actor.cli(), **kwargs
    )
    key.plaintext = plaintext
    return key


# --- format ------------------------------------------------------------------------------------


def test_test_keys_have_the_live_keys_length_and_checksum():
    for _ in range(100):
        key = keygen.generate_key(keygen.TEST_PREFIX)
        assert TEST_FORMAT.fullmatch(key) and keygen.is_well_formed(key)
        body = key[len(keygen.TEST_PREFIX) :]
        assert keygen.checksum(body[: keygen.RANDOM_LENGTH]) == body[keygen.RANDOM_LENGTH :]
        wrong = body[:-1] + ("A" if body[-1] != "A" else "B")
        assert not keygen.is_well_formed(keygen.TEST_PREFIX + wrong)
    assert keygen.KEY_PATTERN.fullmatch(keygen.generate_key(keygen.TEST_PREFIX))
    assert keygen.KEY_PATTERN.fullmatch(keygen.generate_key())
    assert not keygen.is_well_formed("nbq_prod_" + keygen.generate_key()[9:])
    with pytest.raises(ValueError):
        keygen.generate_key("nbq_prod_")


def test_a_sandbox_key_is_a_test_key_and_a_real_project_key_is_live(sandbox, demo):
    test_key, live_key = _key(sandbox), _key(demo)
    assert TEST_FORMAT.fullmatch(test_key.plaintext) and test_key.is_test
    assert test_key.masked == "nbq_test_…" + test_key.plaintext[-4:]
    assert live_key.plaintext.startswith("nbq_live_") and not live_key.is_test
    assert live_key.masked == "nbq_live_…" + live_key.plaintext[-4:]
    rotated = api_key_rotate(key=test_key, actor=Actor.cli())[1]
    assert rotated.startswith("nbq_test_")


def test_the_key_list_and_the_admin_show_the_test_mask(client, person, sandbox, admin_client):
    key = _key(sandbox)
    client.force_login(person)
    page = client.get(reverse("project_keys:api_keys", args=[sandbox.slug])).content.decode()
    assert "nbq_test_…" + key.plaintext[-4:] in page and key.plaintext not in page
    admin_page = admin_client.get(reverse("admin:keys_apikey_changelist")).content.decode()
    assert "nbq_test_…" + key.plaintext[-4:] in admin_page and key.plaintext not in admin_page


def test_logs_and_error_reports_filter_test_keys_too():
    key = keygen.generate_key(keygen.TEST_PREFIX)
    assert _scrub(f"token={key}") == "token=nbq_test_[Filtered]"
    assert key not in str(_scrub({"url": f"/x?k={key}"}))


# --- the API -----------------------------------------------------------------------------------


def test_a_test_key_acts_on_its_sandbox(client, sandbox, record_cache):
    key = _key(sandbox)
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    listed = client.get("/api/v1/questions", headers=bearer(key))
    assert listed.status_code == 200 and listed.json()["count"] == 10
    addressed = client.get(f"/api/v1/projects/{sandbox.slug}/questions", headers=bearer(key))
    assert addressed.status_code == 200


def test_a_test_key_is_refused_on_the_demo_project(client, sandbox, demo, record_cache):
    key = _key(sandbox)
    for path in ("/api/v1/projects/demo/questions", "/api/v1/projects/demo/key"):
        response = client.get(path, headers=bearer(key))
        assert response.status_code == 404 and error_code(response) == "not_found", path


def test_a_made_up_test_key_is_refused_without_a_lookup(client, django_assert_num_queries):
    body = keygen.generate_key(keygen.TEST_PREFIX)[9:]
    bad = "nbq_test_" + body[:-1] + ("A" if body[-1] != "A" else "B")
    with django_assert_num_queries(0):
        response = client.get("/api/v1/key", headers=bearer(bad))
    assert response.status_code == 401 and error_code(response) == "invalid_api_key"


def test_a_test_key_cannot_pass_as_a_live_key(client, sandbox):
    key = _key(sandbox)
    body = key.plaintext[9:]
    response = client.get("/api/v1/key", headers=bearer("nbq_live_" + body))
    assert response.status_code == 401 and error_code(response) == "invalid_api_key"


def test_the_sandbox_keeps_its_keys_working_when_samples_go(client, person, sandbox):
    key = _key(sandbox)
    sample_questions_delete(project=sandbox, actor=Actor.cli())
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200


# --- personal keys never reach a Sandbox --------------------------------------------------------


def test_a_sandbox_is_not_offered_in_a_personal_keys_scope(person, sandbox, demo):
    form = AccountKeyCreateForm(user=person)
    assert list(form.fields["projects"].queryset) == [demo]


def test_a_sandbox_in_a_personal_keys_scope_is_refused(person, sandbox, demo):
    with pytest.raises(InvalidKeyRequest) as exc:
        api_key_create(owner=person, name="p", permissions=["read"], actor=Actor.cli(), projects=[sandbox])
    assert "Sandbox" in exc.value.errors["projects"]


def test_all_my_projects_leaves_the_sandbox_out(client, person, sandbox, demo, record_cache):
    key = _key(owner=person, all_projects=True)
    assert key.plaintext.startswith("nbq_live_")
    assert list(projects_in_scope(key)) == [demo]
    assert set(load_access(key)["projects"]) == {"demo"}
    response = client.get(f"/api/v1/projects/{sandbox.slug}/questions", headers=bearer(key))
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert client.get("/api/v1/projects/demo/questions", headers=bearer(key)).status_code == 200


def test_real_projects_keep_the_question_gate(person):
    locked = ProjectFactory(active_questions=9)
    with pytest.raises(Exception, match="10 active questions"):
        _key(locked)


# --- the CLI follows the same rules -----------------------------------------------------------


def test_create_api_key_on_a_sandbox_prints_a_test_key(sandbox):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_api_key", sandbox.slug, "--name", "ci", "--permissions", "read", stdout=out, stderr=StringIO())
    assert TEST_FORMAT.fullmatch(out.getvalue().strip())


def test_create_api_key_refuses_a_sandbox_in_a_personal_keys_scope(person, sandbox):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from keys.models import ApiKey

    with pytest.raises(CommandError, match="Sandbox"):
        call_command(
            "create_api_key",
            "--account",
            person.email,
            "--projects",
            sandbox.slug,
            "--name",
            "p",
            "--permissions",
            "read",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not ApiKey.objects.filter(owner=person).exists()
