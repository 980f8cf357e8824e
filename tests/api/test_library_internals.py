"""What stays of the speed work that leans on a library's internals or restates a schema (issue #27,
"Speed without internals"; the table in docs/performance.md), each with a test that fails when a
library upgrade or a schema change breaks its equivalence. (The hand-written JSON of GET /key and of
the question reads is checked byte for byte against the schema path, for every field, by
tests/api/test_key_json.py and tests/api/test_question_queries.py.)"""

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api import auth
from api.invalid_keys import presented_key

header = st.one_of(
    st.none(),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60),
    st.sampled_from(["Bearer nbq_live_x", "bearer  k ", "Basic abc", "Bearer", " Bearer k", "Token k", "Bearer \t"]),
)


def _what_the_auth_classes_check(meta: dict) -> str | None:
    """The key api/auth.py's BearerKey then HeaderKey hand to authenticate_key (stripped as it
    strips it), or None when neither gets that far (they return None or refuse before a key)."""
    from django.test import RequestFactory

    request = RequestFactory().get("/api/v1/key", **meta)
    seen: list[str] = []

    def record(_request, presented):
        seen.append(presented.strip())
        raise auth.NotAuthenticated("invalid_api_key", "stop")

    original = auth.authenticate_key
    auth.authenticate_key = record
    try:
        for scheme in auth.API_KEY_AUTH:
            try:
                if scheme(request) is not None:
                    break
            except auth.NotAuthenticated:
                break
    finally:
        auth.authenticate_key = original
    return (seen[0] or None) if seen else None


@settings(max_examples=300, deadline=None)
@given(authorization=header, x_api_key=header)
def test_the_copied_header_parsing_reads_the_key_the_auth_classes_read(authorization, x_api_key):
    """api/invalid_keys.py reads the presented key itself (to refuse malformed keys before the rest of
    the stack): it must read exactly the key the API's own authentication classes read."""
    meta = {}
    if authorization is not None:
        meta["HTTP_AUTHORIZATION"] = authorization
    if x_api_key is not None:
        meta["HTTP_X_API_KEY"] = x_api_key
    assert presented_key(meta) == _what_the_auth_classes_check(meta)


def test_the_openapi_document_builds_without_django_ninjas_duplicate_warning():
    """api/api.py takes each operation's id out of django-ninja's `all_operation_ids` before it is
    described a second time (each router serves two forms). If an upgrade renames or drops that
    set, this fails instead of the document quietly warning or losing an operation."""
    from api.api import RuntimeSchema, api

    schema = RuntimeSchema(api=api, path_prefix="/api/v1/")
    assert isinstance(schema.all_operation_ids, set)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        document = api.get_openapi_schema()
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) and "updateQuestionInProject" in ids


@pytest.mark.django_db
def test_a_cached_key_copy_is_copy_copy(key):
    """No hand-made model copy any more: each request's key is `copy.copy` of the shared one."""
    import json

    from api import keyrecord

    record = json.dumps(keyrecord.record_of(key))
    mine = keyrecord.own_key_of_record(record, key.key_hash)
    assert vars(mine).keys() == vars(keyrecord.key_of_record(record, key.key_hash)).keys() | {"_django_version"}


def test_the_temporal_response_is_django_ninjas_own_made_from_bytes(rf):
    """RuntimeApi.create_temporal_response (kept: ~2 % of a served GET /key, docs/performance.md)
    answers what django-ninja's own would: same class, status, content, headers and charset."""
    from ninja import NinjaAPI

    from api.api import api

    request = rf.get("/api/v1/key")
    ours, theirs = api.create_temporal_response(request), NinjaAPI.create_temporal_response(api, request)
    assert type(ours) is type(theirs)
    assert (ours.status_code, ours.content, ours.charset) == (theirs.status_code, theirs.content, theirs.charset)
    assert dict(ours.items()) == dict(theirs.items())
