"""Account keys under several gunicorn workers on PostgreSQL and Redis (the record cache on, as in
production): losing a membership takes effect on the next request in every worker.

Each worker caches an account key's record (its holder's memberships within its scope) for up to
API_KEY_RECORD_CACHE_SECONDS; the removal, made through the console served by the same gunicorn,
puts a tombstone over it, so no worker serves the old membership again.
"""

import time

import pytest

from keys.services import api_key_create
from projects.actors import Actor
from projects.models import KeyEvent, Membership, Role
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory

from . import live
from .test_workers import WORKERS, Browser, until_every_worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_removed_member_is_refused_by_every_worker(start_gunicorn, redis_url, owner, figures):
    a = ProjectFactory(slug="alpha", active_questions=10)
    b = ProjectFactory(slug="beta", owner=owner, active_questions=10)
    c = ProjectFactory(slug="gamma", active_questions=10)
    person = UserFactory()
    for project in (a, b, c):
        MembershipFactory(project=project, user=person, role=Role.ADMIN)
    key, plaintext = api_key_create(
        owner=person, projects=[a, b], name="laptop", permissions=["read"], actor=Actor.cli()
    )
    server = start_gunicorn(redis_url=redis_url, workers=WORKERS)

    def send(slug):
        return lambda: server.get(f"/api/v1/projects/{slug}/questions", headers=live.bearer(plaintext))

    before = until_every_worker(server, send("beta"))
    assert {r.status for r in before} == {200}, [r.body[:200] for r in before if r.status != 200][:3]
    outside = until_every_worker(server, send("gamma"))  # a member, but outside the key's scope
    assert {(r.status, r.error_code) for r in outside} == {(404, "not_found")}

    # The owner of beta removes the person, through the console served by these workers.
    browser = Browser(server)
    assert browser.login(owner.email, PASSWORD).status == 302
    membership = Membership.objects.get(project=b, user=person)
    removed = browser.submit(f"/projects/beta/members/{membership.pk}/remove/", {}, form_page="/projects/beta/members/")
    assert removed.status == 302, (removed.status, removed.body[:300])
    removed_at = time.time()

    after = until_every_worker(server, send("beta"))
    assert all(r.started > removed_at for r in after)
    wrong = [(r.status, r.body[:120]) for r in after if (r.status, r.error_code) != (404, "not_found")]
    assert not wrong, wrong
    still = until_every_worker(server, send("alpha"))
    assert {r.status for r in still} == {200}
    short = server.get("/api/v1/questions", headers=live.bearer(plaintext))
    assert (short.status, short.error_code) == (400, "project_required")
    server.stop()
    assert KeyEvent.objects.filter(account=person).exists()
    live.assert_no_secrets({plaintext}, database=live.dump_database(), logs=server.log_text())
    figures.update(
        workers=WORKERS,
        requests_before=len(before),
        requests_after=len(after),
        workers_answering_after=len(set(server.pids_for(after).values())),
    )
