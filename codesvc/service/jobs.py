"""City-wide changes as jobs (a risk-area listing, a test campaign), worked in chunks.

The change commits at once with its job row, reading none of its people; the job counts
them (and writes the count to the audit log), then re-evaluates them in chunks of person
ids, in id order. Each chunk is one transaction that
claims the job's row (``FOR UPDATE SKIP LOCKED``, so two workers never apply the same
chunk), stores its people's statuses, histories and colour-change notifications, and
advances the job's cursor. A worker killed mid-chunk loses only that uncommitted chunk
and the next worker resumes at the cursor: nobody is skipped, and nobody is told twice,
since a notification is written only in the transaction that moves the stored colour.

Nothing locks ingestion out. Before listing its people the job waits for the
transactions that were in flight when the change committed (``settle_xids``): a writer
that evaluated someone under the old listings had locked them, and so held an xid,
before it read the listings; every writer that starts later reads the new ones.

Kept in one module of about 500 lines on purpose: starting a job, listing its people and
working its chunks share one protocol (the settle point, the cursor, the claim on the
job's row, the row versions compared before a write) that is checked more easily in one
place than across several; `job_processes` holds the one part that stands apart.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from codesvc.db import UNAVAILABLE, distrust
from codesvc.service import audit_log, stored_status
from codesvc.service.job_processes import Evaluators, Prepared
from codesvc.settings import Settings
from codesvc.state.rules import Rules

log = logging.getLogger("codesvc.jobs")

#: People re-evaluated per chunk (one transaction); small enough that a chunk's row
#: locks are held for well under ~100 ms.
CHUNK = 500
#: Chunks a worker takes on one claim before it looks for other work again.
CHUNKS_PER_STEP = 100
#: A job whose chunk fails this many times in a row (not for want of a database) fails.
MAX_ATTEMPTS = 3
#: Seconds between looks for new jobs: a new job starts within this, in whichever
#: process or machine the worker runs, with no message to pass.
POLL = 0.25
#: Seconds between looks at the transactions a new job waits for.
SETTLE_POLL = 0.05

JOB_COLUMNS = "job_id, kind, state, total, done, started_at, finished_at, error"


@dataclass(frozen=True, slots=True)
class _Service:
    """The service itself as the audit log's actor: it counts a job's people."""

    role: str = "system"
    sub: str = "jobs"


#: The audit entry a job writes when it has counted its people: the change's own entry
#: (``risk_area.change``, ``campaign.add``) names the job, this one how many it reaches.
COUNTED = "job.counted"


@dataclass(frozen=True, slots=True)
class Job:
    """What the commission sees of a job: GET /v1/jobs/{job_id}."""

    job_id: str
    kind: str
    state: str
    total: int | None
    done: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None


def _job(row: asyncpg.Record) -> Job:
    return Job(*(row[c] for c in JOB_COLUMNS.split(", ")))


async def start_listing(
    conn: asyncpg.Connection,
    area_code: str,
    window: tuple[datetime, datetime | None],
    by: str,
    now: datetime,
) -> str:
    """A job re-evaluating everyone with an arrival from ``area_code`` in ``window``;
    call inside the transaction that changes the listing, then `settle_point` after it."""
    job_id = "j_" + secrets.token_hex(8)
    await conn.execute(
        """INSERT INTO jobs (job_id, kind, area_code, window_from, window_to, cause,
                             created_by, started_at)
           VALUES ($1, 'listing', $2, $3, $4, $5, $6, $7)""",
        job_id,
        area_code,
        window[0],
        window[1],
        f"listing:{area_code}",
        by,
        now,
    )
    return job_id


async def start_campaign(conn: asyncpg.Connection, campaign_id: str, by: str, now: datetime) -> str:
    """A job re-evaluating the people a new campaign can hold; as `start_listing`."""
    job_id = "j_" + secrets.token_hex(8)
    await conn.execute(
        """INSERT INTO jobs (job_id, kind, campaign_id, cause, created_by, started_at)
           VALUES ($1, 'campaign', $2, $3, $4, $5)""",
        job_id,
        campaign_id,
        f"campaign:{campaign_id}",
        by,
        now,
    )
    return job_id


async def settle_point(conn: asyncpg.Connection, job_id: str) -> None:
    """Record the transactions in flight now, just after the change committed: the job
    lists its people once they have all ended. (Should this never run, the worker takes
    the point itself; any point after the commit is as good.)"""
    await conn.execute(
        """UPDATE jobs SET settle_xids = ARRAY(
               SELECT x::text::bigint FROM pg_snapshot_xip(pg_current_snapshot()) AS x)
           WHERE job_id = $1 AND settle_xids IS NULL""",
        job_id,
    )


async def get(conn: asyncpg.Connection, job_id: str) -> Job | None:
    row = await conn.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1", job_id)
    return _job(row) if row else None


# The people a job re-evaluates, after a cursor, in id order. An arrival from the area
# in the window makes a listing's person; a campaign's are those of its districts
# registered before it ended with no test in its window (R8).
_LISTING_PEOPLE = """
SELECT DISTINCT person_id FROM events
WHERE kind = 'travel.arrival' AND data ->> 'area_code' = $1 AND person_id > $2
  AND occurred_at >= $3 AND ($4::timestamptz IS NULL OR occurred_at < $4)
ORDER BY person_id LIMIT $5
"""
_CAMPAIGN_PEOPLE = """
SELECT p.person_id FROM persons p, campaigns c
WHERE c.campaign_id = $1 AND p.person_id > $2 AND p.district = ANY (c.districts)
  AND p.registered_at < c.ends_at
  AND NOT EXISTS (
      SELECT 1 FROM events e
      WHERE e.person_id = p.person_id AND e.kind = 'test.result'
        AND e.occurred_at >= c.starts_at AND e.occurred_at <= c.ends_at)
ORDER BY p.person_id LIMIT $3
"""


_PEOPLE = {"listing": _LISTING_PEOPLE, "campaign": _CAMPAIGN_PEOPLE}


def _people_args(job: asyncpg.Record, cursor: int, limit: int | None) -> Sequence[object]:
    if job["kind"] == "listing":
        return (job["area_code"], cursor, job["window_from"], job["window_to"], limit)
    return (job["campaign_id"], cursor, limit)


async def people_after(
    conn: asyncpg.Connection, job: asyncpg.Record, cursor: int, limit: int | None
) -> list[int]:
    """The job's next ``limit`` people after ``cursor`` (all of them for None)."""
    rows = await conn.fetch(_PEOPLE[job["kind"]], *_people_args(job, cursor, limit))
    return [r["person_id"] for r in rows]


class ChunkFailed(Exception):
    """A chunk of ``job_id`` failed for a reason other than an unreachable database."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class Step(enum.Enum):
    """What a call of `step` did."""

    #: a job moved on (settled, counted, a chunk re-evaluated, or finished)
    MOVED = "moved"
    #: the first free job waits for transactions of its moment to end
    WAITING = "waiting"
    #: no running job is free
    IDLE = "idle"


async def step(
    pool: asyncpg.Pool,
    rules: Rules,
    clock: Callable[[], datetime],
    chunk: int = CHUNK,
    chunks: int = CHUNKS_PER_STEP,
    evaluators: Evaluators | None = None,
) -> Step:
    """Claim a running job that no other worker holds and take it on: settle, count its
    people, re-evaluate up to ``chunks`` chunks of them, or finish it.

    Raises `ChunkFailed` when a step of a job failed (each chunk commits whole or not at all).
    """
    job_id = None
    try:
        async with pool.acquire() as conn, conn.transaction():
            job = await conn.fetchrow(
                """SELECT * FROM jobs WHERE state = 'running'
                   ORDER BY started_at, job_id LIMIT 1 FOR UPDATE SKIP LOCKED"""
            )
            if job is None:
                return Step.IDLE
            job_id = job["job_id"]
            if job["total"] is None:
                return await _count(conn, job, clock())
        if evaluators is not None:
            return await _work_in_processes(pool, job, rules, clock, chunk, chunks, evaluators)
        return await _work(pool, job, rules, clock, chunk, chunks)
    except UNAVAILABLE:
        raise
    except Exception as exc:
        if job_id is None:
            raise
        raise ChunkFailed(job_id) from exc


async def _count(conn: asyncpg.Connection, job: asyncpg.Record, now: datetime) -> Step:
    """Once the transactions of the change's moment have ended, count the job's people
    and write down, in the same transaction, how many the change reaches."""
    job_id = job["job_id"]
    if job["settle_xids"] is None:
        await settle_point(conn, job_id)
        return Step.MOVED
    if await _in_flight(conn, job["settle_xids"]):
        return Step.WAITING
    total = await conn.fetchval(
        "SELECT count(*) FROM (" + _PEOPLE[job["kind"]] + ") AS people",
        *_people_args(job, 0, None),
    )
    await conn.execute("UPDATE jobs SET total = $2 WHERE job_id = $1", job_id, total)
    subject = job["area_code"] if job["kind"] == "listing" else job["campaign_id"]
    counted = {"job_id": job_id, "kind": job["kind"], "affected": total}
    await audit_log.append(
        conn, _Service(), now, [audit_log.Record(COUNTED, None, subject, counted)]
    )
    log.info("job %s: %d people to re-evaluate", job_id, total, extra={"job_id": job_id})
    return Step.MOVED


@dataclass
class _Chunk:
    """A chunk evaluated from what was read without locks, ready to be stored."""

    after: int
    people: list[int]
    seen: dict[int, stored_status.Stored]
    writes: stored_status.Writes
    now: datetime


async def _prepare(
    conn: asyncpg.Connection,
    job: asyncpg.Record,
    after: int,
    rules: Rules,
    now: datetime,
    size: int,
) -> _Chunk | None:
    people = await people_after(conn, job, after, size)
    if not people:
        return None
    seen = await stored_status.read(conn, people)
    _, writes = await stored_status.reevaluate(conn, seen, rules, now, job["cause"])
    return _Chunk(after, people, seen, writes, now)


async def _store(
    conn: asyncpg.Connection, job: asyncpg.Record, chunk: _Chunk, rules: Rules
) -> bool:
    """Store a prepared chunk in one transaction holding the job's row; False if another
    worker holds the job or has moved it on meanwhile (then nothing is written).

    Rows are locked only here, for the few statements that write them. Anyone written
    since the chunk was read (an event, the sweeper) is evaluated again under the lock.
    """
    async with conn.transaction():
        cursor = await conn.fetchval(
            """SELECT cursor FROM jobs WHERE job_id = $1 AND state = 'running'
               FOR UPDATE SKIP LOCKED""",
            job["job_id"],
        )
        if cursor != chunk.after:
            return False
        locked = await stored_status.lock(conn, chunk.people)
        moved = {
            pid
            for pid, row in locked.items()
            if pid not in chunk.seen or chunk.seen[pid].version != row.version
        }
        await stored_status.write(conn, chunk.writes.without(moved), chunk.now)
        if moved:
            again = {pid: locked[pid] for pid in moved}
            await stored_status.refresh(conn, again, rules, chunk.now, job["cause"])
        await conn.execute(
            "UPDATE jobs SET cursor = $2, done = done + $3, attempts = 0 WHERE job_id = $1",
            job["job_id"],
            chunk.people[-1],
            len(chunk.people),
        )
    return True


async def _work(
    pool: asyncpg.Pool,
    job: asyncpg.Record,
    rules: Rules,
    clock: Callable[[], datetime],
    size: int,
    chunks: int,
) -> Step:
    """Re-evaluate chunks of the job, each read and evaluated while the one before is
    being written (two connections: the database writes as Python evaluates)."""
    async with pool.acquire() as reader, pool.acquire() as writer:
        chunk = await _prepare(reader, job, job["cursor"], rules, clock(), size)
        for _ in range(chunks):
            if chunk is None:
                return await _finish(writer, job, clock())
            storing = asyncio.ensure_future(_store(writer, job, chunk, rules))
            try:
                following = await _prepare(reader, job, chunk.people[-1], rules, clock(), size)
            finally:
                stored = await storing
            if not stored:
                return Step.MOVED
            chunk = following
    return Step.MOVED


async def _work_in_processes(
    pool: asyncpg.Pool,
    job: asyncpg.Record,
    rules: Rules,
    clock: Callable[[], datetime],
    size: int,
    chunks: int,
    evaluators: Evaluators,
) -> Step:
    """As `_work`, with chunks read and evaluated in worker processes, a few ahead, while
    this process stores the finished ones in order."""
    ahead = evaluators.processes + 1
    window: collections.deque[tuple[list[int], datetime, asyncio.Future[Prepared]]] = (
        collections.deque()
    )
    async with pool.acquire() as conn:
        after = fetched = job["cursor"]
        try:
            for _ in range(chunks):
                if len(window) < ahead:
                    now = clock()
                    people = await people_after(conn, job, fetched, size * (ahead - len(window)))
                    for start in range(0, len(people), size):
                        part = people[start : start + size]
                        evaluating = evaluators.prepare(part, rules, now, job["cause"])
                        window.append((part, now, asyncio.ensure_future(evaluating)))
                    fetched = people[-1] if people else fetched
                if not window:
                    return await _finish(conn, job, clock())
                part, at, prepared = window.popleft()
                seen, writes = await prepared
                if not await _store(conn, job, _Chunk(after, part, seen, writes, at), rules):
                    return Step.MOVED
                after = part[-1]
        finally:
            for _, _, waiting in window:
                waiting.cancel()
    return Step.MOVED


async def _finish(conn: asyncpg.Connection, job: asyncpg.Record, now: datetime) -> Step:
    async with conn.transaction():
        row = await conn.fetchrow(
            """UPDATE jobs SET state = 'done', finished_at = $2, total = greatest(total, done)
               WHERE job_id = $1 AND state = 'running' RETURNING done""",
            job["job_id"],
            now,
        )
    if row is not None:
        log.info("job %s done: %d people", job["job_id"], row["done"])
    return Step.MOVED


async def _in_flight(conn: asyncpg.Connection, xids: Sequence[int]) -> int:
    """How many of these transactions are still running."""
    return int(
        await conn.fetchval(
            """SELECT count(*) FROM unnest($1::bigint[]) AS x
               WHERE pg_xact_status(x::text::xid8) = 'in progress'""",
            xids,
        )
    )


async def _failed(pool: asyncpg.Pool, job_id: str, error: BaseException, now: datetime) -> None:
    """Count a failed step against its job; after MAX_ATTEMPTS in a row the job fails."""
    async with pool.acquire() as conn:
        attempts = await conn.fetchval(
            """UPDATE jobs SET attempts = attempts + 1, error = $2,
                   state = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE state END,
                   finished_at = CASE WHEN attempts + 1 >= $3 THEN $4 ELSE finished_at END
               WHERE job_id = $1 AND state = 'running'
               RETURNING attempts""",
            job_id,
            f"{type(error).__name__}: {error}",
            MAX_ATTEMPTS,
            now,
        )
    log.error("job %s: a step failed (attempt %s): %r", job_id, attempts, error)


async def work_all(
    pool: asyncpg.Pool,
    rules: Rules,
    clock: Callable[[], datetime],
    chunk: int = CHUNK,
    patience: float = 30.0,
    evaluators: Evaluators | None = None,
) -> None:
    """Work every job to its end (for the command line and tests); waits up to
    ``patience`` seconds in all for in-flight transactions to settle."""
    waited = 0.0
    while True:
        done = await step(pool, rules, clock, chunk, evaluators=evaluators)
        async with pool.acquire() as conn:
            if done is not Step.MOVED:
                running = await conn.fetchval("SELECT count(*) FROM jobs WHERE state = 'running'")
                if not running:
                    return
                if waited >= patience:
                    raise TimeoutError(f"{running} job(s) still running after {patience} s")
        if done is not Step.MOVED:
            await asyncio.sleep(SETTLE_POLL)
            waited += SETTLE_POLL


async def run_jobs(
    pool: asyncpg.Pool,
    settings: Settings,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
) -> None:
    """The background worker: work jobs chunk by chunk until ``stop`` is set.

    Safe to run in any number of processes at once. A chunk in progress when ``stop``
    is set is finished first; one cut off by a crash is redone by whoever comes next.
    With ``settings.job_processes`` chunks are evaluated in that many worker processes.
    """
    evaluators = (
        Evaluators(settings.database_url, settings.job_processes)
        if settings.job_processes > 0
        else None
    )
    try:
        await _run(pool, settings, clock, stop, evaluators)
    finally:
        if evaluators is not None:
            evaluators.close()


async def _run(
    pool: asyncpg.Pool,
    settings: Settings,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    evaluators: Evaluators | None,
) -> None:
    while not stop.is_set():
        done = Step.IDLE
        try:
            done = await step(
                pool, settings.rules, clock, settings.job_chunk, evaluators=evaluators
            )
        except UNAVAILABLE as exc:
            log.warning("jobs: database unavailable, will retry: %s", exc)
            await distrust(pool, exc)
        except ChunkFailed as failed:
            with contextlib.suppress(*UNAVAILABLE, asyncpg.PostgresError):
                await _failed(pool, failed.job_id, failed.__cause__ or failed, clock())
        if done is Step.MOVED:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL if done is Step.IDLE else SETTLE_POLL)
