"""API key material: generation, well-formedness (checksum), hashing and masking.

A key is ``nbq_live_`` (or ``nbq_test_``: a Sandbox's test key, keys/sandbox.py) + 32 base62
characters: 26 random characters from `secrets` (26 * log2(62) = 154.8 bits) followed by a
6-character checksum, the CRC32 of those 26 characters written in base62. The checksum lets the
API reject typos and made-up keys without a database query, and lets secret scanners check a
candidate offline. Both prefixes have the same length and the same rules; the prefix is part of
the secret (it is hashed with the rest), so a test key cannot be turned into a live one.
"""

import hmac
import re
import secrets
import string
import zlib

from django.conf import settings

LIVE_PREFIX = "nbq_live_"
TEST_PREFIX = "nbq_test_"
PREFIX = LIVE_PREFIX  # the prefix of every key but a Sandbox's
PREFIX_LENGTH = len(LIVE_PREFIX)
assert len(TEST_PREFIX) == PREFIX_LENGTH
ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase  # base62
RANDOM_LENGTH = 26
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
KEY_PATTERN = re.compile(r"nbq_(?:live|test)_[A-Za-z0-9]{32}")  # docs/security.md gives it to scanners
KEY_ID_PREFIX = "key_"


# Every key of every API request has its checksum worked out, so it is written with a table of the
# 62 * 62 two-digit base62 numbers: three divisions instead of six (a CRC32 is < 62 ** 6).
_PAIRS = [first + second for first in ALPHABET for second in ALPHABET]
_PAIR = len(_PAIRS)
assert 62**CHECKSUM_LENGTH >= 2**32 and CHECKSUM_LENGTH == 6


def checksum(random_part: str) -> str:
    """The CRC32 of the random part, in 6 base62 digits (most significant first, `0`-padded)."""
    high, low = divmod(zlib.crc32(random_part.encode("ascii")), _PAIR)
    high, middle = divmod(high, _PAIR)
    return _PAIRS[high] + _PAIRS[middle] + _PAIRS[low]


def generate_key(prefix: str = LIVE_PREFIX) -> str:
    if prefix not in (LIVE_PREFIX, TEST_PREFIX):
        raise ValueError(f"unknown key prefix {prefix!r}")
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return prefix + random_part + checksum(random_part)


def is_well_formed(candidate: str) -> bool:
    """Format and checksum only: no database, no secrets compared."""
    if len(candidate) != KEY_LENGTH or not KEY_PATTERN.fullmatch(candidate):
        return False
    body = candidate[PREFIX_LENGTH:]
    # ASCII only (the pattern says so): compared as strings, in constant time all the same.
    return hmac.compare_digest(checksum(body[:RANDOM_LENGTH]), body[RANDOM_LENGTH:])


def hash_key(key: str) -> str:
    """The stored form of a key (deterministic for the current scheme: see settings)."""
    return settings.API_KEY_CRYPT_CONTEXT.hash(key)


def verify_key(key: str, stored_hash: str) -> bool:
    """Constant-time check of a key against its stored hash."""
    return settings.API_KEY_CRYPT_CONTEXT.verify(key, stored_hash)


def new_key_id() -> str:
    """Public identifier of a key: random, unrelated to the secret, safe to show and log."""
    return KEY_ID_PREFIX + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(16))


def mask(last4: str, prefix: str = LIVE_PREFIX) -> str:
    return f"{prefix}…{last4}"
