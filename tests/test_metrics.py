"""GET /metrics (keys_console/metrics.py): off without METRICS_TOKEN, a 404 without the token, and
the counters that matter to an operator. Across gunicorn's workers: tests/reliability/test_metrics_workers.py."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from api import keycache
from keys import keygen
from keys.models.api_key import KeyState
from keys_console import metrics
from tests.factories import ApiKeyFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.MIDDLEWARE = ["keys_console.metrics.MetricsMiddleware", *settings.MIDDLEWARE]


def samples(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_off_without_the_variable(client, settings):
    assert not settings.METRICS_TOKEN
    assert "keys_console.metrics.MetricsMiddleware" not in settings.MIDDLEWARE
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"X-API-Key": TOKEN},
    ],
)
def test_anything_but_the_token_is_a_404(client, metrics_on, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 404
    assert b"nbq_" not in response.content


def test_the_scrape_keeps_allowed_hosts(client, metrics_on, settings):
    settings.ALLOWED_HOSTS = ["keys.example.com"]
    assert client.get("/metrics", headers=SCRAPE, HTTP_HOST="evil.example").status_code == 400
    assert client.get("/metrics", headers=SCRAPE, HTTP_HOST="keys.example.com").status_code == 200


def test_requests_and_authentication_outcomes_are_counted(client, metrics_on, settings):
    settings.API_AUTH_FAILURES_PER_MINUTE = 2
    project = ProjectFactory(active_questions=10)
    good = ApiKeyFactory(project=project)
    revoked = ApiKeyFactory(project=project, state=KeyState.REVOKED, revoked_at=timezone.now())
    expired = ApiKeyFactory(project=project, expires_at=timezone.now() - timedelta(days=1))
    fenced = ApiKeyFactory(project=project, allowed_ips=["10.0.0.0/8"])
    unknown = keygen.generate_key()  # well formed, matches no key
    before = samples(client)

    def get(key, **extra):
        return client.get("/api/v1/key", headers={"Authorization": f"Bearer {key}"}, **extra).status_code

    assert [get(good.plaintext) for _ in range(3)] == [200] * 3
    assert get("nbq_live_" + "x" * 32) == 401  # malformed (checksum)
    assert get(revoked.plaintext) == 401
    assert get(expired.plaintext) == 401
    assert get(fenced.plaintext) == 403
    assert [get(unknown) for _ in range(3)] == [401, 401, 429]  # the third guess is throttled
    after = samples(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    outcomes = {o: delta("nbq_api_authentications_total", outcome=o) for o in metrics.AUTH_OUTCOMES}
    assert outcomes == {
        **dict.fromkeys(metrics.AUTH_OUTCOMES, 0),
        "ok": 3,
        "invalid": 1,
        "revoked": 1,
        "expired": 1,
        "ip_not_allowed": 1,
        "unknown": 2,
        "rate_limited": 1,
    }
    route = "api/v1/key"
    assert delta("nbq_http_requests_total", route=route, method="GET", status="200") == 3
    assert delta("nbq_http_requests_total", route=route, method="GET", status="401") == 4
    # a malformed key is refused before URL routing (api/invalid_keys.py)
    assert delta("nbq_http_requests_total", route="(unmatched)", method="GET", status="401") == 1
    assert delta("nbq_http_requests_total", route=route, method="GET", status="429") == 1
    assert delta("nbq_http_request_duration_seconds_count", route=route) == 9
    assert delta("nbq_http_request_duration_seconds_bucket", route=route, le="+Inf") == 9
    client.get("/no/such/page/token-abc123")
    assert value(samples(client), "nbq_http_requests_total", route="(unmatched)", method="GET", status="404") >= 1


def test_keys_by_status_and_the_task_queue_at_scrape_time(client, metrics_on):
    project = ProjectFactory(active_questions=10)
    ApiKeyFactory.create_batch(2, project=project)
    ApiKeyFactory(project=project, state=KeyState.REVOKED, revoked_at=timezone.now())
    ApiKeyFactory(project=project, expires_at=timezone.now() - timedelta(days=1))
    ApiKeyFactory(project=None, owner=UserFactory())
    found = samples(client)
    assert value(found, "nbq_api_keys", status="active", kind="project") == 2
    assert value(found, "nbq_api_keys", status="revoked", kind="project") == 1
    assert value(found, "nbq_api_keys", status="expired", kind="project") == 1
    assert value(found, "nbq_api_keys", status="active", kind="account") == 1
    assert ("nbq_task_queue_depth", frozenset()) in found
    assert ("nbq_tasks", frozenset({("status", "FAILED")})) in found


def test_cache_fallbacks_and_the_breaker(client, metrics_on, settings):
    keycache.breaker.reset()
    before = samples(client)

    def boom():
        raise ConnectionError("redis away")

    assert keycache.breaker.run(boom) is None
    assert keycache.breaker.run(lambda: 1) is None  # paused: not even tried
    found = samples(client)
    assert (
        value(found, "nbq_cache_fallbacks_total", reason="error")
        - value(before, "nbq_cache_fallbacks_total", reason="error")
        == 1
    )
    assert (
        value(found, "nbq_cache_fallbacks_total", reason="paused")
        - value(before, "nbq_cache_fallbacks_total", reason="paused")
        == 1
    )
    assert value(found, "nbq_cache_breaker_open") == 1
    keycache.breaker.paused_until = 1.0  # the pause is over
    assert keycache.breaker.run(lambda: 7) == 7
    assert value(samples(client), "nbq_cache_breaker_open") == 0
    keycache.breaker.reset()
