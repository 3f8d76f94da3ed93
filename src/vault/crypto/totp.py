"""Time-based one-time passwords (RFC 6238, SHA-1, 6 digits, 30 s) for the console's optional second factor."""

from __future__ import annotations

import base64
import hmac
import secrets
from typing import TYPE_CHECKING
from urllib.parse import quote

import pyotp

if TYPE_CHECKING:
    from datetime import datetime

SECRET_BYTES = 20  # RFC 4226 recommends 160 bits
STEP = 30


def new_totp_secret() -> bytes:
    """A fresh random TOTP secret."""
    return secrets.token_bytes(SECRET_BYTES)


def totp_base32(secret: bytes) -> str:
    """The secret as authenticator apps take it (base32, no padding)."""
    return base64.b32encode(secret).decode().rstrip("=")


def totp_uri(secret: bytes, account: str, issuer: str = "Customer Vault") -> str:
    """An ``otpauth://`` URI for enrolling an authenticator app."""
    return (f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={totp_base32(secret)}"
            f"&issuer={quote(issuer)}&algorithm=SHA1&digits=6&period={STEP}")


def totp_code(secret: bytes, at: datetime) -> str:
    """The code valid at ``at``."""
    return pyotp.TOTP(totp_base32(secret), interval=STEP).at(at)


def totp_verify(secret: bytes, code: str, at: datetime, *, window: int = 1) -> int | None:
    """The time step ``code`` is valid for (±``window`` steps of clock drift), or None.

    The caller stores the step it accepted and refuses codes at or before it, so a code is used once.
    """
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(totp_base32(secret), interval=STEP)
    step = int(at.timestamp()) // STEP
    for delta in range(-window, window + 1):
        if hmac.compare_digest(totp.generate_otp(step + delta), code):
            return step + delta
    return None
