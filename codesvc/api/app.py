"""The aiohttp application: ``create_app(settings)`` wires routes, middleware and lifecycles."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from codesvc.api import ops, whoami
from codesvc.api.auth import Authenticator
from codesvc.api.keys import AUTH_KEYS, AUTHENTICATOR, METRICS, POOL, SETTINGS
from codesvc.api.metrics import Metrics
from codesvc.api.middleware import observe
from codesvc.api.openapi import document
from codesvc.api.routing import Routes
from codesvc.db import create_pool
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys

log = logging.getLogger("codesvc.app")

#: Largest accepted body: a batch of 1000 events fits with room to spare.
MAX_BODY = 4 * 1024 * 1024

ROUTES: tuple[Routes, ...] = (ops.routes, whoami.routes)


def create_app(settings: Settings) -> web.Application:
    """An application serving ``settings.database_url`` (already resolved and migrated)."""
    app = web.Application(middlewares=[observe], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[AUTH_KEYS] = keys = AuthKeys.from_settings(settings)
    app[AUTHENTICATOR] = Authenticator(keys)
    app[METRICS] = Metrics()
    for routes in ROUTES:
        routes.install(app)
    app[ops.OPENAPI] = document(op for routes in ROUTES for op in routes.operations)
    app.cleanup_ctx.append(_pool)
    return app


async def _pool(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[POOL] = pool = await create_pool(settings.database_url, settings)
    log.info("database pool open", extra={"pool_max": settings.pool_max})
    yield
    await pool.close()
    log.info("database pool closed")
