"""POST /secret-scanning/github: GitHub's secret-scanning partner endpoint.

GitHub posts, signed (`api.secret_scanning`), a JSON array of matches `{"token", "type", "url",
"source"}` the moment one of our keys is pushed to a public repository, gist, issue or package.
A missing or bad signature is a 401 and nothing changes. Otherwise every reported token that is
one of our live keys is revoked at once (`keys.leaks`: the event log names the URL, the owners get
a mail), and the answer is GitHub's feedback array: one `{"token_hash", "token_type", "label"}` per
token, `true_positive` for a key of ours (whatever its status), `false_positive` otherwise.
"""

import json

from django.http import JsonResponse
from ninja import Router

from keys.leaks import report_leaked_keys, token_hash
from projects.actors import Actor

from ..errors import ApiError, InvalidRequest
from ..schemas import ErrorOut, SecretScanningFeedbackOut, SecretScanningMatchIn
from ..secret_scanning import signature_is_valid

router = Router(tags=["Secret scanning"])

TOKEN_TYPE = "nbq_api_key"
REPORTER = "GitHub secret scanning"
SIGNATURE_HEADERS = [
    {
        "in": "header",
        "name": name,
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }
    for name, description in (
        ("GITHUB-PUBLIC-KEY-IDENTIFIER", "The id of GitHub's signing key."),
        ("GITHUB-PUBLIC-KEY-SIGNATURE", "Base64 DER ECDSA (P-256, SHA-256) signature of the raw body."),
    )
]
MATCHES_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "array", "items": SecretScanningMatchIn.model_json_schema(), "maxItems": 1000}
        }
    },
}
MAX_MATCHES = 1000


class InvalidSignature(ApiError):
    status, code = 401, "invalid_signature"


@router.post(
    "/secret-scanning/github",
    auth=None,
    response={200: list[SecretScanningFeedbackOut], 400: ErrorOut, 401: ErrorOut},
    operation_id="githubSecretScanning",
    summary="GitHub secret scanning: tokens found in public (signed by GitHub)",
    openapi_extra={"parameters": SIGNATURE_HEADERS, "requestBody": MATCHES_BODY},
)
def github_secret_scanning(request):
    """GitHub's partner protocol. The signature is checked against GitHub's published public keys
    before anything is read; then every live key among the tokens is revoked. 401
    `invalid_signature` when the signature is missing or does not verify (nothing changes)."""
    body = request.body
    if not signature_is_valid(
        body,
        request.headers.get("GITHUB-PUBLIC-KEY-IDENTIFIER"),
        request.headers.get("GITHUB-PUBLIC-KEY-SIGNATURE"),
    ):
        raise InvalidSignature("Missing or invalid GitHub signature.")
    matches = _matches(body)
    feedback = []
    for match in matches:
        token = match.token
        (verdict,) = report_leaked_keys(
            [token],
            found_at=match.url or match.source or "GitHub",
            reporter=f"{REPORTER} ({match.source})" if match.source else REPORTER,
            actor=Actor(user=None, label=REPORTER, ip=None),
        )
        feedback.append(
            {
                "token_hash": token_hash(token),
                "token_type": TOKEN_TYPE,
                "label": "true_positive" if verdict.ours else "false_positive",
            }
        )
    return JsonResponse(feedback, safe=False)


def _matches(body: bytes) -> list[SecretScanningMatchIn]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body must be a JSON array of matches.") from None
    if not isinstance(document, list) or len(document) > MAX_MATCHES:
        raise InvalidRequest(f"The body must be a JSON array of at most {MAX_MATCHES} matches.")
    try:
        return [SecretScanningMatchIn.model_validate(item) for item in document]
    except ValueError:
        raise InvalidRequest("Each match needs a `token` (a string), and `type`, `url`, `source` as strings.") from None
