"""Disable / Enable and Revoke selected (issue #32) through the console served by gunicorn, on
PostgreSQL and Redis with several workers, as in production: a disabled key is refused by every
worker on its very next request (401 `disabled_api_key`), answers 200 again after Enable, and a
bulk revocation of 3 keys logs 3 events and refuses each key on its next request."""

import time

import pytest

from keys.models import ApiKey
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import PASSWORD

from . import live
from .test_workers import WORKERS, Browser, until_every_worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def start_gunicorn(transactional_db, tmp_path):
    """The reliability fixture's server, given longer to boot (a busy shared machine)."""
    servers: list[live.Gunicorn] = []

    def start(*, redis_url, workers=WORKERS):
        server = live.Gunicorn(
            database_url=live.database_url(), redis_url=redis_url, workers=workers, env={}, log_dir=tmp_path
        )
        servers.append(server)
        return server.start(timeout=120)

    yield start
    for server in servers:
        server.stop()


def _generate(browser, project, name) -> str:
    reveal = browser.submit(
        f"/projects/{project.slug}/keys/new/", {"name": name, "permissions": ["read"], "expiration": "90"}
    )
    assert reveal.status == 200, reveal.body[:300]
    found = live.find_keys(reveal.body.decode())
    assert len(found) == 1
    return found.pop()


def _codes(replies):
    return {(r.status, r.error_code if r.status != 200 else None) for r in replies}


def test_disabled_key_is_refused_by_every_worker_then_works_after_enable(
    start_gunicorn, redis_url, project, owner, figures
):
    server = start_gunicorn(redis_url=redis_url, workers=WORKERS)
    browser = Browser(server)
    assert browser.login(owner.email, PASSWORD).status == 302
    plaintext = _generate(browser, project, "Pausable")
    key = ApiKey.objects.get(project=project, name="Pausable")

    def send():
        return server.get("/api/v1/key", headers=live.bearer(plaintext))

    # Every worker has the key's live record cached in Redis before the pause.
    before = until_every_worker(server, send)
    assert _codes(before) == {(200, None)}

    disable = browser.submit(
        f"/projects/{project.slug}/keys/{key.key_id}/disable/", {}, form_page=f"/projects/{project.slug}/keys/"
    )
    assert disable.status == 302, (disable.status, disable.body[:300])
    disabled_at = time.time()
    first = send()  # the very next request
    assert (first.status, first.error_code) == (401, "disabled_api_key"), first.body[:200]
    after = until_every_worker(server, send)
    assert all(r.started > disabled_at for r in after)
    assert _codes(after) == {(401, "disabled_api_key")}, [r.body[:120] for r in after][:3]
    assert all(r.headers.get("www-authenticate") == "Bearer" for r in after)

    enable = browser.submit(
        f"/projects/{project.slug}/keys/{key.key_id}/enable/", {}, form_page=f"/projects/{project.slug}/keys/"
    )
    assert enable.status == 302, (enable.status, enable.body[:300])
    again = send()
    assert again.status == 200, again.body[:200]
    back = until_every_worker(server, send)
    assert _codes(back) == {(200, None)}

    key.refresh_from_db()
    assert key.disabled_at is None and key.state == "active"
    kinds = list(KeyEvent.objects.filter(key_id=key.key_id).order_by("created_at").values_list("kind", flat=True))
    assert EventKind.DISABLED in kinds and EventKind.ENABLED in kinds
    assert kinds.index(EventKind.DISABLED) < kinds.index(EventKind.ENABLED)
    # The flood of refusals wrote one security event, not one per request or worker.
    assert KeyEvent.objects.filter(key_id=key.key_id, kind=EventKind.DISABLED_KEY_USED).count() == 1
    server.stop()
    figures.update(
        workers=WORKERS,
        requests_before=len(before),
        refused_while_disabled=len(after) + 1,
        accepted_after_enable=len(back) + 1,
    )


def test_revoke_selected_refuses_three_keys_on_their_next_requests(start_gunicorn, redis_url, project, owner, figures):
    server = start_gunicorn(redis_url=redis_url, workers=WORKERS)
    browser = Browser(server)
    assert browser.login(owner.email, PASSWORD).status == 302
    plaintexts = {name: _generate(browser, project, name) for name in ("Bulk one", "Bulk two", "Bulk three")}
    keep = _generate(browser, project, "Kept")
    keys = {k.name: k for k in ApiKey.objects.filter(project=project)}
    for plaintext in [*plaintexts.values(), keep]:  # cached live records first
        assert server.get("/api/v1/key", headers=live.bearer(plaintext)).status == 200

    chosen = [keys[name].key_id for name in plaintexts]
    confirm_page = f"/projects/{project.slug}/keys/revoke-selected/?" + "&".join(f"key={k}" for k in chosen)
    page = browser.get(confirm_page)
    assert page.status == 200
    for name in plaintexts:  # the one confirmation names every key
        assert name.encode() in page.body
    revoke = browser.submit(f"/projects/{project.slug}/keys/revoke-selected/", {"key": chosen}, form_page=confirm_page)
    assert revoke.status == 302, (revoke.status, revoke.body[:300])

    for name, plaintext in plaintexts.items():
        reply = server.get("/api/v1/key", headers=live.bearer(plaintext))
        assert (reply.status, reply.error_code) == (401, "revoked_api_key"), (name, reply.body[:200])
    assert server.get("/api/v1/key", headers=live.bearer(keep)).status == 200
    revoked_events = KeyEvent.objects.filter(project=project, kind=EventKind.REVOKED)
    assert sorted(revoked_events.values_list("key_id", flat=True)) == sorted(chosen)
    server.stop()
    figures.update(workers=WORKERS, revoked=len(chosen), revoked_events=revoked_events.count())
