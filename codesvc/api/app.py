"""The aiohttp application: ``create_app(settings)`` wires routes, middleware and lifecycles."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from codesvc import background as worker
from codesvc.api import (
    appeal_preview,
    appeals,
    areas,
    audit,
    audit_check,
    checkpoints,
    colours,
    console,
    door,
    events,
    malformed,
    notifications,
    ops,
    overrides,
    pages,
    people,
    session,
    stats,
    tracing,
    venues,
    whoami,
)
from codesvc.api import scans as scan_routes
from codesvc.api.auth import Authenticator
from codesvc.api.clock import CLOCK, Clock, system_clock
from codesvc.api.keys import (
    AUDIT,
    AUTH_KEYS,
    AUTHENTICATOR,
    METRICS,
    POOL,
    POOLS,
    SETTINGS,
    SWEEP_NOW,
)
from codesvc.api.metrics import Metrics, shared_dir
from codesvc.api.middleware import observe
from codesvc.api.openapi import document
from codesvc.api.routing import Routes
from codesvc.api.secrets import ID_SECRET, TOTP_SEAL, id_secret, totp_seal
from codesvc.db import create_pool
from codesvc.logs import quiet_malformed_requests
from codesvc.service.audit_appender import AuditAppender
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys

log = logging.getLogger("codesvc.app")

#: Largest accepted body: a batch of 1000 events fits with room to spare.
MAX_BODY = 4 * 1024 * 1024

ROUTES: tuple[Routes, ...] = (
    ops.routes,
    whoami.routes,
    session.routes,
    events.routes,
    colours.routes,
    areas.routes,
    appeals.routes,
    appeal_preview.routes,
    people.routes,
    overrides.routes,
    audit.routes,
    audit_check.routes,
    checkpoints.routes,
    notifications.routes,
    scan_routes.routes,
    door.routes,
    venues.routes,
    tracing.routes,
    pages.routes,
    console.routes,
    stats.routes,
)


def create_app(
    settings: Settings, clock: Clock = system_clock, *, background: bool = True
) -> web.Application:
    """An application serving ``settings.database_url`` (already resolved and migrated).

    With ``background`` it also runs the background work (sweeper, city-wide jobs, key
    rotation, partitions, audit checkpoints) in its own event loop, as one process alone
    does; the server processes of ``codesvc serve`` leave that to the worker and pass their
    wishes to sweep on.
    """
    quiet_malformed_requests()
    malformed.install()
    app = web.Application(middlewares=[observe], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[AUTH_KEYS] = keys = AuthKeys.from_settings(settings)
    app[AUTHENTICATOR] = Authenticator(keys)
    app[ID_SECRET] = id_secret(settings)
    app[TOTP_SEAL] = totp_seal(settings)
    app[METRICS] = Metrics()
    app[SWEEP_NOW] = asyncio.Event()
    app[door.ENROL_TRIES] = door.enrol_tries()
    for routes in ROUTES:
        routes.install(app)
    app[ops.OPENAPI] = document(op for routes in ROUTES for op in routes.operations)
    app.cleanup_ctx.append(_pool)
    app.cleanup_ctx.append(_background if background else _ask_worker)
    app.cleanup_ctx.append(scan_routes.lifecycle)
    app.cleanup_ctx.append(_share_metrics)
    return app


async def _share_metrics(app: web.Application) -> AsyncIterator[None]:
    """Under ``codesvc serve``, leave this process's request figures for the others' /metrics
    every second (and at the end), so whichever process is scraped reports them all."""
    directory = shared_dir()
    if directory is None:
        yield
        return
    stats = app[METRICS].http

    async def dumping() -> None:
        while True:
            await asyncio.sleep(1.0)
            stats.dump(directory)

    task = asyncio.create_task(dumping())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    stats.dump(directory)


async def _pool(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[POOL] = pool = await create_pool(settings.database_url, settings)
    app[POOLS] = [pool]
    app[AUDIT] = audit = AuditAppender(pool, on_batch=app[METRICS].audit_batch.observe)
    log.info("database pool open", extra={"pool_max": settings.pool_max})
    yield
    await audit.close()
    await pool.close()
    log.info("database pool closed")


async def _background(app: web.Application) -> AsyncIterator[None]:
    """The background work in this process, for as long as the app runs."""
    metrics = app[METRICS]
    async with worker.running(
        app[SETTINGS], app[POOL], app[CLOCK], app[SWEEP_NOW], metrics.swept.inc
    ):
        yield


async def _ask_worker(app: web.Application) -> AsyncIterator[None]:
    """Wishes to sweep (a scan found a passed deadline) go to the worker process."""
    task = asyncio.create_task(worker.ask_to_sweep(app[POOL], app[SWEEP_NOW]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
