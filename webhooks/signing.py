"""Signing secrets: made, stored, and used to sign (Standard Webhooks).

A secret is `whsec_` + base64 of 32 random bytes; the bytes are the HMAC-SHA256 key. It is shown
to a person once (Add endpoint, Rotate secret). To sign, the server must read it back, so it is
stored **encrypted** (Fernet: AES-128-CBC + HMAC-SHA256), with a key derived from `SECRET_KEY` by
HKDF-SHA256; `SECRET_KEY_FALLBACKS` still decrypt, so the usual key rotation keeps endpoints
working. A database dump alone never yields a secret; the secret never enters a log, a URL, the
session, a task's arguments or an error report (`sensitive_variables`).
"""

import base64
import hashlib
import hmac
import secrets as random

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretUnreadable(Exception):
    """The stored secret cannot be decrypted (SECRET_KEY changed without a fallback)."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode()


def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"nbq-keys-console webhook secrets").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _keyring() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(k) for k in keys])


@sensitive_variables("secret")
def encrypt(secret: str) -> str:
    return _keyring().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _keyring().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("The endpoint's signing secret cannot be read: rotate it.") from None


@sensitive_variables("secret", "key")
def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the secret's base64 part."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
