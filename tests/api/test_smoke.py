import pytest
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def test_smoke(client, key):
    r = client.get("/api/v1/key", headers=bearer(key))
    print(r.status_code, r.content, dict(r.headers))
    r = client.get("/api/v1/questions?limit=2", headers=bearer(key))
    print(r.status_code, r.content, dict(r.headers))
    r = client.post("/api/v1/questions", {"text": " "}, content_type="application/json", headers=bearer(key))
    print(r.status_code, r.content)
    r = client.post("/api/v1/questions", "{bad", content_type="application/json", headers=bearer(key))
    print(r.status_code, r.content)
    r = client.post("/api/v1/next-question", content_type="application/json", headers=bearer(key))
    print(r.status_code, r.content)
    r = client.post("/api/v1/next-question", [1], content_type="application/json", headers=bearer(key))
    print(r.status_code, r.content)
    r = client.get("/api/v1/questions?limit=0&offset=x", headers=bearer(key))
    print(r.status_code, r.content)
    r = client.put("/api/v1/key", headers=bearer(key))
    print(r.status_code, r.content, dict(r.headers))
    r = client.get("/api/v1/nope")
    print(r.status_code, r.content)
    r = client.get("/api/v1/")
    print(r.status_code, r.content)
    r = client.get("/api/v1/key")
    print(r.status_code, r.content, dict(r.headers))
    r = client.get("/api/v1/questions/%d" % 2**70, headers=bearer(key))
    print(r.status_code, r.content)
    r = client.patch("/api/v1/questions/1", {"text": None}, content_type="application/json", headers=bearer(key))
    print(r.status_code, r.content)
    r = client.post("/api/v1/invitations", {"email": "A@example.com"}, content_type="application/json", headers=bearer(key))
    print(r.status_code, r.content)
    r = client.post("/api/v1/invitations", {"email": "nope"}, content_type="application/json", headers=bearer(key))
    print(r.status_code, r.content)
