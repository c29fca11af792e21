"""Evaluating a job's chunks in worker processes, so a city-wide change uses every core.

Each process keeps its own event loop and database connection; it reads a chunk's
people and evaluates them (`stored_status.reevaluate`, no locks), and hands back only
what was read of their rows and the writes that would store them. The job's own
process stores the chunks in order, each under its lock, exactly as it stores the
chunks it prepares itself.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

import asyncpg

from codesvc import db
from codesvc.service import stored_status
from codesvc.state.rules import Rules

#: This process's loop and connection, made by `_start` when the pool starts it.
_loop: asyncio.AbstractEventLoop | None = None
_conn: asyncpg.Connection | None = None

Prepared = tuple[dict[int, stored_status.Stored], stored_status.Writes]


def _start(url: str) -> None:
    global _loop, _conn
    _loop = asyncio.new_event_loop()
    _conn = _loop.run_until_complete(asyncpg.connect(url))
    _loop.run_until_complete(db.init_connection(_conn))


def _prepare(people: Sequence[int], rules: Rules, now: datetime, cause: str) -> Prepared:
    assert _loop is not None
    assert _conn is not None
    return _loop.run_until_complete(_read_and_evaluate(_conn, people, rules, now, cause))


async def _read_and_evaluate(
    conn: asyncpg.Connection, people: Sequence[int], rules: Rules, now: datetime, cause: str
) -> Prepared:
    seen = await stored_status.read(conn, people)
    _, writes = await stored_status.reevaluate(conn, seen, rules, now, cause)
    return seen, writes


class Evaluators:
    """A pool of processes preparing chunks; `prepare` runs one in whichever is free."""

    def __init__(self, url: str, processes: int) -> None:
        self.processes = processes
        # forkserver: the service's own process may hold threads and open connections.
        context = multiprocessing.get_context("forkserver")
        self._pool = ProcessPoolExecutor(
            processes, mp_context=context, initializer=_start, initargs=(url,)
        )

    async def prepare(
        self, people: Sequence[int], rules: Rules, now: datetime, cause: str
    ) -> Prepared:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _prepare, list(people), rules, now, cause)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
