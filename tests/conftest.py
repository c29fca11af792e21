"""One PostgreSQL per test session, a fresh migrated database per test, a real server.

``CODESVC_TEST_DATABASE_URL`` names a server to reuse; otherwise a throwaway cluster is
started (the same embedded PostgreSQL ``codesvc serve`` uses) and deleted afterwards.

The server's time is the ``clock`` fixture: a test that needs a deadline to pass moves it
on (``clock.advance(hours=1)``) instead of sleeping, and ``Api.sweep`` runs a round of the
sweeper at that time instead of waiting for its schedule.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import hypothesis
import pytest
from aiohttp.test_utils import TestClient, TestServer

from codesvc import db
from codesvc.api.app import create_app
from codesvc.api.clock import CLOCK
from codesvc.api.keys import POOL, SETTINGS
from codesvc.service import partitions, sweeper
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys

ROOT = Path(__file__).resolve().parent.parent
#: Tests read problems in English unless they ask otherwise (the default is Chinese).
ENGLISH = {"Accept-Language": "en"}

# Property tests judge results, not speed: a busy CI machine must not fail them on time.
hypothesis.settings.register_profile("codesvc", deadline=None, print_blob=True)
hypothesis.settings.load_profile("codesvc")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    configured = os.environ.get("CODESVC_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="codesvc-test-pg-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
        # A throwaway cluster need not survive a power cut: trade durability for speed.
        server.psql(
            "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;"
            " ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();"
        )
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
async def template_db(pg_server_url: str) -> AsyncIterator[str]:
    """A database migrated once per session; each test copies it."""
    name = f"codesvc_tpl_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        async with db.connect(db.with_database(pg_server_url, name)) as conn:
            await db.migrate(conn, ROOT / "sql")
            # Today's partitions, made once: each test's app finds them and makes none.
            defaults = Settings()
            await partitions.upkeep(
                conn,
                datetime.now(UTC),
                defaults.partitions_ahead_days,
                defaults.scan_retention_days,
            )
        yield name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db_url(pg_server_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"codesvc_t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield db.with_database(pg_server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def connected(db_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, asyncpg.Connection]]:
    """A connection on a loop of its own, for hypothesis's synchronous examples."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(db_url))
    loop.run_until_complete(db.init_connection(conn))
    try:
        yield loop, conn
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with db.connect(db_url) as connection:
        yield connection


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        home=tmp_path / "home",
        auth_secret="test-secret-" + "x" * 32,
        id_secret="test-id-secret-0123456789",
        log_format="text",
        sweep_interval=0.2,
    )


@pytest.fixture
def keys(settings: Settings) -> AuthKeys:
    return AuthKeys.from_settings(settings)


class Clock:
    """The server's clock in a test: the system's time, moved on by what the test set."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> datetime:
        """Move the time on (``advance(hours=72)``); returns the new now."""
        self.offset += timedelta(**delta)
        return self()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@dataclasses.dataclass
class Api:
    """A real server on a local port with a client and a way to make tokens."""

    client: TestClient
    keys: AuthKeys

    def token(self, role: str, sub: str, district: str | None = None, ttl: int = 3600) -> str:
        return self.keys.sign(role, sub, district, ttl=ttl)

    def auth(self, role: str, sub: str = "tester", district: str | None = None) -> dict[str, str]:
        if role == "staff" and district is None:
            district = "310101"
        return {"Authorization": f"Bearer {self.token(role, sub, district)}"}

    @property
    def app(self):  # type: ignore[no-untyped-def]
        return self.client.server.app

    async def sweep(self) -> None:
        """Store every status due at the server's time, as a round of its sweeper does.

        A round the server's own sweeper has under way holds its people's rows, and this
        one would skip them: wait for it to commit, so that what the test reads next is
        what was stored.
        """
        app = self.app
        pool, clock = app[POOL], app[CLOCK]
        for _ in range(10):
            await sweeper.sweep_all(pool, app[SETTINGS].rules, clock)
            async with pool.acquire() as conn, conn.transaction():
                due = await conn.fetch(
                    "SELECT person_id FROM statuses WHERE next_change_at <= $1 FOR UPDATE",
                    clock(),
                )
            if not due:
                return
        raise AssertionError(f"still due after ten rounds of the sweeper: {due}")


@pytest.fixture
async def api(settings: Settings, keys: AuthKeys, clock: Clock) -> AsyncIterator[Api]:
    app = create_app(settings, clock)
    async with TestClient(TestServer(app), headers=ENGLISH) as client:
        yield Api(client, keys)


class City:
    """A feed, the commission and citizens talking to a real server."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        self.feeder = api.auth("feeder", "itinerary-feed")
        self.commission = api.auth("commission", "commissioner-1")

    async def register(self, district: str = "310101", name: str = "张三") -> str:
        from tests.builders import id_number

        resp = await self.client.post(
            "/v1/persons",
            json={"id_number": id_number(district), "name": name, "district": district},
            headers=self.feeder,
        )
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["person_ref"])

    async def send(self, *events: dict, headers: dict[str, str] | None = None) -> list[dict]:  # type: ignore[type-arg]
        resp = await self.client.post(
            "/v1/events", json={"events": list(events)}, headers=headers or self.feeder
        )
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["results"])

    async def status(self, ref: str, lang: str | None = None) -> dict:  # type: ignore[type-arg]
        headers = self.api.auth("citizen", ref)
        headers["Accept-Language"] = lang or ""  # none given: the service's default
        resp = await self.client.get("/v1/me/status", headers=headers)
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    async def history(self, ref: str, as_shown: bool = False) -> list[dict]:  # type: ignore[type-arg]
        resp = await self.client.get(
            "/v1/me/history" + ("?as_shown=true" if as_shown else ""),
            headers=self.api.auth("citizen", ref),
        )
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["intervals"])

    async def list_area(self, area: str, level: str, valid_from: str, **extra: object) -> dict:  # type: ignore[type-arg]
        resp = await self.client.put(
            f"/v1/risk-areas/{area}",
            json={"level": level, "valid_from": valid_from, **extra},
            headers=self.commission,
        )
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


@pytest.fixture
def city(api: Api) -> City:
    return City(api)
