"""Several gunicorn workers on PostgreSQL and Redis, as in production.

- A key revoked through the console is refused by every worker on its next request (no worker
  caches a key: each request reads the key row).
- The rate limit is one budget for all workers (counted in Redis), exact to the request.
- Failed logins are counted across workers too (the login throttle shares the same cache).
- Redis unreachable: the rate limiter fails open (200, never a 500), logins still work.
- Keys generated through the console (the reveal goes through gunicorn) appear in neither the
  database dump nor the server logs.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from keys.models import ApiKey
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import PASSWORD

from . import live

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 3


def generate_through_console(client, project, name, permissions=("read",)) -> str:
    """POST the console's Generate form (in-process view, committed) and read the key off the reveal."""
    response = client.post(
        reverse("project_keys:key_new", args=[project.slug]),
        {"name": name, "permissions": list(permissions), "expiration": "90"},
    )
    assert response.status_code == 200, response.content[:500]
    found = live.find_keys(response.content.decode())
    assert len(found) == 1
    return found.pop()


def until_every_worker(server, send, *, threads=6, max_requests=600) -> list[live.Reply]:
    """Send requests (`send()` -> Reply) from several threads until each worker answered one."""
    replies: list[live.Reply] = []
    pids = set(server.worker_pids())
    assert len(pids) == WORKERS, pids
    seen: set[int] = set()
    with ThreadPoolExecutor(threads) as pool:
        while seen < pids and len(replies) < max_requests:
            batch = list(pool.map(lambda _: send(), range(threads * 2)))
            replies += batch
            seen = set(server.pids_for(replies).values())
    assert seen >= pids, f"only workers {seen} of {pids} answered {len(replies)} requests"
    return replies


def wait_for_fresh_window(margin: float = 8.0) -> None:
    """The rate limit counts per minute: do not start a burst that could straddle two windows."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.2)


# --- the console over HTTP (CSRF behind a TLS proxy) -------------------------------------------
class Browser:
    """Just enough of a browser for the console's forms: cookies, the CSRF token, Referer/Origin."""

    def __init__(self, server):
        self.server, self.cookies = server, {}

    def _remember(self, reply):
        for cookie in reply.set_cookies:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()

    def _headers(self, extra=None):
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"Cookie": cookie, **(extra or {})} if cookie else dict(extra or {})

    def get(self, path):
        reply = self.server.get(path, headers=self._headers())
        self._remember(reply)
        return reply

    def submit(self, path, fields: dict, form_page: str | None = None):
        """GET the page holding the form (for its CSRF token), then POST the form as a browser would."""
        page = self.get(form_page or path)
        assert page.status == 200, (page.status, page.body[:300])
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        assert found, "the form page carries a CSRF token"
        token = found.group(1).decode()
        origin = f"https://127.0.0.1:{self.server.port}"
        reply = self.server.request(
            "POST",
            path,
            body=urlencode({"csrfmiddlewaretoken": token, **fields}, doseq=True).encode(),
            headers=self._headers(
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Referer": origin + (form_page or path),
                    "Origin": origin,
                }
            ),
        )
        self._remember(reply)
        return reply

    def login(self, email, password):
        return self.submit("/accounts/login/", {"login": email, "password": password})


def test_console_revocation_is_refused_by_every_worker(start_gunicorn, redis_url, project, owner, figures):
    """Generate and revoke through the console served by gunicorn itself (DEBUG=0, behind the proxy
    header): the reveal and the revocation travel the production path."""
    server = start_gunicorn(redis_url=redis_url, workers=WORKERS)
    browser = Browser(server)
    login = browser.login(owner.email, PASSWORD)
    assert login.status == 302
    session_cookie = next(c for c in login.set_cookies if c.startswith("sessionid="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie
    reveal = browser.submit(
        f"/projects/{project.slug}/keys/new/", {"name": "Worker test", "permissions": ["read"], "expiration": "90"}
    )
    assert reveal.status == 200, reveal.body[:300]
    found = live.find_keys(reveal.body.decode())
    assert len(found) == 1
    plaintext = found.pop()
    # The production profile, as served: the reveal is not stored anywhere on the way.
    assert "no-store" in reveal.headers["cache-control"]
    assert reveal.headers["strict-transport-security"].startswith("max-age=31536000")
    assert reveal.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in reveal.headers["content-security-policy"]
    key = ApiKey.objects.get(project=project, name="Worker test")

    def send():
        return server.get("/api/v1/key", headers=live.bearer(plaintext))

    before = until_every_worker(server, send)
    assert {r.status for r in before} == {200}, [r.body for r in before if r.status != 200][:3]
    assert {r.json()["id"] for r in before} == {key.key_id}

    revoke = browser.submit(f"/projects/{project.slug}/keys/{key.key_id}/revoke/", {})
    assert revoke.status == 302, (revoke.status, revoke.body[:300])
    revoked_at = time.time()

    after = until_every_worker(server, send)
    assert all(r.started > revoked_at for r in after)
    wrong = [(r.status, r.body[:120]) for r in after if r.status != 401 or r.error_code != "revoked_api_key"]
    assert not wrong, wrong
    assert all(r.headers.get("www-authenticate") == "Bearer" for r in after)
    assert all(r.headers["content-type"].startswith("application/json") for r in after)
    # The flood of refused requests wrote one security event, not one per request or per worker.
    assert KeyEvent.objects.filter(key_id=key.key_id, kind=EventKind.REVOKED_KEY_USED).count() == 1

    server.stop()
    scanned = live.assert_no_secrets({plaintext}, database=live.dump_database(), logs=server.log_text())
    figures.update(
        workers=WORKERS,
        requests_before=len(before),
        requests_after=len(after),
        workers_answering_after=len(set(server.pids_for(after).values())),
        scanned_bytes=scanned,
    )


@pytest.mark.parametrize("limit", [7])
def test_rate_limit_is_one_budget_across_workers(start_gunicorn, redis_url, project, console, figures, limit):
    plaintext = generate_through_console(console, project, "Limited")
    ApiKey.objects.filter(project=project, name="Limited").update(rate_limit_per_minute=limit)
    server = start_gunicorn(redis_url=redis_url, workers=WORKERS)
    total = limit * 6
    wait_for_fresh_window()
    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(lambda _: server.get("/api/v1/key", headers=live.bearer(plaintext)), range(total)))

    statuses = [r.status for r in replies]
    assert statuses.count(200) == limit, statuses
    assert statuses.count(429) == total - limit, statuses
    pids = set(server.pids_for(replies).values())
    assert len(pids) >= 2, "the burst must reach several workers to prove they share one budget"
    # Each allowed request saw its own count: the counter is atomic across processes.
    remaining = sorted(int(r.headers["x-ratelimit-remaining"]) for r in replies if r.status == 200)
    assert remaining == list(range(limit)), remaining
    for r in replies:
        assert r.headers["x-ratelimit-limit"] == str(limit)
        if r.status == 429:
            assert r.error_code == "rate_limited"
            assert 1 <= int(r.headers["retry-after"]) <= 60
    key = ApiKey.objects.get(project=project, name="Limited")
    assert KeyEvent.objects.filter(key_id=key.key_id, kind=EventKind.RATE_LIMITED).count() == 1
    server.stop()
    figures.update(
        limit=limit,
        requests=total,
        accepted=statuses.count(200),
        limited=statuses.count(429),
        workers_reached=len(pids),
    )


def test_login_throttle_is_shared_across_workers(start_gunicorn, redis_url, owner, settings, figures):
    server = start_gunicorn(redis_url=redis_url, workers=WORKERS)
    browser = Browser(server)
    attempts = 5  # allauth's per-account limit: settings.ACCOUNT_RATE_LIMITS["login_failed"] = "…,5/5m/key"
    with ThreadPoolExecutor(attempts) as pool:
        failures = list(pool.map(lambda _: Browser(server).login(owner.email, "wrong password"), range(attempts)))
    assert [r.status for r in failures] == [200] * attempts, [r.body[:200] for r in failures]
    assert len(set(server.pids_for(failures).values())) >= 2
    # The right password, from any worker, is now refused until the window passes.
    for _ in range(WORKERS * 2):
        reply = browser.login(owner.email, PASSWORD)
        assert reply.status == 200, (reply.status, reply.headers.get("location"))
        assert b"Too many failed login attempts" in reply.body
    server.stop()
    figures.update(failed_logins_allowed=attempts, workers=WORKERS)


def test_redis_down_rate_limit_fails_open_and_logins_work(start_gunicorn, project, console, owner, figures):
    plaintext = generate_through_console(console, project, "No cache")
    ApiKey.objects.filter(project=project, name="No cache").update(rate_limit_per_minute=3)
    dead_redis = f"redis://127.0.0.1:{live.free_port()}/0"  # nothing listens there
    server = start_gunicorn(redis_url=dead_redis, workers=2)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: server.get("/api/v1/questions", headers=live.bearer(plaintext)), range(20)))
    elapsed = time.monotonic() - started
    assert [r.status for r in replies] == [200] * 20, [(r.status, r.body[:200]) for r in replies if r.status != 200]
    assert all(r.headers["x-ratelimit-limit"] == "3" for r in replies)
    assert "cache unavailable" in server.log_text() and "rate limits off" in server.log_text()
    # A revoked key is still refused: failing open drops the throttle, never authentication.
    ApiKey.objects.filter(project=project, name="No cache").update(
        state="revoked", revoked_at=ApiKey.objects.get(project=project, name="No cache").created_at
    )
    refused = server.get("/api/v1/key", headers=live.bearer(plaintext))
    assert (refused.status, refused.error_code) == (401, "revoked_api_key")
    # The console keeps working: the login throttle fails open as well.
    reply = Browser(server).login(owner.email, PASSWORD)
    assert reply.status == 302, (reply.status, reply.body[:300])
    assert "Traceback" not in server.log_text()
    server.stop()
    figures.update(
        requests_with_redis_down=len(replies), seconds=round(elapsed, 2), statuses=sorted({r.status for r in replies})
    )
