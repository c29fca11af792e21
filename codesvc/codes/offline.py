"""Checking a code at a door with no network: the ES256 signature against a cached JWKS.

This module is what a door device installs: it needs PyJWT and nothing of the service
(no database driver, no web server), so ``from codesvc.codes import verify_offline`` loads
neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

ALGORITHM = "ES256"
COLORS = ("green", "yellow", "red")


class CodeRejected(Exception):
    """A code that cannot be trusted. ``reason`` is what a scanner shows; the message says more.

    Reasons: ``malformed`` (not a code), ``forged`` (altered or badly signed), ``expired``,
    ``unknown_key`` (offline: not signed by a key in your JWKS), ``foreign`` (online: issued
    by another deployment).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OfflineVerdict:
    """What an offline scanner may show: the colour, when it was computed and how long ago."""

    color: str
    as_of: datetime
    age_seconds: float
    expires_at: datetime
    kid: str


def verify_offline(
    code: str, jwks: Mapping[str, Any], now: datetime | None = None, leeway: float = 0.0
) -> OfflineVerdict:
    """Check a code with a cached JWKS, no network: signature, key and expiry.

    Returns the colour, when it was computed and how many seconds ago (``age_seconds``),
    so a scanner can show how old its answer is; raises ``CodeRejected`` otherwise.
    """
    now = now or datetime.now(UTC)
    try:
        header = jwt.get_unverified_header(code)
    except jwt.PyJWTError:
        raise CodeRejected("malformed", "This is not a health code.") from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM:
        raise CodeRejected("forged", f"The code is signed with {header.get('alg')!r}, not ES256.")
    jwk = next((k for k in jwks.get("keys", ()) if k.get("kid") == kid), None)
    if jwk is None:
        raise CodeRejected(
            "unknown_key",
            f"The code is signed by key {kid!r}, which is not in your key set: fetch /v1/keys "
            "again; if the key is still missing, the code was not issued by this service.",
        )
    try:
        claims = jwt.decode(
            code,
            jwt.PyJWK(dict(jwk), algorithm=ALGORITHM),
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "at", "ref"]},
        )
    except jwt.InvalidSignatureError:
        raise CodeRejected(
            "forged", "The code's signature does not verify: it was altered."
        ) from None
    except jwt.PyJWTError as exc:
        raise CodeRejected("malformed", f"This is not a valid health code: {exc}.") from None
    color, at, exp = claims.get("color"), claims["at"], claims["exp"]
    if color not in COLORS or not isinstance(at, int) or not isinstance(exp, int):
        raise CodeRejected("malformed", "The code does not carry a colour and its time.")
    expires_at = datetime.fromtimestamp(exp, UTC)
    if now.timestamp() >= exp + leeway:
        raise CodeRejected(
            "expired", "This code has expired; ask the person to refresh it and scan again."
        )
    as_of = datetime.fromtimestamp(at, UTC)
    return OfflineVerdict(color, as_of, (now - as_of).total_seconds(), expires_at, str(kid))
