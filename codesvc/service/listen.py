"""Following changes made by other instances: a LISTEN connection that resyncs on notice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from codesvc.db import RETRYABLE

log = logging.getLogger("codesvc.listen")

#: Seconds to wait for the database when (re)connecting.
CONNECT_TIMEOUT = 5.0


async def follow(
    url: str,
    channels: Sequence[str],
    resync: Callable[[asyncpg.Connection], Awaitable[None]],
    every: float = 30.0,
) -> None:
    """Keep a LISTEN connection open and call ``resync`` on it after every notice.

    Also after each (re)connect and every ``every`` seconds, so a notice missed while the
    connection was down is caught up; ``resync`` reloads state whole, so order is moot.
    """
    delay = 0.5
    notified = asyncio.Event()
    lost = asyncio.Event()
    while True:
        conn: asyncpg.Connection | None = None
        lost.clear()
        try:
            conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
            conn.add_termination_listener(lambda _conn: lost.set())
            for channel in channels:
                await conn.add_listener(channel, lambda *_notice: notified.set())
            while not lost.is_set():
                notified.clear()
                await resync(conn)
                delay = 0.5
                waits = [asyncio.ensure_future(e.wait()) for e in (notified, lost)]
                try:
                    await asyncio.wait(waits, timeout=every, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiting in waits:
                        waiting.cancel()
        except RETRYABLE as exc:
            log.warning("listening for revocations and key changes failed, retrying: %s", exc)
        except Exception:  # the listener must outlive a bug in one resync
            log.exception("listening for revocations and key changes failed, retrying")
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)
