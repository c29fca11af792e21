"""The background work: what runs on a schedule rather than for a request.

The sweeper (stored statuses catch up with passed deadlines), city-wide jobs (listings
and campaigns re-evaluating their people), code-key rotation, the upkeep of time
partitions, the signed checkpoints of the audit chain, and forgetting idempotency keys
past their retention. ``codesvc serve`` runs it in a worker process of its own, apart from
the server processes that answer doors; ``codesvc worker`` runs it alone, for a deployment
that places it on its own machine. Each part is
safe in several workers at once (``SKIP LOCKED``, advisory locks, a checkpoint per head),
so a second worker is a spare, not a hazard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from codesvc import db
from codesvc.codes.keystore import ensure_key, load_keys, rotate_on_schedule
from codesvc.codes.ring import KeyRing
from codesvc.codes.sealing import CodeSecrets, code_secret
from codesvc.service import checkpoints, idempotency, listen, partitions, sweeper
from codesvc.service import jobs as city_jobs
from codesvc.settings import Settings

log = logging.getLogger("codesvc.worker")

#: Server processes ask the worker to sweep now (a scan found a passed deadline, a listing
#: changed) with a NOTIFY on this channel.
SWEEP_CHANNEL = "codesvc_sweep"


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    pool: asyncpg.Pool,
    clock: Callable[[], datetime],
    wake: asyncio.Event,
    on_swept: Callable[[int], None] = lambda count: None,
) -> AsyncIterator[None]:
    """Run the background work for as long as the block lasts.

    ``wake`` makes the sweeper run at once; a NOTIFY on ``SWEEP_CHANNEL`` from any process
    or instance sets it too.
    """
    secrets = CodeSecrets(code_secret(settings.code_secret, settings.home))
    ring = KeyRing(secrets)
    async with pool.acquire() as conn:
        await ensure_key(conn, secrets, clock())
        ring.update(await load_keys(conn, secrets))
    jobs: list[Coroutine[Any, Any, None]] = [
        sweeper.run(pool, settings.rules, clock, settings.sweep_interval, wake, on_swept),
        listen.follow(settings.database_url, (SWEEP_CHANNEL,), lambda _conn: _set(wake)),
        partitions.keep_up(
            pool, clock, settings.partitions_ahead_days, settings.scan_retention_days
        ),
        city_jobs.run_jobs(pool, settings, clock, asyncio.Event()),
        idempotency.keep_clean(pool, clock),
    ]
    if settings.code_key_rotation > 0:
        jobs.append(rotate_on_schedule(pool, ring, clock, settings.code_key_rotation))
    key = checkpoints.signing_key(checkpoints.key_path(settings))
    ledger = checkpoints.file_path(settings)
    jobs.append(checkpoints.run(pool, key, ledger, clock, settings.checkpoint_interval))
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await _last_checkpoint(pool, key, ledger, clock)


async def _last_checkpoint(
    pool: asyncpg.Pool, key: Ed25519PrivateKey, ledger: Path, clock: Callable[[], datetime]
) -> None:
    """On the way out, sign what was appended since the last checkpoint."""
    try:
        async with pool.acquire() as conn:
            await checkpoints.checkpoint_once(conn, key, ledger, clock())
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("last audit checkpoint not written: %s", exc)


async def _set(event: asyncio.Event) -> None:
    event.set()


async def ask_to_sweep(pool: asyncpg.Pool, wanted: asyncio.Event) -> None:
    """In a server process without the background work: pass each wish to sweep on to the
    worker, wherever it runs (at most one NOTIFY in flight; wishes meanwhile merge)."""
    while True:
        await wanted.wait()
        wanted.clear()
        try:
            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_notify($1, '')", SWEEP_CHANNEL)
        except (*db.UNAVAILABLE, asyncpg.PostgresError) as exc:
            log.warning("could not ask the worker to sweep: %s", exc)
            await db.distrust(pool, exc)
            await asyncio.sleep(1)


def run_worker(settings: Settings, clock: Callable[[], datetime]) -> None:
    """``codesvc worker``: the background work alone, until SIGTERM or SIGINT."""

    from codesvc.serving import tune_gc

    async def main() -> None:
        tune_gc()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        from codesvc.api.metrics import Metrics

        metrics = Metrics()
        pool = await db.create_pool(settings.database_url, settings)
        try:
            async with running(settings, pool, clock, asyncio.Event(), metrics.swept.inc):
                log.info("background work running")
                await stop.wait()
        finally:
            await pool.close()

    asyncio.run(main())
