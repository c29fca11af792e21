"""Enrolment codes: how a venue's device gets its own scanner token without a pasted one.

The commission makes a code for a venue (``codesvc venue enroll VENUE`` or the route); the
device enters or scans it once on ``/scanner`` and receives a long-lived scanner token
whose ``sub`` is the venue, so revoking the venue refuses it like every other. A code is
12 characters of Crockford base32 (60 random bits), single use, valid for a day; only its
SHA-256 is stored, so the table cannot be read back into working codes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import asyncpg

from codesvc.service import audit_log

#: Crockford's base32: no I, L, O or U, so a code read aloud or typed is hard to get wrong.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
VALID_FOR = timedelta(hours=24)
#: What people mistype for what they meant (Crockford's decoding rules).
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, LENGTH, 4))


def normalize(code: str) -> str:
    """A code as typed (any case, spaces or dashes, O for 0) in its one canonical form."""
    return "".join(c for c in code.upper() if c.isalnum()).translate(_READ_AS)


def code_hash(code: str) -> bytes:
    return hashlib.sha256(normalize(code).encode()).digest()


async def create(
    conn: asyncpg.Connection, venue: str, actor: audit_log.Actor, now: datetime
) -> tuple[str, datetime] | None:
    """A new enrolment code for ``venue`` and when it expires; None if the venue is revoked."""
    code = new_code()
    expires_at = now + VALID_FOR
    async with conn.transaction():
        if await conn.fetchval("SELECT 1 FROM venue_revocations WHERE venue = $1", venue):
            return None
        await conn.execute(
            """INSERT INTO venue_enrolments (code_hash, venue, created_by, created_at, expires_at)
               VALUES ($1, $2, $3, $4, $5)""",
            code_hash(code),
            venue,
            f"{actor.role}:{actor.sub}",
            now,
            expires_at,
        )
        await audit_log.append(
            conn,
            actor,
            now,
            [
                audit_log.Record(
                    "venue.enrolment", None, venue, {"expires_at": expires_at.isoformat()}
                )
            ],
        )
    return code, expires_at


async def redeem(conn: asyncpg.Connection, code: str, now: datetime) -> str | None:
    """The venue a valid, unused code enrols (and the code is used up); None otherwise."""
    if len(normalize(code)) != LENGTH:
        return None
    venue: str | None = await conn.fetchval(
        """UPDATE venue_enrolments SET redeemed_at = $2
           WHERE code_hash = $1 AND redeemed_at IS NULL AND expires_at > $2
           RETURNING venue""",
        code_hash(code),
        now,
    )
    return venue
