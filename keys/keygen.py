"""API key material: generation, well-formedness (checksum), hashing and masking.

A key is ``nbq_live_`` + 32 base62 characters: 26 random characters from `secrets`
(26 * log2(62) = 154.8 bits) followed by a 6-character checksum, the CRC32 of those 26
characters written in base62. The checksum lets the API reject typos and made-up keys
without a database query, and lets secret scanners check a candidate offline.
"""

import re
import secrets
import string
import zlib

from django.conf import settings
from django.utils.crypto import constant_time_compare

PREFIX = "nbq_live_"
ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase  # base62
RANDOM_LENGTH = 26
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
KEY_PATTERN = re.compile(r"nbq_live_[A-Za-z0-9]{32}")
KEY_ID_PREFIX = "key_"


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, ALPHABET[0])


def checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def generate_key() -> str:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return PREFIX + random_part + checksum(random_part)


def is_well_formed(candidate: str) -> bool:
    """Format and checksum only: no database, no secrets compared."""
    if len(candidate) != KEY_LENGTH or not KEY_PATTERN.fullmatch(candidate):
        return False
    body = candidate[len(PREFIX) :]
    return constant_time_compare(checksum(body[:RANDOM_LENGTH]), body[RANDOM_LENGTH:])


def hash_key(key: str) -> str:
    """The stored form of a key (deterministic for the current scheme: see settings)."""
    return settings.API_KEY_CRYPT_CONTEXT.hash(key)


def verify_key(key: str, stored_hash: str) -> bool:
    """Constant-time check of a key against its stored hash."""
    return settings.API_KEY_CRYPT_CONTEXT.verify(key, stored_hash)


def new_key_id() -> str:
    """Public identifier of a key: random, unrelated to the secret, safe to show and log."""
    return KEY_ID_PREFIX + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(16))


def mask(last4: str) -> str:
    return f"{PREFIX}…{last4}"
