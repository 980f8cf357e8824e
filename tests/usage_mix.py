"""The known mix of issue #31, sent through the real API by one key: 12 × 200 on listQuestions,
3 × 404 `not_found`, 2 × 403 `insufficient_permission`, 5 × 429 `rate_limited`, from two client
addresses (one direct, one IPv6 behind a trusted proxy). Details, the Usage tab, its CSV and
`GET /api/v1/usage` must all show exactly these numbers."""

from django.utils import timezone

from api import usage
from tests.factories import ApiKeyFactory

DIRECT = "203.0.113.7"
BEHIND_PROXY = "2001:db8::7"
AGENT = "python-httpx/0.28.1"

# (endpoint, status, code) -> requests
EXPECTED = {
    ("listQuestions", 200, ""): 12,
    ("getQuestion", 404, "not_found"): 3,
    ("createQuestion", 403, "insufficient_permission"): 2,
    ("listQuestions", 429, "rate_limited"): 5,
}
TOTAL = sum(EXPECTED.values())  # 22
REFUSED = TOTAL - 12  # 10


def known_mix_key(project):
    """A read-only key whose rate limit lets the first 17 requests of a minute through."""
    return ApiKeyFactory(project=project, permissions=["read"], rate_limit_per_minute=17, name="Nightly import")


def send_known_mix(client, key, settings, monkeypatch) -> None:
    """Send the mix inside one rate-limit window (the API's clock frozen mid-minute), then flush."""
    now = timezone.now().replace(second=30, microsecond=0)
    settings.TRUSTED_PROXIES = 1
    with monkeypatch.context() as patched:
        patched.setattr("api.clock.now", lambda: now)
        _send(client, key)
    usage.flush_usage()


def _send(client, key) -> None:
    auth = {"Authorization": f"Bearer {key.plaintext}", "User-Agent": AGENT}
    direct = {"REMOTE_ADDR": DIRECT}
    proxied = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": BEHIND_PROXY}
    statuses = []
    for i in range(12):
        statuses.append(client.get("/api/v1/questions", headers=auth, **(direct if i < 6 else proxied)).status_code)
    for _ in range(3):
        statuses.append(client.get("/api/v1/questions/999999", headers=auth, **direct).status_code)
    for _ in range(2):
        statuses.append(
            client.post(
                "/api/v1/questions", {"text": "x"}, content_type="application/json", headers=auth, **proxied
            ).status_code
        )
    for _ in range(5):
        statuses.append(client.get("/api/v1/questions", headers=auth, **proxied).status_code)
    assert statuses == [200] * 12 + [404] * 3 + [403] * 2 + [429] * 5, statuses
