"""Time moves codes: store the statuses whose deadline has passed, with no new event.

Safe in several instances at once: each claims due rows with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

import asyncpg

from codesvc.db import RETRYABLE, distrust
from codesvc.service import stored_status
from codesvc.state.rules import Rules

log = logging.getLogger("codesvc.sweeper")

BATCH = 500


async def sweep_once(pool: asyncpg.Pool, rules: Rules, now: datetime, limit: int = BATCH) -> int:
    """Recompute up to ``limit`` due people in one transaction; returns how many."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"""SELECT {stored_status.STATUS_COLUMNS} FROM statuses
                WHERE next_change_at <= $1 ORDER BY next_change_at LIMIT $2
                FOR UPDATE SKIP LOCKED""",
            now,
            limit,
        )
        if not rows:
            return 0
        locked = {r["person_id"]: stored_status.stored(r) for r in rows}
        await stored_status.refresh(conn, locked, rules, now, "time")
        return len(rows)


async def sweep_all(pool: asyncpg.Pool, rules: Rules, clock: Callable[[], datetime]) -> int:
    """Sweep until nothing is due; returns how many people were recomputed."""
    total = 0
    while True:
        done = await sweep_once(pool, rules, clock())
        total += done
        if done < BATCH:
            return total


async def run(
    pool: asyncpg.Pool,
    rules: Rules,
    clock: Callable[[], datetime],
    interval: float,
    wake: asyncio.Event,
    on_swept: Callable[[int], None],
) -> None:
    while True:
        try:
            swept = await sweep_all(pool, rules, clock)
            if swept:
                on_swept(swept)
                log.info("swept %d due statuses", swept, extra={"swept": swept})
        except RETRYABLE as exc:
            log.warning("sweep failed, will retry: %s", exc)
            await distrust(pool, exc)
        except Exception:  # the sweeper must outlive a bug in one sweep
            log.exception("sweep failed unexpectedly, will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval)
        wake.clear()
