"""The service follows the primary: a database that stops taking writes answers 503 with
Retry-After, and the pools, the listener and the sweeper pick up again when it is back.

A failover seen from the service is a time when no host of ``CODESVC_DATABASE_URL`` takes
writes, then a host that does. Here one database plays both parts: made read-only for new
sessions, its connections cut, then writable again. The drills in ``test_drills.py`` do
the same with a real promotion.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from codesvc import db
from codesvc.api.app import create_app
from codesvc.api.keys import SWEEP_NOW
from codesvc.service import venues
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys, Principal
from tests.builders import arrival, id_number
from tests.conftest import Api, City, Clock

#: Bounds each wait for the service to catch up; reached only when it never does.
PATIENCE = 30.0


def read_write(url: str) -> str:
    """``url`` asking for a read-write server, as a multi-host deployment URL does."""
    parts = urllib.parse.urlsplit(url)
    query = [*urllib.parse.parse_qsl(parts.query), ("target_session_attrs", "read-write")]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


async def demote(conn: asyncpg.Connection) -> None:
    """New sessions of this database refuse writes, and every other session is cut off."""
    name = await conn.fetchval("SELECT current_database()")
    await conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    await cut_off(conn)


async def promote(conn: asyncpg.Connection) -> None:
    name = await conn.fetchval("SELECT current_database()")
    await conn.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


async def cut_off(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()"""
    )


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``check`` holds; fail naming ``what`` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not await check():
        assert loop.time() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.1)


async def problem_503(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status == 503, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert int(resp.headers["Retry-After"]) > 0


async def through(send: Callable[[], Awaitable[aiohttp.ClientResponse]]) -> aiohttp.ClientResponse:
    """The answer to a write once the primary is back, after at most a few 503s."""
    for _ in range(4):
        resp = await send()
        if resp.status == 200:
            return resp
        await problem_503(resp)
    raise AssertionError("writes are still refused after four tries")


async def test_a_demoted_server_answers_503_and_its_connections_are_replaced(city, conn):
    ref = await city.register()
    resp = await city.client.get("/v1/me/code", headers=city.api.auth("citizen", ref))
    code = (await resp.json())["code"]
    door = city.api.auth("scanner", "gate-1")

    await demote(conn)
    events = {"events": [arrival("2022-03-01T08:00:00+08:00", {"person_ref": ref})]}
    for _ in range(3):  # the cut connections, then sessions that refuse writes
        await problem_503(await city.client.post("/v1/events", json=events, headers=city.feeder))
        await problem_503(await city.client.post("/v1/scans", json={"code": code}, headers=door))
    assert await conn.fetchval("SELECT count(*) FROM events") == 0

    await promote(conn)
    # A session opened while the server refused writes (the background work may open one
    # at any moment) refuses them for good: whoever meets it is answered 503 and the pool
    # replaces its connections, so writes go through again within a retry or two.
    resp = await through(lambda: city.client.post("/v1/events", json=events, headers=city.feeder))
    assert (await resp.json())["results"][0]["status"] == "accepted"
    await through(lambda: city.client.post("/v1/scans", json={"code": code}, headers=door))


@pytest.fixture
async def following(
    settings: Settings, keys: AuthKeys, clock: Clock
) -> AsyncIterator[tuple[City, Clock]]:
    """A server on a URL that asks for a read-write host, with a clock the test moves."""
    settings = dataclasses.replace(settings, database_url=read_write(settings.database_url))
    async with TestClient(TestServer(create_app(settings, clock))) as client:
        yield City(Api(client, keys)), clock


async def test_listener_and_sweeper_follow_the_primary_back(following, conn, caplog):
    city, clock = following
    caplog.set_level(logging.WARNING)
    ref = await city.register()
    landed = clock() - timedelta(hours=71)  # no landing tests: yellow (R6) at 72 h
    [sent] = await city.send(arrival(landed, {"person_ref": ref}))
    assert sent["status"] == "accepted"
    assert (await city.status(ref))["color"] == "green"
    person_id = await conn.fetchval("SELECT person_id FROM persons WHERE person_ref = $1", ref)

    await demote(conn)  # no host is read-write: every reconnect is refused
    resp = await city.client.post("/v1/persons", headers=city.feeder, json={
        "id_number": id_number(), "name": "李四", "district": "310101"})  # fmt: skip
    await problem_503(resp)

    def failed(text: str) -> Callable[[], Awaitable[bool]]:
        async def seen() -> bool:
            return any(text in r.getMessage() for r in caplog.records)

        return seen

    clock.offset = timedelta(hours=2)  # the landing deadline passes while no host takes writes
    city.api.app[SWEEP_NOW].set()
    await eventually(failed("sweep failed"), "the sweeper met the outage")
    await eventually(failed("listening for revocations"), "the listener met the outage")

    await promote(conn)
    commission = Principal("commission", "commissioner-1", None, 0.0)
    await venues.revoke_venue(conn, "gate-9", commission, "stolen", clock())
    gate = city.api.auth("scanner", "gate-9")

    async def refused() -> bool:
        resp = await city.client.post("/v1/scans", json={"id_number": id_number()}, headers=gate)
        return resp.status == 401

    await eventually(refused, "the revoked venue is refused")

    async def stored_yellow() -> bool:
        color = await conn.fetchval("SELECT color FROM statuses WHERE person_id = $1", person_id)
        return color == "yellow"

    city.api.app[SWEEP_NOW].set()
    await eventually(stored_yellow, "the sweeper stores the colour the deadline brought")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_background_loop_that_met_a_refused_write_leaves_no_such_session_behind(
    db_url, conn
):
    """What every loop of the background work does with its error (`db.distrust`): a
    session opened while the server refused writes is not handed out again."""
    await demote(conn)
    pool = await db.create_pool(db_url, Settings(pool_min=1, pool_max=1))  # opened meanwhile
    try:
        async with pool.acquire() as session:
            with pytest.raises(asyncpg.exceptions.ReadOnlySQLTransactionError) as refused:
                await session.execute("CREATE TEMP TABLE t (x int)")
        await db.distrust(pool, asyncpg.exceptions.UndefinedTableError("not a server's state"))
        async with pool.acquire() as session:
            assert await session.fetchval("SHOW transaction_read_only") == "on"  # still kept
        await db.distrust(pool, refused.value)
        await promote(conn)
        async with pool.acquire() as session:
            assert await session.fetchval("SHOW transaction_read_only") == "off"
    finally:
        await promote(conn)
        await pool.close()
