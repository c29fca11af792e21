"""The code-signing keys in PostgreSQL: every instance signs with the same one, and rotates.

Private halves are stored sealed with the code secret (`codesvc.codes.sealing`) and
dropped when a key retires; a NOTIFY tells every instance to reload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from codesvc.codes.ring import KeyRing, SigningKey, new_signing_key
from codesvc.codes.sealing import CodeSecrets
from codesvc.db import RETRYABLE, distrust

log = logging.getLogger("codesvc.codes")

#: NOTIFY channel telling every instance that the code-signing keys changed.
KEYS_CHANNEL = "codesvc_code_keys"
#: Key of the advisory lock that makes two instances rotate (or create) keys in turn.
KEYS_LOCK = 0x636F6465_0004


async def load_keys(conn: asyncpg.Connection, secrets: CodeSecrets) -> list[SigningKey]:
    """Every key still worth knowing (active, or retired within the last day)."""
    rows = await conn.fetch(
        """SELECT kid, private_pem, public_jwk::text, created_at, retired_at FROM code_keys
           WHERE retired_at IS NULL OR retired_at > now() - interval '1 day'"""
    )
    keys = []
    for r in rows:
        private = None
        if r["private_pem"] is not None and r["retired_at"] is None:
            pem = secrets.unwrap(r["kid"], bytes(r["private_pem"]))
            loaded = serialization.load_pem_private_key(pem, password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            private = loaded
        keys.append(
            SigningKey(
                r["kid"], private, orjson.loads(r["public_jwk"]), r["created_at"], r["retired_at"]
            )
        )
    return keys


async def ensure_key(conn: asyncpg.Connection, secrets: CodeSecrets, now: datetime) -> None:
    """Create the first signing key if there is none (two instances starting together: one)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", KEYS_LOCK)
        if await conn.fetchval("SELECT count(*) FROM code_keys WHERE retired_at IS NULL"):
            return
        await _insert(conn, secrets, new_signing_key(now))


async def rotate(
    conn: asyncpg.Connection,
    secrets: CodeSecrets,
    now: datetime,
    due_before: datetime | None = None,
) -> SigningKey | None:
    """Retire the signing key and make a new one; tell every instance.

    With ``due_before``, rotate only if the newest key was created before it (the schedule,
    run by every instance: the first one to get there rotates, the others find it done).
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", KEYS_LOCK)
        if due_before is not None:
            newest = await conn.fetchval(
                "SELECT max(created_at) FROM code_keys WHERE retired_at IS NULL"
            )
            if newest is not None and newest >= due_before:
                return None
        # The private half goes: nothing may sign with a retired key, only verify.
        await conn.execute(
            "UPDATE code_keys SET retired_at = $1, private_pem = NULL WHERE retired_at IS NULL",
            now,
        )
        key = new_signing_key(now)
        await _insert(conn, secrets, key)
        await conn.execute("SELECT pg_notify($1, $2)", KEYS_CHANNEL, key.kid)
    return key


async def rotate_on_schedule(
    pool: asyncpg.Pool, ring: KeyRing, clock: Callable[[], datetime], every: float
) -> None:
    """Rotate the signing key every ``every`` seconds. Every instance runs this; the first
    to find the key due rotates it, the others find it done."""
    period = timedelta(seconds=every)
    while True:
        newest = ring.signing.created_at if ring.signing else clock()
        wait = (newest + period - clock()).total_seconds()
        if wait > 0:
            await asyncio.sleep(min(wait, 60.0))
            continue
        try:
            async with pool.acquire() as conn:
                now = clock()
                key = await rotate(conn, ring.secrets, now, due_before=now - period)
                ring.update(await load_keys(conn, ring.secrets))
            if key is not None:
                log.info("rotated the code-signing key", extra={"kid": key.kid})
        except RETRYABLE as exc:
            log.warning("code-signing key rotation failed, will retry: %s", exc)
            await distrust(pool, exc)
            await asyncio.sleep(10)
        except Exception:  # rotation must outlive a bug in one attempt
            log.exception("code-signing key rotation failed unexpectedly, will retry")
            await asyncio.sleep(10)


async def _insert(conn: asyncpg.Connection, secrets: CodeSecrets, key: SigningKey) -> None:
    assert key.private is not None
    pem = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    await conn.execute(
        """INSERT INTO code_keys (kid, private_pem, public_jwk, created_at)
           VALUES ($1, $2, $3::text::jsonb, $4)""",
        key.kid,
        secrets.wrap(key.kid, pem),
        orjson.dumps(key.public_jwk).decode(),
        key.created_at,
    )
