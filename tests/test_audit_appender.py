"""Audited reads chained in batches: one line, every read with its entry, nothing lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import asyncpg

from codesvc import db
from codesvc.service import audit_log
from codesvc.service.audit_appender import AuditAppender
from codesvc.service.audit_log import Record, verify_audit
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys, Principal
from tests.builders import id_number
from tests.processes import clean_env, codesvc_serve

OFFICER = Principal("staff", "officer-7", "310101", 0.0)
SECRET = "audit-appender-test-" + "x" * 24


async def test_many_waiting_reads_share_few_transactions_and_the_chain_verifies(db_url, conn):
    pool = await db.create_pool(db_url, Settings(pool_min=1, pool_max=4))
    batches: list[int] = []
    appender = AuditAppender(pool, on_batch=batches.append)
    try:
        at = datetime.now(UTC)
        await asyncio.gather(
            *(
                appender.record(OFFICER, at, [Record("person.read", f"p_{n:04}", "status")])
                for n in range(300)
            )
        )
    finally:
        await appender.close()
        await pool.close()
    assert sum(batches) == 300
    assert len(batches) < 300  # readers waiting together were chained together
    assert await verify_audit(conn) == []
    refs = {r["person_ref"] for r in await conn.fetch("SELECT person_ref FROM audit_log")}
    assert refs == {f"p_{n:04}" for n in range(300)}


async def test_an_entry_that_cannot_be_stored_fails_only_its_own_reader(db_url, conn):
    pool = await db.create_pool(db_url, Settings(pool_min=1, pool_max=2))
    appender = AuditAppender(pool)
    try:
        # Entries that cannot be hashed stably are refused before anything is stored.
        bad = Record("person.read", "p_BAD", "status", {"weight": 1.5})
        good = Record("person.read", "p_GOOD", "status")
        at = datetime.now(UTC)
        outcomes = await asyncio.gather(
            appender.record(OFFICER, at, [bad]),
            appender.record(OFFICER, at, [good]),
            return_exceptions=True,
        )
    finally:
        await appender.close()
        await pool.close()
    # The bad entry's reader is refused; the reader beside it is not held hostage.
    assert isinstance(outcomes[0], TypeError)
    assert outcomes[1] is None
    assert [r["person_ref"] for r in await conn.fetch("SELECT person_ref FROM audit_log")] == [
        "p_GOOD"
    ]
    assert await verify_audit(conn) == []


async def test_an_append_after_a_head_that_moved_on_stores_nothing_and_says_where_it_is(conn):
    at = datetime.now(UTC)
    first = await audit_log.head(conn)
    stored, moved = await audit_log.append_after(conn, [(OFFICER, at, Record("a", "p_1"))], first)
    assert [c.entry.seq for c in stored] == [1]
    assert moved == audit_log.Head(1, stored[0].hash)
    # Another process's appender still believes the chain ends at `first`.
    late, now = await audit_log.append_after(conn, [(OFFICER, at, Record("b", "p_2"))], first)
    assert late == []
    assert now == moved  # the head as it is, to chain from again
    again, _ = await audit_log.append_after(conn, [(OFFICER, at, Record("b", "p_2"))], now)
    assert [(c.entry.seq, c.prev_hash) for c in again] == [(2, moved.hash)]
    assert [r["person_ref"] for r in await conn.fetch("SELECT person_ref FROM audit_log")] == [
        "p_1",
        "p_2",
    ]
    assert await verify_audit(conn) == []


async def test_appenders_racing_a_change_holding_the_head_keep_one_line(db_url, conn):
    """Two appenders (as in two processes) and a change that holds the head's lock in its
    own transaction: every entry lands once, in one verifiable line."""
    pool = await db.create_pool(db_url, Settings(pool_min=2, pool_max=6))
    appenders = [AuditAppender(pool), AuditAppender(pool)]
    at = datetime.now(UTC)
    try:
        async with pool.acquire() as change, change.transaction():
            await audit_log.append(change, OFFICER, at, [Record("venue.revoke", None, "gate")])
            # The readers start while the change holds the head; they wait for it.
            reads = [
                asyncio.ensure_future(
                    appenders[n % 2].record(OFFICER, at, [Record("person.read", f"p_{n:03}")])
                )
                for n in range(200)
            ]
            await asyncio.sleep(0.05)
            assert not any(r.done() for r in reads)
        await asyncio.gather(*reads)
    finally:
        for appender in appenders:
            await appender.close()
        await pool.close()
    assert await verify_audit(conn) == []
    rows = await conn.fetch("SELECT seq, person_ref FROM audit_log ORDER BY seq")
    assert [r["seq"] for r in rows] == list(range(1, 202))
    assert rows[0]["person_ref"] is None
    assert sorted(r["person_ref"] for r in rows[1:]) == [f"p_{n:03}" for n in range(200)]


async def test_concurrent_reads_and_changes_from_two_processes_keep_one_verifiable_chain(
    db_url, tmp_path
):
    env = clean_env(
        CODESVC_DATABASE_URL=db_url,
        CODESVC_HOME=str(tmp_path / "home"),
        CODESVC_AUTH_SECRET=SECRET,
        CODESVC_LOG_LEVEL="WARNING",
    )
    keys = AuthKeys.from_settings(Settings(auth_secret=SECRET))

    def auth(role: str, sub: str, district: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys.sign(role, sub, district)}"}

    async with codesvc_serve(env, tmp_path, workers=2) as served:
        base = served.base
        connector = aiohttp.TCPConnector(force_close=True, limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:
            refs = []
            for n in range(5):
                async with session.post(
                    base + "/v1/persons",
                    json={"id_number": id_number(), "name": f"周{n}", "district": "310101"},
                    headers=auth("feeder", "registry"),
                ) as resp:
                    refs.append((await resp.json())["person_ref"])

            async def read(n: int) -> int:
                ref = refs[n % len(refs)]
                headers = auth("staff", f"officer-{n % 7}", "310101")
                async with session.get(f"{base}/v1/persons/{ref}/status", headers=headers) as r:
                    return r.status

            async def change(n: int) -> int:
                # Each change appends inside its own transaction, beside the batched reads.
                body = {"reason": f"inspection {n}"}
                async with session.post(
                    f"{base}/v1/venues/gate-{n}/revoke", json=body, headers=auth("commission", "c1")
                ) as r:
                    return r.status

            statuses = await asyncio.gather(
                *(read(n) for n in range(240)), *(change(n) for n in range(20))
            )
    assert statuses.count(200) == len(statuses)
    conn = await asyncpg.connect(db_url)
    try:
        await db.init_connection(conn)
        assert await verify_audit(conn) == []
        reads = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'person.read'")
        changes = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'venue.revoke'"
        )
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM audit_log ORDER BY seq")]
    finally:
        await conn.close()
    assert reads == 240
    assert changes == 20
    assert seqs == list(range(1, len(seqs) + 1))
