"""The aiohttp application: ``create_app(settings)`` wires routes, middleware and lifecycles."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from codesvc.api import (
    appeals,
    areas,
    audit,
    colours,
    events,
    notifications,
    ops,
    overrides,
    pages,
    venues,
    whoami,
)
from codesvc.api import scans as scan_routes
from codesvc.api.auth import Authenticator
from codesvc.api.clock import CLOCK, Clock, system_clock
from codesvc.api.keys import AUTH_KEYS, AUTHENTICATOR, METRICS, POOL, SETTINGS, SWEEP_NOW
from codesvc.api.metrics import Metrics
from codesvc.api.middleware import observe
from codesvc.api.openapi import document
from codesvc.api.routing import Routes
from codesvc.api.secrets import ID_SECRET, id_secret
from codesvc.db import create_pool
from codesvc.service import sweeper
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys

log = logging.getLogger("codesvc.app")

#: Largest accepted body: a batch of 1000 events fits with room to spare.
MAX_BODY = 4 * 1024 * 1024

ROUTES: tuple[Routes, ...] = (
    ops.routes,
    whoami.routes,
    events.routes,
    colours.routes,
    areas.routes,
    appeals.routes,
    overrides.routes,
    audit.routes,
    notifications.routes,
    scan_routes.routes,
    venues.routes,
    pages.routes,
)


def create_app(settings: Settings, clock: Clock = system_clock) -> web.Application:
    """An application serving ``settings.database_url`` (already resolved and migrated)."""
    app = web.Application(middlewares=[observe], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[AUTH_KEYS] = keys = AuthKeys.from_settings(settings)
    app[AUTHENTICATOR] = Authenticator(keys)
    app[ID_SECRET] = id_secret(settings)
    app[METRICS] = Metrics()
    app[SWEEP_NOW] = asyncio.Event()
    for routes in ROUTES:
        routes.install(app)
    app[ops.OPENAPI] = document(op for routes in ROUTES for op in routes.operations)
    app.cleanup_ctx.append(_pool)
    app.cleanup_ctx.append(_sweeper)
    app.cleanup_ctx.append(scan_routes.lifecycle)
    return app


async def _pool(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[POOL] = pool = await create_pool(settings.database_url, settings)
    log.info("database pool open", extra={"pool_max": settings.pool_max})
    yield
    await pool.close()
    log.info("database pool closed")


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    """Moves stored statuses whose deadline passed, for as long as the app runs."""
    settings = app[SETTINGS]
    task = asyncio.create_task(
        sweeper.run(
            app[POOL],
            settings.rules,
            app[CLOCK],
            settings.sweep_interval,
            app[SWEEP_NOW],
            app[METRICS].swept.inc,
        ),
        name="sweeper",
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
