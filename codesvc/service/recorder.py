"""The door: scans read a colour and record it durably, a group of concurrent scans at a time.

Every answered scan has its record committed first (contact tracers rely on them), yet no
scan pays a database round trip of its own: the scans that arrive within a short window
share one statement that reads their people and inserts their records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

import asyncpg
import uuid_utils

from codesvc.identity import mask_name
from codesvc.service import stored_status
from codesvc.state.events import format_time
from codesvc.state.rules import Rules

#: A door should not wait longer than this for the database; then it gets a 503.
SCAN_TIMEOUT = 5.0

# One statement per group: take the venues' tokens (rate limits shared by every process
# and instance), find each person allowed through (by id from a code, or by id-number hash),
# read the stored colour, and record the scans whose stored colour is still current. Those
# whose next_change_at has passed, or whom a running job has yet to re-evaluate (a listing
# or campaign changed under them), come back marked due and are recorded after their colour
# is evaluated now, with the colour actually shown. Refused scans come back with the limit
# that refused them and the seconds until a token will be there.
#
# A venue's bucket is one row of rate_buckets per limit: the group takes what it needs for
# each venue in one upsert (refill by the time passed, grant what is there), in key order so
# that two groups in flight never deadlock. The k-th scan of a venue in the group passes
# when k tokens were granted. An id-card scan takes a token of both limits.
_GROUP_SQL = """
WITH asked AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bytea[])
        WITH ORDINALITY AS a(scan_id, venue, method, person_id, id_hash, i)
), limits (bucket, rate, burst) AS (
    VALUES ('scan', $7::float8, $8::float8), ('id_scan', $9::float8, $10::float8)
), wanted AS (
    SELECT l.bucket, a.venue AS key, least(count(*), floor(l.burst)) AS n
    FROM asked a JOIN limits l ON l.rate > 0 AND (l.bucket = 'scan' OR a.method = 'id_number')
    GROUP BY l.bucket, a.venue, l.burst
), taken AS (
    INSERT INTO rate_buckets AS b (bucket, key, tokens, granted, at)
    SELECT w.bucket, w.key, l.burst - w.n, w.n, $6 FROM wanted w JOIN limits l USING (bucket)
    ORDER BY w.bucket, w.key
    ON CONFLICT (bucket, key) DO UPDATE SET
        granted = least(excluded.granted, floor(least(
            CASE b.bucket WHEN 'scan' THEN $8 ELSE $10 END,
            b.tokens + CASE b.bucket WHEN 'scan' THEN $7 ELSE $9 END
                * greatest(0, extract(epoch FROM excluded.at - b.at))))),
        tokens = least(
            CASE b.bucket WHEN 'scan' THEN $8 ELSE $10 END,
            b.tokens + CASE b.bucket WHEN 'scan' THEN $7 ELSE $9 END
                * greatest(0, extract(epoch FROM excluded.at - b.at)))
            - least(excluded.granted, floor(least(
                CASE b.bucket WHEN 'scan' THEN $8 ELSE $10 END,
                b.tokens + CASE b.bucket WHEN 'scan' THEN $7 ELSE $9 END
                    * greatest(0, extract(epoch FROM excluded.at - b.at))))),
        at = greatest(b.at, excluded.at)
    RETURNING b.bucket, b.key, b.granted, b.tokens
), judged AS (
    SELECT a.*,
        CASE WHEN a.nth > s.granted THEN 'scan'
             WHEN a.method = 'id_number' AND a.nth_method > d.granted THEN 'id_scan'
        END AS refused_by,
        CASE WHEN a.nth > s.granted THEN (1 - s.tokens) / $7
             ELSE (1 - d.tokens) / $9 END AS wait
    FROM (SELECT *, row_number() OVER (PARTITION BY venue ORDER BY i) AS nth,
                 row_number() OVER (PARTITION BY venue, method ORDER BY i) AS nth_method
          FROM asked) a
    LEFT JOIN taken s ON s.bucket = 'scan' AND s.key = a.venue
    LEFT JOIN taken d ON d.bucket = 'id_scan' AND d.key = a.venue
), found AS (
    SELECT a.i, a.scan_id, a.venue, a.method, p.person_id, p.name, s.color,
           coalesce(s.next_change_at <= $6, false) OR awaits_job(p.person_id, p.district) AS due
    FROM judged a
    JOIN persons p ON p.person_id = coalesce(
        a.person_id, (SELECT q.person_id FROM persons q WHERE q.id_hash = a.id_hash))
    JOIN statuses s ON s.person_id = p.person_id
    WHERE a.refused_by IS NULL
), recorded AS (
    INSERT INTO scans (scan_id, venue, person_id, scanned_at, color, method)
    SELECT scan_id, venue, person_id, $6, color, method FROM found WHERE NOT due
)
SELECT i, person_id, name, color, due, NULL AS refused_by, NULL::float8 AS wait FROM found
UNION ALL
SELECT i, NULL, NULL, NULL, NULL, refused_by, wait FROM judged WHERE refused_by IS NOT NULL
"""

_RECORD_SQL = """
INSERT INTO scans (scan_id, venue, person_id, scanned_at, color, method)
SELECT u.scan_id, u.venue, u.person_id, $6, u.color, u.method
FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[])
    AS u(scan_id, venue, person_id, color, method)
"""


class Scan(NamedTuple):
    """One scan at a door: a person known by id (from a code) or by id-number hash."""

    venue: str
    method: str
    person_id: int | None = None
    id_hash: bytes | None = None


class Shown(NamedTuple):
    """What the door shows, already recorded."""

    scan_id: str
    color: str
    name_masked: str
    as_of: str


class Refused(NamedTuple):
    """A scan over its venue's limit: which limit (``scan``, ``id_scan``), and the seconds
    until a token will be there. Nothing was read or recorded."""

    limit: str
    wait: float


class Limits(NamedTuple):
    """Each venue's limits, held across every process and instance: a rate per second and
    a burst, for all scans and for id-card scans. A rate of 0 turns a limit off."""

    scan_rate: float = 0.0
    scan_burst: float = 1.0
    id_scan_rate: float = 0.0
    id_scan_burst: float = 1.0


NO_LIMITS = Limits()

#: What a scan comes to: shown (and recorded), refused by a limit, or None (no such person).
Outcome = Shown | Refused | None


_Waiting = tuple[Scan, "asyncio.Future[Outcome]"]


class ScanRecorder:
    """Group commit: scans wait at most ``window`` seconds to share one statement.

    At most ``lanes`` statements are in flight; while all are busy, arriving scans gather
    into the next group, so the busier the doors the larger (and cheaper) each group; with
    a window of 0 a quiet door pays no wait at all. The scans pool runs with
    ``synchronous_commit = on``: when the statement returns, its records are on disk.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        read_pool: asyncpg.Pool,
        rules: Rules,
        clock: Callable[[], datetime],
        window: float,
        *,
        lanes: int,
        limits: Limits = NO_LIMITS,
        max_group: int = 256,
        on_group: Callable[[int], None] = lambda size: None,
        on_due: Callable[[], None] = lambda: None,
    ) -> None:
        self.pool = pool
        self.read_pool = read_pool
        self.rules = rules
        self.clock = clock
        self.window = window
        self.lanes = lanes
        self.limits = limits
        self.max_group = max_group
        self.on_group = on_group
        self.on_due = on_due
        self._pending: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def record(self, scan: Scan) -> Outcome:
        """Read and record one scan; Refused over the venue's limit, None when no such
        person is registered."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._pending.append((scan, future))
        if len(self._pending) >= self.max_group:
            self._flush()
        elif self._timer is None and self._busy < self.lanes:
            # While every lane is busy no timer is needed: the first to finish sends.
            self._timer = loop.call_later(self.window, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or self._busy >= self.lanes:
            return  # a lane finishing sends what has gathered
        group = self._pending[: self.max_group]
        del self._pending[: self.max_group]
        self._busy += 1
        task = asyncio.get_running_loop().create_task(self._send(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, group: list[_Waiting]) -> None:
        try:
            await self._commit(group)
        except BaseException as exc:
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._busy -= 1
            if self._pending and self._timer is None:
                self._flush()

    async def _commit(self, group: list[_Waiting]) -> None:
        at = self.clock()
        as_of = format_time(at)
        ids = scan_ids(at, len(group))
        async with self.pool.acquire(timeout=SCAN_TIMEOUT) as conn:
            rows = await conn.fetch(
                _GROUP_SQL,
                ids,
                [scan.venue for scan, _ in group],
                [scan.method for scan, _ in group],
                [scan.person_id for scan, _ in group],
                [scan.id_hash for scan, _ in group],
                at,
                *self.limits,
                timeout=SCAN_TIMEOUT,
            )
            self.on_group(len(group))
            answered: set[int] = set()
            due = []
            for row in rows:
                i, _person_id, name, color, is_due, refused_by, wait = row
                i -= 1
                answered.add(i)
                if refused_by is not None:
                    _resolve(group[i][1], Refused(refused_by, wait))
                elif is_due:
                    due.append((i, row))
                    continue
                _resolve(group[i][1], Shown(ids[i], color, mask_name(name), as_of))
            for i, (_, future) in enumerate(group):
                if i not in answered:
                    _resolve(future, None)
            if due:
                await self._record_due(conn, group, ids, due, at, as_of)

    async def _record_due(
        self,
        conn: asyncpg.Connection,
        group: Sequence[_Waiting],
        ids: Sequence[str],
        due: Sequence[tuple[int, asyncpg.Record]],
        at: datetime,
        as_of: str,
    ) -> None:
        """People whose deadline passed before the sweeper moved them, or whom a running
        job has yet to reach: evaluate them now, all of the group's at once."""
        people = [row["person_id"] for _, row in due]
        async with self.read_pool.acquire(timeout=SCAN_TIMEOUT) as reader:
            statuses = await stored_status.evaluate_now(
                reader, people, self.rules, at, explained=False
            )
        # Each was found by the group statement, and nobody is ever deleted.
        colors = [statuses[pid].color.value for pid in people]
        await conn.execute(
            _RECORD_SQL,
            [ids[i] for i, _ in due],
            [group[i][0].venue for i, _ in due],
            [row["person_id"] for _, row in due],
            colors,
            [group[i][0].method for i, _ in due],
            at,
            timeout=SCAN_TIMEOUT,
        )
        for (i, row), color in zip(due, colors, strict=True):
            _resolve(group[i][1], Shown(ids[i], color, mask_name(row["name"]), as_of))
        self.on_due()

    async def close(self) -> None:
        """Send what is pending and wait for every group in flight."""
        while self._pending or self._tasks:
            self._flush()
            if self._tasks:
                await asyncio.wait(set(self._tasks))


async def no_reset(conn: asyncpg.Connection) -> None:
    """Scan connections keep no session state, so release skips the reset round trip."""


def _resolve(future: asyncio.Future[Outcome], value: Outcome) -> None:
    if not future.done():
        future.set_result(value)


def scan_ids(at: datetime, count: int) -> list[str]:
    """Time-ordered UUIDs (version 7) at ``at``, so new records land at the end of the index."""
    nanoseconds = int(at.timestamp() * 1_000_000) * 1000
    return [str(uuid_utils.uuid7(nanoseconds=nanoseconds)) for _ in range(count)]
