"""The OpenAPI document and its docs page: no key needed, and nothing loaded from outside."""

import re

import pytest

pytestmark = pytest.mark.django_db

CONTRACT_OPERATIONS = {
    ("get", "/api/v1/key"),
    ("get", "/api/v1/questions"),
    ("post", "/api/v1/questions"),
    ("get", "/api/v1/questions/{question_id}"),
    ("patch", "/api/v1/questions/{question_id}"),
    ("delete", "/api/v1/questions/{question_id}"),
    ("post", "/api/v1/next-question"),
    ("post", "/api/v1/invitations"),
    ("get", "/api/v1/usage"),
}
# Every route also under /api/v1/projects/{slug}/ (account keys must use that form).
CONTRACT_OPERATIONS |= {
    (method, path.replace("/api/v1/", "/api/v1/projects/{slug}/")) for method, path in CONTRACT_OPERATIONS
}
# Reports of leaked keys need no key and name no project: one form each.
CONTRACT_OPERATIONS |= {("post", "/api/v1/leaked-keys"), ("post", "/api/v1/secret-scanning/github")}


def test_openapi_document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert operations == CONTRACT_OPERATIONS
    schemes = document["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= schemes["BearerKey"].items()
    assert {"type": "apiKey", "in": "header", "name": "X-API-Key"}.items() <= schemes["HeaderKey"].items()
    get_key = document["paths"]["/api/v1/key"]["get"]
    assert {"BearerKey": []} in get_key["security"] and {"HeaderKey": []} in get_key["security"]
    in_project = document["paths"]["/api/v1/projects/{slug}/questions/{question_id}"]["patch"]
    assert {"in": "path", "name": "slug", "required": True}.items() <= in_project["parameters"][0].items()
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids)) == 20
    assert in_project["operationId"] == "updateQuestionInProject"
    key_out = document["components"]["schemas"]["KeyOut"]["properties"]
    assert {"kind", "scope", "project"} <= set(key_out)
    question = document["components"]["schemas"]["QuestionOut"]["properties"]
    assert set(question) == {"id", "text", "priority", "is_active", "created_at", "updated_at"}
    assert "X-RateLimit-Limit" in document["info"]["description"]
    priority = document["components"]["schemas"]["QuestionIn"]["properties"]["priority"]
    assert (priority["type"], priority["minimum"], priority["maximum"]) == ("integer", -1_000_000, 1_000_000)


def test_docs_page_works_offline(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s\"'<>]+", html)
    assert re.search(r'"validatorUrl":\s*null', html)  # no badge fetched from validator.swagger.io
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        asset_response = client.get(asset)
        assert asset_response.status_code == 200, asset
        body = b"".join(asset_response.streaming_content) if asset_response.streaming else asset_response.content
        assert body


def test_docs_need_no_key_but_the_api_does(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/key").status_code == 401


def test_every_route_documents_500_and_503_with_the_error_body(client):
    document = client.get("/api/v1/openapi.json").json()
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("500", "503"):
                assert responses.get(status, {}).get("content") == error, (method, path, status)
            assert "Retry-After" in responses["503"]["headers"], (method, path)
    assert {"code", "message"} <= set(document["components"]["schemas"]["ErrorDetail"]["properties"])


def test_invitation_email_is_an_email_and_a_duplicate_is_a_409(client):
    document = client.get("/api/v1/openapi.json").json()
    email = document["components"]["schemas"]["InvitationIn"]["properties"]["email"]
    assert email["format"] == "email" and email["maxLength"] == 254
    for path in ("/api/v1/invitations", "/api/v1/projects/{slug}/invitations"):
        assert "409" in document["paths"][path]["post"]["responses"], path


def test_slug_parameter_is_described_as_a_slug(client):
    document = client.get("/api/v1/openapi.json").json()
    slug = document["paths"]["/api/v1/projects/{slug}/questions"]["get"]["parameters"][0]
    assert slug["schema"]["pattern"] == "^[-a-zA-Z0-9_]+$" and slug["schema"]["maxLength"] == 120
    assert all("{projectslug" not in path for path in document["paths"])
