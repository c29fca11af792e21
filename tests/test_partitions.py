"""Tables that stay small: partitions made ahead, expired scans dropped, the audit log kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from codesvc.service import audit_log, partitions
from codesvc.service.audit_log import Record, verify_audit
from codesvc.tokens import Principal

NOW = datetime(2031, 3, 15, 4, 0, tzinfo=UTC)  # 12:00 in the city
OFFICER = Principal("commission", "commissioner-li", None, 0.0)


async def _scan(conn: asyncpg.Connection, at: datetime, venue: str = "cafe-1") -> None:
    await conn.execute(
        """INSERT INTO scans (scan_id, venue, person_id, scanned_at, color, method)
           VALUES ($1, $2, 1, $3, 'green', 'code')""",
        uuid.uuid4(),
        venue,
        at,
    )


async def _where(conn: asyncpg.Connection, table: str, column: str, at: datetime) -> str:
    return await conn.fetchval(
        f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = $1", at
    )


async def test_upkeep_makes_the_coming_days_partitions_before_rows_need_them(conn):
    done = await partitions.upkeep(conn, NOW, ahead_days=7, retention_days=28)
    assert [f"scans_p{day}" for day in range(20310315, 20310323)] == [
        name for name in done.created if name.startswith("scans_")
    ]
    assert "audit_log_p203103" in done.created
    assert "notifications_p203103" in done.created
    # A second upkeep finds nothing to do.
    assert (await partitions.upkeep(conn, NOW, ahead_days=7, retention_days=28)).created == []

    # A scan at 23:30 city time on the 16th lands in the 16th's partition (not UTC's day).
    late = datetime(2031, 3, 16, 15, 30, tzinfo=UTC)
    await _scan(conn, late)
    assert await _where(conn, "scans", "scanned_at", late) == "scans_p20310316"


async def test_expired_scans_are_dropped_and_the_audit_log_is_kept(conn):
    old = NOW - timedelta(days=40)
    await partitions.upkeep(conn, old, ahead_days=1, retention_days=28)
    await _scan(conn, old)
    async with conn.transaction():
        await audit_log.append(conn, OFFICER, old, [Record("person.read", "p_OLD")])
    assert await _where(conn, "scans", "scanned_at", old) == f"scans_p{old:%Y%m%d}"

    done = await partitions.upkeep(conn, NOW, ahead_days=7, retention_days=28)

    assert f"scans_p{old:%Y%m%d}" in done.dropped
    assert await conn.fetchval("SELECT count(*) FROM scans WHERE scanned_at = $1", old) == 0
    assert await conn.fetchval("SELECT to_regclass($1)", f"scans_p{old:%Y%m%d}") is None
    # Scans within the retention stay.
    recent = NOW - timedelta(days=27)
    await partitions.upkeep(conn, recent, ahead_days=0, retention_days=28)
    await _scan(conn, recent)
    await partitions.upkeep(conn, NOW, ahead_days=7, retention_days=28)
    assert await conn.fetchval("SELECT count(*) FROM scans WHERE scanned_at = $1", recent) == 1
    # The audit log is never dropped, and its chain still verifies.
    entries = await audit_log.for_person(conn, "p_OLD")
    assert [c.entry.at for c in entries] == [old]
    assert await verify_audit(conn) == []


async def test_audit_partitions_refuse_edits_whichever_table_is_named(conn):
    await partitions.upkeep(conn, NOW, ahead_days=1, retention_days=28)
    async with conn.transaction():
        await audit_log.append(conn, OFFICER, NOW, [Record("person.read", "p_ONE")])
    partition = await _where(conn, "audit_log", "at", NOW)
    assert partition == "audit_log_p203103"
    for statement in (
        f"DELETE FROM {partition}",
        f"UPDATE {partition} SET actor_sub = 'nobody'",
        f"TRUNCATE {partition}",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "TRUNCATE audit_log_default",
    ):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(statement)
    assert len(await audit_log.for_person(conn, "p_ONE")) == 1


async def test_rows_that_came_before_their_partition_move_into_it(conn):
    """A clock far ahead put a scan in DEFAULT; its day's partition takes it in."""
    ahead = NOW + timedelta(days=100)
    await _scan(conn, ahead)
    assert await _where(conn, "scans", "scanned_at", ahead) == "scans_default"
    async with conn.transaction():
        await audit_log.append(conn, OFFICER, ahead, [Record("person.read", "p_AHEAD")])

    done = await partitions.upkeep(conn, ahead, ahead_days=0, retention_days=28)

    assert await _where(conn, "scans", "scanned_at", ahead) == f"scans_p{ahead:%Y%m%d}"
    # Nothing deletes audit entries, so that month stays in DEFAULT, and is still read.
    assert f"audit_log_p{ahead:%Y%m}" not in done.created
    assert await _where(conn, "audit_log", "at", ahead) == "audit_log_default"
    assert await verify_audit(conn) == []


async def test_reading_a_period_touches_only_its_partitions(conn):
    await partitions.upkeep(conn, NOW, ahead_days=7, retention_days=28)
    plan = "\n".join(
        r[0]
        for r in await conn.fetch(
            "EXPLAIN SELECT * FROM scans WHERE venue = 'cafe-1' "
            "AND scanned_at >= $1 AND scanned_at < $2",
            partitions.period_of("day", NOW).lower,
            partitions.period_of("day", NOW).upper,
        )
    )
    assert "scans_p20310315" in plan
    assert "scans_p20310316" not in plan
