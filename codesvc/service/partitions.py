"""Time partitions: created ahead of need, scan partitions dropped past their retention.

Scans are partitioned by the city's day, notifications and the audit log by its month
(sql/0005_partitions.sql). The worker calls ``upkeep`` every hour: partitions for the
coming days exist before the first row needs them, and a day's scans leave as one DROP
once ``retention_days`` have passed. Every DDL statement waits at most ``LOCK_TIMEOUT``
for its lock, so upkeep never stalls a door; what could not be done is done next hour.
The audit log is never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from codesvc.db import RETRYABLE, distrust
from codesvc.state.explain import CITY_ZONE

log = logging.getLogger("codesvc.partitions")

#: How long a DDL statement of upkeep may wait for its lock before giving up for now.
LOCK_TIMEOUT = "100ms"
#: Key of the advisory lock that makes upkeeps in several workers take turns.
UPKEEP_LOCK = 0x636F6465_7061_7274

#: Seconds between upkeeps.
EVERY = 3600.0


@dataclass(frozen=True)
class Partitioned:
    """A table partitioned by range of a time column, one partition per day or month."""

    table: str
    column: str
    #: "day" or "month", in the city's zone.
    unit: str
    #: Rows that landed in the DEFAULT partition may move into a new partition. Never for
    #: the audit log, whose rows nothing may delete: its strays stay in DEFAULT.
    movable: bool
    #: Partitions past the retention are dropped (scans only).
    expires: bool


SCANS = Partitioned("scans", "scanned_at", "day", movable=True, expires=True)
NOTIFICATIONS = Partitioned("notifications", "at", "month", movable=True, expires=False)
AUDIT_LOG = Partitioned("audit_log", "at", "month", movable=False, expires=False)
TABLES = (SCANS, NOTIFICATIONS, AUDIT_LOG)

_SUFFIX = re.compile(r"_p(\d{8}|\d{6})$")


@dataclass(frozen=True)
class Period:
    lower: datetime
    upper: datetime
    suffix: str


def period_of(unit: str, at: datetime) -> Period:
    """The day or month (city time) holding ``at``."""
    local = at.astimezone(CITY_ZONE)
    if unit == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)  # the city keeps no daylight saving time
        suffix = start.strftime("%Y%m%d")
    elif unit == "month":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        end = start.replace(year=year, month=month)
        suffix = start.strftime("%Y%m")
    else:
        raise ValueError(f"unit {unit!r}: day or month")
    return Period(start.astimezone(UTC), end.astimezone(UTC), suffix)


def periods(unit: str, start: datetime, end: datetime) -> Iterator[Period]:
    """Every period from the one holding ``start`` to the one holding ``end``."""
    period = period_of(unit, start)
    while period.lower <= end:
        yield period
        period = period_of(unit, period.upper)


def partition_name(spec: Partitioned, period: Period) -> str:
    return f"{spec.table}_p{period.suffix}"


async def ensure(conn: asyncpg.Connection, spec: Partitioned, period: Period) -> bool:
    """Create the partition for ``period`` unless it exists; True when created.

    Rows of the period already in DEFAULT move into it, in the same transaction; the audit
    log's cannot (nothing deletes audit entries), so its period keeps using DEFAULT.
    """
    name = partition_name(spec, period)
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
        return False
    default = f"{spec.table}_default"
    async with conn.transaction():
        # Two workers take turns; the second finds the partition made.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", UPKEEP_LOCK)
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
            return False
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        stray = await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {spec.column} >= $1 "
            f"AND {spec.column} < $2)",
            period.lower,
            period.upper,
        )
        if stray and not spec.movable:
            log.warning(
                "%s has entries for %s in its default partition; the period stays there",
                spec.table,
                period.suffix,
            )
            return False
        if stray:
            await conn.execute(
                f"""CREATE TEMPORARY TABLE stray ON COMMIT DROP AS
                    WITH moved AS (DELETE FROM {default} WHERE {spec.column} >= $1
                                   AND {spec.column} < $2 RETURNING *)
                    SELECT * FROM moved""",
                period.lower,
                period.upper,
            )
        await conn.execute(
            f"CREATE TABLE {name} PARTITION OF {spec.table} "
            f"FOR VALUES FROM ('{period.lower.isoformat()}') TO ('{period.upper.isoformat()}')"
        )
        if stray:
            await conn.execute(
                f"INSERT INTO {spec.table} OVERRIDING SYSTEM VALUE SELECT * FROM stray"
            )
        if spec is AUDIT_LOG:
            await conn.execute(
                f"""CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {name}
                    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"""
            )
    log.info("created partition %s", name, extra={"partition": name})
    return True


async def existing(conn: asyncpg.Connection, spec: Partitioned) -> list[str]:
    """Names of a table's time partitions (DEFAULT not included), oldest first."""
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = $1::regclass ORDER BY c.relname""",
        spec.table,
    )
    return [r["relname"] for r in rows if _SUFFIX.search(r["relname"])]


async def drop_expired(conn: asyncpg.Connection, now: datetime, retention_days: int) -> list[str]:
    """Drop the scan partitions wholly older than the retention; delete such strays in
    DEFAULT. Returns the partitions dropped."""
    cutoff = now - timedelta(days=retention_days)
    dropped = []
    for name in await existing(conn, SCANS):
        day = datetime.strptime(name[-8:], "%Y%m%d").replace(tzinfo=CITY_ZONE)
        if period_of("day", day).upper > cutoff:
            continue
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            await conn.execute(f"DROP TABLE IF EXISTS {name}")
        log.info("dropped expired scans %s", name, extra={"partition": name})
        dropped.append(name)
    await conn.execute("DELETE FROM scans_default WHERE scanned_at < $1", cutoff)
    return dropped


@dataclass(frozen=True)
class Upkeep:
    created: list[str]
    dropped: list[str]


async def upkeep(
    conn: asyncpg.Connection, now: datetime, ahead_days: int, retention_days: int
) -> Upkeep:
    """Partitions from today to ``ahead_days`` ahead for every table; expired scans gone."""
    created = []
    for spec in TABLES:
        for period in periods(spec.unit, now, now + timedelta(days=ahead_days)):
            if await ensure(conn, spec, period):
                created.append(partition_name(spec, period))
    dropped = await drop_expired(conn, now, retention_days)
    return Upkeep(created, dropped)


async def keep_up(
    pool: asyncpg.Pool,
    clock: Callable[[], datetime],
    ahead_days: int,
    retention_days: int,
    every: float = EVERY,
) -> None:
    """``upkeep`` now and every ``every`` seconds, for as long as the worker runs."""
    while True:
        try:
            async with pool.acquire() as conn:
                await upkeep(conn, clock(), ahead_days, retention_days)
        except RETRYABLE as exc:
            # A lock not had within LOCK_TIMEOUT lands here too: next time, then.
            log.warning("partition upkeep failed, will retry: %s", exc)
            await distrust(pool, exc)
            await asyncio.sleep(min(every, 60.0))
            continue
        await asyncio.sleep(every)
