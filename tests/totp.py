"""RFC 6238 codes computed in the tests themselves (what an authenticator app shows)."""

import base64
import hashlib
import hmac
import struct
import time


def totp_code(secret_b32: str, *, at: float | None = None, period: int = 30, digits: int = 6) -> str:
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // period)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return f"{value:0{digits}}"


def fresh_totp_code(secret_b32: str, *, period: int = 30, margin: float = 6.0) -> str:
    """A code with at least `margin` seconds left in its period, so that it is still the current
    code when the server checks it (a code read at 29.9 s would be stale on arrival)."""
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.05)
    return totp_code(secret_b32, period=period)
