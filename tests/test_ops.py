"""Operations routes and errors, through a real running server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os

from aiohttp.test_utils import TestClient, TestServer

from codesvc.api.app import create_app
from tests.netproxy import DatabaseLink


async def test_healthz(api):
    resp = await api.client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json()) == {"status": "ok", "pid": os.getpid()}
    assert resp.headers["X-Request-Id"]


async def test_readyz_when_migrated(api):
    resp = await api.client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ready"
    assert body["pending_migrations"] == []


async def test_readyz_reports_pending_migrations(api, conn):
    await conn.execute("DELETE FROM schema_migrations WHERE version = 1")
    resp = await api.client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "migrating"
    assert body["pending_migrations"] == ["0001_foundation"]


async def test_metrics_count_requests_per_route_and_status(api):
    await api.client.get("/healthz")
    await api.client.get("/no/such/route")
    resp = await api.client.get("/metrics")
    assert resp.status == 200
    text = await resp.text()
    assert 'codesvc_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "codesvc_http_request_seconds_bucket" in text


async def test_unknown_route_is_a_problem(api):
    resp = await api.client.get("/v1/nothing-here")
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["status"] == 404
    assert "openapi.json" in body["detail"]


async def test_wrong_method_is_a_problem(api):
    resp = await api.client.delete("/healthz")
    assert resp.status == 405
    assert resp.content_type == "application/problem+json"
    assert "GET" in (await resp.json())["detail"]


async def test_request_id_is_echoed(api):
    resp = await api.client.get("/healthz", headers={"X-Request-Id": "door-42"})
    assert resp.headers["X-Request-Id"] == "door-42"


async def test_openapi_lists_every_route(api):
    resp = await api.client.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for route in api.app.router.routes():
        info = route.resource.canonical if route.resource else None
        if route.method != "HEAD" and info:
            served.add((route.method, info))
    assert served == documented
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["responses"], f"{method} {path} documents no response"


async def test_database_down_gives_503_with_retry_after(settings, db_url):
    async with DatabaseLink(db_url) as link:
        app = create_app(dataclasses.replace(settings, database_url=link.url))
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/readyz")).status == 200
            await link.cut()
            resp = await client.get("/readyz")
            assert resp.status == 503
            assert resp.headers["Retry-After"]
            assert (await resp.json())["status"] == "unavailable"
            await link.restore()
            assert (await client.get("/readyz")).status == 200


async def test_graceful_shutdown_finishes_requests_in_flight(settings):
    from aiohttp import web

    from codesvc.api.routing import Routes

    app = create_app(settings)
    slow = Routes("test")
    started = asyncio.Event()

    @slow.route("GET", "/slow", summary="slow", roles=None)
    async def handler(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.5)
        return web.Response(text="finished")

    slow.install(app)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    import aiohttp

    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"http://127.0.0.1:{port}/slow"))
        await started.wait()
        await runner.cleanup()
        resp = await request
        assert resp.status == 200
        assert await resp.text() == "finished"
        with contextlib.suppress(Exception):
            resp.release()


async def test_a_bug_is_a_500_problem_with_the_request_id_and_no_stack_trace(settings):
    from aiohttp import web

    from codesvc.api.routing import Routes

    app = create_app(settings)
    broken = Routes("test")

    @broken.route("GET", "/broken", summary="broken", roles=None)
    async def handler(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    broken.install(app)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/broken", headers={"X-Request-Id": "bug-1"})
        assert resp.status == 500
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
        assert "bug-1" in body["detail"]
        assert "secret internals" not in await resp.text()
