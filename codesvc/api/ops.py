"""Operations: liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio
import os
from typing import Literal

import orjson
from aiohttp import web
from pydantic import Field

from codesvc.api.keys import METRICS, POOL, SETTINGS
from codesvc.api.routing import Reply, Routes
from codesvc.db import UNAVAILABLE, pending_migrations
from codesvc.schemas.fields import Out

routes = Routes("operations")

OPENAPI = web.AppKey("openapi", dict)


class Health(Out):
    status: Literal["ok"]
    pid: int = Field(description="the server process that answered (of several)")


class Readiness(Out):
    status: Literal["ready", "migrating", "unavailable"]
    database: str
    pending_migrations: list[str] = Field(default_factory=list)


UNREADY = {"Retry-After": "2"}


@routes.route("GET", "/healthz", summary="The process is alive", roles=None, response=Health)
async def healthz(request: web.Request) -> Health:
    return Health(status="ok", pid=os.getpid())


@routes.route(
    "GET",
    "/readyz",
    summary="Ready to serve: the database answers and every migration is applied",
    roles=None,
    response=Readiness,
    status=(200, 503),
)
async def readyz(request: web.Request) -> Readiness | Reply[Readiness]:
    metrics = request.app[METRICS]
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                pending = await pending_migrations(conn, request.app[SETTINGS].sql_dir)
    except UNAVAILABLE as exc:
        metrics.db_up.set(0)
        down = Readiness(status="unavailable", database=f"unreachable: {type(exc).__name__}")
        return Reply(down, 503, UNREADY)
    metrics.db_up.set(1)
    if pending:
        migrating = Readiness(status="migrating", database="ok", pending_migrations=pending)
        return Reply(migrating, 503, UNREADY)
    return Readiness(status="ready", database="ok", pending_migrations=[])


@routes.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics",
    roles=None,
    content_type="text/plain",
)
async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[METRICS].render(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


@routes.route("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", roles=None)
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(request.app[OPENAPI]), content_type="application/json")
