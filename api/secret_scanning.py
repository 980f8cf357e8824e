"""GitHub secret scanning's partner protocol: is a report really from GitHub?

GitHub signs each report's raw body with ECDSA (P-256, SHA-256) and sends the signature (base64,
DER) in `GITHUB-PUBLIC-KEY-SIGNATURE` and the id of its key in `GITHUB-PUBLIC-KEY-IDENTIFIER`. Its
public keys are published as JSON, `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`,
at settings.SECRET_SCANNING_GITHUB_KEYS_URL (GitHub's meta endpoint by default; a `file://` URL
reads the same JSON from disk: tests, air-gapped installs).

The keys are kept in Django's cache for a day and fetched again when a report names a key id we
do not know (GitHub rotated its keys). A fetch that did not find the id (or failed) holds further
fetches off for a minute: a stream of made-up ids never turns into a stream of requests to GitHub.

Replays: a signed report carries no nonce or timestamp in GitHub's protocol, so whoever saw one (a
proxy's log, say) can send it again and it verifies again. That is harmless by design: handling a
report is idempotent (a key already revoked stays revoked, no second event or mail is written:
`keys.leaks.report_leaked_keys` acts only on keys that still authenticate), and the answer names
only token hashes the sender already had. Kept as it is, documented (docs/security.md).
"""

import base64
import binascii
import json
import logging
import urllib.request
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("api")

CACHE_NAME = "secret-scanning:github:public-keys"
REFETCH_GUARD = "secret-scanning:github:refetched"
KEYS_TTL = 24 * 3600
REFETCH_INTERVAL = 60
FETCH_TIMEOUT = 5
MAX_KEYS_DOCUMENT = 1_000_000  # bytes


class KeysUnavailable(Exception):
    """GitHub's public keys could not be read (network, bad JSON)."""


def fetch_public_keys() -> dict[str, str]:
    """{key_identifier: PEM} from SECRET_SCANNING_GITHUB_KEYS_URL (https or file; never plain http,
    whose keys anyone on the path could replace: settings refuse it at start, and so does this)."""
    url = settings.SECRET_SCANNING_GITHUB_KEYS_URL
    if urlsplit(url).scheme not in ("https", "file"):
        raise KeysUnavailable(f"SECRET_SCANNING_GITHUB_KEYS_URL must be an https:// or file:// URL, not {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "nbq-keys-console"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 (scheme checked above)
            document = json.loads(response.read(MAX_KEYS_DOCUMENT + 1)[:MAX_KEYS_DOCUMENT])
        keys = {
            str(entry["key_identifier"]): str(entry["key"])
            for entry in document["public_keys"]
            if isinstance(entry, dict) and entry.get("key_identifier") and entry.get("key")
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeysUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return keys


def public_key_pem(identifier: str) -> str | None:
    """The PEM of GitHub's key `identifier`: from the cache, or fetched (first use, or an id we do
    not know yet, at most once a minute). None if GitHub has no such key (or it cannot be read)."""
    keys = cache.get(CACHE_NAME)
    if keys is not None and identifier in keys:
        return keys[identifier]
    if not cache.add(REFETCH_GUARD, 1, timeout=REFETCH_INTERVAL):
        return None  # a fetch that did not know this id (or failed) less than a minute ago
    try:
        keys = fetch_public_keys()
    except KeysUnavailable as exc:
        logger.error("Secret scanning: GitHub's public keys are unavailable (%s)", exc)
        return None
    cache.set(CACHE_NAME, keys, timeout=KEYS_TTL)
    if identifier in keys:
        cache.delete(REFETCH_GUARD)  # GitHub's own id: the next rotation may fetch at once
    return keys.get(identifier)


def signature_is_valid(body: bytes, identifier: str | None, signature: str | None) -> bool:
    """True when `signature` (base64 DER ECDSA P-256/SHA-256) signs `body` with GitHub's key `identifier`."""
    if not identifier or not signature:
        return False
    pem = public_key_pem(identifier.strip())
    if pem is None:
        return False
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except (ValueError, binascii.Error):
        # The sender's mistake (or a probe), not ours: a 401 whose request line the log folds
        # like any other failure; never an ERROR (or a Sentry event) per request (issue #27, 7).
        return False
    try:
        public_key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):  # GitHub's published key itself: ours to look at, logged
        logger.error("Secret scanning: GitHub's public key %s is unreadable", identifier)
        return False
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        return False
    try:
        public_key.verify(der, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
