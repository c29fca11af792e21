"""Typed keys of the application's state (``web.AppKey``) and of each request."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

from codesvc.settings import Settings
from codesvc.tokens import AuthKeys, Principal

if TYPE_CHECKING:
    from codesvc.api.auth import Authenticator
    from codesvc.api.metrics import Metrics
    from codesvc.service.audit_appender import AuditAppender

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
#: Every pool of the app (``POOL`` and the door's): all are renewed when one meets a
#: server that is no longer the primary, so each finds the new one.
POOLS: web.AppKey[list[asyncpg.Pool]] = web.AppKey("pools")
AUTH_KEYS = web.AppKey("auth_keys", AuthKeys)
AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("authenticator")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
#: Chains this process's audited reads in batches.
AUDIT: web.AppKey[AuditAppender] = web.AppKey("audit")
#: Set to make the sweeper run now (after a listing or campaign change).
SWEEP_NOW = web.AppKey("sweep_now", asyncio.Event)

#: Per request: the verified caller.
PRINCIPAL = web.RequestKey("principal", Principal)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]
