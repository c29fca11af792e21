"""Operations: liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio
import os

import pydantic
from aiohttp import web

from codesvc.api.keys import METRICS, POOL, SETTINGS
from codesvc.api.routing import Routes, json_response
from codesvc.db import UNAVAILABLE, pending_migrations

routes = Routes("operations")

OPENAPI = web.AppKey("openapi", dict)


class Health(pydantic.BaseModel):
    status: str
    pid: int = pydantic.Field(description="the server process that answered (of several)")


class Readiness(pydantic.BaseModel):
    status: str
    database: str
    pending_migrations: list[str] = []


@routes.route("GET", "/healthz", summary="The process is alive", roles=None, response=Health)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "pid": os.getpid()})


@routes.route(
    "GET",
    "/readyz",
    summary="Ready to serve: the database answers and every migration is applied",
    roles=None,
    response=Readiness,
    errors=(503,),
)
async def readyz(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                pending = await pending_migrations(conn, request.app[SETTINGS].sql_dir)
    except UNAVAILABLE as exc:
        metrics.db_up.set(0)
        return json_response(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status=503,
            headers={"Retry-After": "2"},
        )
    metrics.db_up.set(1)
    if pending:
        return json_response(
            {"status": "migrating", "database": "ok", "pending_migrations": pending},
            status=503,
            headers={"Retry-After": "2"},
        )
    return json_response({"status": "ready", "database": "ok", "pending_migrations": []})


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
    return json_response(request.app[OPENAPI])
