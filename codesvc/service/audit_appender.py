"""Audited reads without a city-wide queue: one appender per process chains them in batches.

Every audited read must have its entry stored before the data leaves, and the chain must
stay one verifiable line, so entries are appended under the chain's head row lock. Taken
once per read, that lock (held through each commit) limits the whole city to a few hundred
audited reads a second. Here the reads waiting in a process are chained together: the
appender numbers and hashes every waiting entry after the head it last saw, and one
statement (`audit_log.append_after`: one round trip, its own transaction) moves the head and
stores them, or, if another process has moved the head since, stores nothing and returns
the head as it is now to chain from again. Only then are the readers let through. Entries
still commit in sequence order (the head's row lock is held until the statement commits),
so the chain's head is its latest committed entry, and `codesvc verify` and the signed
checkpoints see one line. After a few lost races in a row the appender takes the head's
lock for a whole transaction instead, so it always gets through.

Changes (an appeal moved, an override approved) keep appending inside their own
transaction with ``audit_log.append``, so their entry exists exactly when the change does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg

from codesvc.audit_chain import Chained
from codesvc.service import audit_log

#: Tries against a head that other processes keep moving before taking its lock instead.
RACES = 3

_Waiting = tuple[audit_log.Actor, datetime, Sequence[audit_log.Record], "asyncio.Future[None]"]


class AuditAppender:
    """Chains the audited reads of one process in batches, one transaction at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_batch: int = 500,
        on_batch: Callable[[int], None] = lambda size: None,
    ) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self.on_batch = on_batch
        self._waiting: list[_Waiting] = []
        self._running: asyncio.Task[None] | None = None
        self._head: audit_log.Head | None = None  # as this process last saw it

    async def record(
        self, actor: audit_log.Actor, at: datetime, records: Sequence[audit_log.Record]
    ) -> None:
        """Return once ``records`` are committed to the chain (raises if they could not be)."""
        if not records:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((actor, at, records, future))
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                try:
                    await self._commit(batch)
                except Exception:
                    # One entry that cannot be stored must not fail the reads beside it:
                    # each is tried alone, and only its own failure reaches its reader.
                    for waiting in batch:
                        await self._settle([waiting])
                    continue
                for *_, future in batch:
                    if not future.done():
                        future.set_result(None)
        except BaseException as exc:
            for *_, future in self._waiting:
                if not future.done():
                    future.set_exception(exc)
            self._waiting.clear()
            raise
        finally:
            self._running = None

    async def _settle(self, batch: list[_Waiting]) -> None:
        try:
            await self._commit(batch)
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _commit(self, batch: Sequence[_Waiting]) -> list[Chained]:
        items = [(actor, at, record) for actor, at, records, _ in batch for record in records]
        async with self.pool.acquire() as conn:
            head = self._head or await audit_log.head(conn)
            linked: list[Chained] = []
            for _ in range(RACES):
                linked, head = await audit_log.append_after(conn, items, head)
                self._head = head
                if linked:
                    break
            else:
                async with conn.transaction():
                    linked = await audit_log.append_many(conn, items)
                self._head = audit_log.Head(linked[-1].entry.seq, linked[-1].hash)
        self.on_batch(len(batch))
        return linked

    async def close(self) -> None:
        """Wait for what is waiting to be committed."""
        if self._running is not None:
            await asyncio.shield(self._running)
