"""The project's own docs stand alone and agree with the code: docs/api.md lists exactly the
routes of the OpenAPI document and every error code the API can answer with; no file points
outside the repository."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
API_DOC = REPO / "docs" / "api.md"
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`\s]*)`")
# Codes as the API code writes them: `code = "x"`, `403, "x"`, `400: "x"`, `NotAuthenticated("x"`,
# `_failed(request, now, "x"`.
CODE = re.compile(
    r'(?:\bcode\s*=\s*|\b\d{3}\s*[:,]\s*|NotAuthenticated\(\s*|_failed\(\s*\w+,\s*\w+,\s*)"([a-z]+(?:_[a-z]+)+)"'
)
SERVED_OUTSIDE_THE_DOCUMENT = {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")}


@pytest.fixture
def openapi(client):
    return client.get("/api/v1/openapi.json").json()


def documented_routes() -> set[tuple[str, str]]:
    return set(ROUTE.findall(API_DOC.read_text()))


def test_api_doc_lists_every_route_of_the_openapi_document_and_no_other(openapi):
    in_openapi = {(method.upper(), path) for path, ops in openapi["paths"].items() for method in ops}
    assert in_openapi, "the OpenAPI document lists no routes"
    documented = documented_routes()
    assert in_openapi - documented == set(), "routes missing from docs/api.md"
    assert documented - in_openapi - SERVED_OUTSIDE_THE_DOCUMENT == set(), "docs/api.md lists routes the API lacks"


def api_error_codes() -> set[str]:
    return {code for path in (REPO / "api").rglob("*.py") for code in CODE.findall(path.read_text())}


def test_api_doc_names_every_error_code_the_api_uses():
    codes = api_error_codes()
    assert {"invalid_request", "missing_api_key", "revoked_api_key", "rate_limited", "service_unavailable"} <= codes
    text = API_DOC.read_text()
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert not missing, f"error codes missing from docs/api.md: {missing}"


def test_api_doc_names_the_rate_limit_headers_and_default():
    from django.conf import settings

    text = API_DOC.read_text()
    for header in (
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Retry-After",
        "WWW-Authenticate",
        "X-Request-ID",
    ):
        assert f"`{header}" in text, header
    assert f"**{settings.API_KEY_RATE_LIMIT_PER_MINUTE} requests a minute**" in text


def test_no_tracked_file_refers_outside_the_repository():
    tracked = subprocess.run(["git", "grep", "-n", "-I", r"\.\./shared"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode not in (0, 1):
        pytest.skip(f"not a git checkout: {tracked.stderr.strip()}")
    hits = [line for line in tracked.stdout.splitlines() if not line.startswith("tests/test_docs.py:")]
    assert hits == [], hits


def test_readme_links_the_docs_that_exist():
    readme = (REPO / "README.md").read_text()
    for name in ("docs/api.md", "docs/architecture.md", "CHANGELOG.md", "LICENSE"):
        assert (REPO / name).exists(), name
        assert f"({name})" in readme, f"README does not link {name}"


def _fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_security_doc_gitleaks_rule_and_checksum_snippet_match_real_keys():
    import tomllib

    from keys import keygen

    text = (REPO / "docs" / "security.md").read_text()
    (rule_text,) = [block for block in _fenced(text, "toml") if "nbq-api-key" in block]
    (rule,) = tomllib.loads(rule_text)["rules"]
    pattern = re.compile(rule["regex"])
    keys = [keygen.generate_key(prefix) for prefix in (keygen.LIVE_PREFIX, keygen.TEST_PREFIX) for _ in range(100)]
    for key in keys:
        found = pattern.search(f'API_KEY="{key}"\n')
        assert found is not None and found.group(rule["secretGroup"]) == key
    assert pattern.search("nbq_live_short") is None
    (snippet,) = [block for block in _fenced(text, "python") if "def is_nbq_key" in block]
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 (our own documentation)
    is_nbq_key = namespace["is_nbq_key"]
    assert all(is_nbq_key(key) for key in keys)
    typo = keys[0][:-1] + ("A" if keys[0][-1] != "A" else "B")
    assert not is_nbq_key(typo) and not keygen.is_well_formed(typo)
    assert not is_nbq_key("nbq_live_" + "a" * 32)
