"""The admin goes through the services: what the console refuses, the admin refuses with the same
message; what the console logs, the admin logs."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from keys.models import ApiKey
from keys.models.api_key import RATE_LIMIT_MESSAGE
from keys.services import api_key_create, api_key_revoke
from projects.actors import Actor
from projects.models import KeyEvent, Membership, Project
from projects.models.event import EventKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(unlocked_project, user):
    created, _ = api_key_create(
        project=unlocked_project, name="web", permissions=["read"], actor=Actor(user=user, label=user.email)
    )
    return created


def _change(admin_client, key, rate_limit):
    return admin_client.post(reverse("admin:keys_apikey_change", args=[key.pk]), {"rate_limit_per_minute": rate_limit})


def test_a_rate_limit_over_the_maximum_is_refused_with_the_services_message(admin_client, key):
    response = _change(admin_client, key, "5000000")
    assert response.status_code == 200  # the form again, with its error
    assert RATE_LIMIT_MESSAGE in response.content.decode().replace("&#x27;", "'")
    key.refresh_from_db()
    assert key.rate_limit_per_minute is None
    assert not KeyEvent.objects.filter(kind=EventKind.UPDATED, key_id=key.key_id).exists()


def test_a_rate_limit_changed_in_the_admin_is_logged_like_the_console(admin_client, key, admin_user):
    assert _change(admin_client, key, "120").status_code == 302
    key.refresh_from_db()
    assert key.rate_limit_per_minute == 120
    event = KeyEvent.objects.get(kind=EventKind.UPDATED, key_id=key.key_id)
    assert event.details == {"rate_limit_per_minute": {"from": None, "to": 120}}
    assert event.actor == admin_user and event.actor_label.startswith("admin: ")


def test_a_revoked_key_cannot_be_changed_in_the_admin(admin_client, key, user):
    api_key_revoke(key=key, actor=Actor(user=user, label=user.email))
    response = _change(admin_client, key, "120")
    assert response.status_code == 200 and "Only an active key can be changed." in response.content.decode()
    key.refresh_from_db()
    assert key.rate_limit_per_minute is None


def test_the_model_refuses_what_the_services_refuse(key):
    key.rate_limit_per_minute = 5_000_000
    with pytest.raises(ValidationError) as caught:
        key.full_clean()
    assert caught.value.message_dict["rate_limit_per_minute"] == [RATE_LIMIT_MESSAGE]


def test_a_project_renamed_in_the_admin_is_logged_through_project_rename(admin_client, unlocked_project, admin_user):
    url = reverse("admin:projects_project_change", args=[unlocked_project.pk])
    form = {
        "name": "Renamed",
        "slug": unlocked_project.slug,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    for membership in Membership.objects.filter(project=unlocked_project):
        i = int(form["memberships-TOTAL_FORMS"])
        form.update(
            {
                f"memberships-{i}-id": str(membership.pk),
                f"memberships-{i}-project": str(unlocked_project.pk),
                f"memberships-{i}-user": str(membership.user_id),
                f"memberships-{i}-role": membership.role,
            }
        )
        form["memberships-TOTAL_FORMS"] = form["memberships-INITIAL_FORMS"] = str(i + 1)
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Project.objects.get(pk=unlocked_project.pk).name == "Renamed"
    event = KeyEvent.objects.get(project=unlocked_project, kind=EventKind.PROJECT_RENAMED)
    assert (event.subject, event.details) == ("Renamed", {"old_name": unlocked_project.name})
    assert event.actor == admin_user


def test_no_migration_is_missing():
    # Exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_each_app_has_one_fresh_migration_history():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    for app in ("accounts", "projects", "keys"):
        names = sorted(name for label, name in loader.disk_migrations if label == app)
        assert names[0] == "0001_initial", (app, names)
        merges = [n for n in names if len(loader.disk_migrations[(app, n)].dependencies) > 1 and "merge" in n]
        assert merges == [], (app, merges)
    assert ApiKey._meta.app_label == "keys"
