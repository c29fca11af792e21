"""Idempotency keys in the database: a creating request's first answer, kept for its retries.

A request with an ``Idempotency-Key`` claims (caller, key) as the first statement of the
transaction that makes its change, and stores its answer in that transaction before it
commits. So a retry after a lost answer, even one lost to a crash between the commit and
the reply, finds the answer and is given it again instead of making the change twice. Two
requests racing with one key meet on the primary key: the second waits for the first's
transaction to end, then replays its answer (or, had it failed, goes ahead itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from codesvc.db import RETRYABLE, distrust

log = logging.getLogger("codesvc.idempotency")

#: How long a key and its answer are kept; a retry later than this makes the change again.
RETENTION = timedelta(hours=24)
#: Seconds between the worker's clean-ups.
EVERY = 600.0


@dataclass(frozen=True)
class Answer:
    """What the first request with a key was answered."""

    fingerprint: bytes
    status: int
    body: bytes


async def claim(
    conn: asyncpg.Connection, caller: str, key: str, fingerprint: bytes, now: datetime
) -> Answer | None:
    """Claim ``key`` for this transaction: None when it is this request's to answer (a new
    key, or one past its retention), else the answer stored by the request that had it."""
    mine = await conn.fetchval(
        """INSERT INTO idempotency_keys (caller, key, fingerprint, created_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (caller, key) DO UPDATE
               SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
                   status = NULL, body = NULL
               WHERE idempotency_keys.created_at <= $5
           RETURNING true""",
        caller,
        key,
        fingerprint,
        now,
        now - RETENTION,
    )
    if mine:
        return None
    # ON CONFLICT locked the row (after waiting for its claimer to commit): it is there.
    row = await conn.fetchrow(
        "SELECT fingerprint, status, body FROM idempotency_keys WHERE caller = $1 AND key = $2",
        caller,
        key,
    )
    return Answer(bytes(row["fingerprint"]), row["status"], bytes(row["body"]))


async def remember(
    conn: asyncpg.Connection, caller: str, key: str, status: int, body: bytes
) -> None:
    """Store the answer to the request that claimed ``key``, before its transaction commits."""
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4 WHERE caller = $1 AND key = $2",
        caller,
        key,
        status,
        body,
    )


async def forget_expired(conn: asyncpg.Connection, now: datetime) -> int:
    """Delete the keys past their retention; how many went."""
    done = await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at <= $1", now - RETENTION
    )
    return int(done.split()[-1])


async def keep_clean(
    pool: asyncpg.Pool, clock: Callable[[], datetime], every: float = EVERY
) -> None:
    """``forget_expired`` now and every ``every`` seconds, for as long as the worker runs."""
    while True:
        try:
            async with pool.acquire() as conn:
                gone = await forget_expired(conn, clock())
            if gone:
                log.info("forgot %d idempotency keys past their retention", gone)
        except RETRYABLE as exc:
            log.warning("idempotency keys not cleaned, will retry: %s", exc)
            await distrust(pool, exc)
            await asyncio.sleep(min(every, 60.0))
            continue
        await asyncio.sleep(every)
