"""Rules the database keeps itself (sql/0014_schema_rules.sql), whoever writes the rows.

Each test writes through plain SQL, as a hand-run statement or a bug would, and expects
the database to refuse what breaks a rule and to take what the service does write.
"""

from __future__ import annotations

import re
import secrets
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from codesvc import db
from codesvc.appeals.machine import Actor, AppealState
from codesvc.schemas.events import KINDS
from codesvc.service.appeals.reading import QueueQuery, queue, queue_statement
from codesvc.state.events import EVENT_TYPES
from tests.conftest import ROOT

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


async def person(conn: asyncpg.Connection, district: str = "310101") -> int:
    ref = secrets.token_hex(6)
    return await conn.fetchval(
        """INSERT INTO persons (person_ref, id_hash, name, district, registered_at)
           VALUES ($1, $2, '张三', $3, $4) RETURNING person_id""",
        f"p_{ref}",
        ref.encode(),
        district,
        NOW - timedelta(days=30),
    )


async def event(
    conn: asyncpg.Connection, person_id: int | None, kind: str = "test.result", **data: Any
) -> str:
    event_id = str(uuid.uuid4())
    await conn.execute(
        """INSERT INTO events (event_id, person_id, kind, occurred_at, data, digest, sender)
           VALUES ($1, $2, $3, $4, $5, $6, 'lab:lab-1')""",
        event_id,
        person_id,
        kind,
        NOW,
        data or {"result": "negative", "lab_id": "lab-1", "sample_id": "s-1"},
        b"\x00" * 32,
    )
    return event_id


# --- events: known kinds, append-only --------------------------------------------------------


async def test_the_kinds_the_database_accepts_are_the_kinds_the_code_knows(conn):
    definition = await conn.fetchval(
        """SELECT pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = 'events'::regclass AND conname = 'events_kind_known'"""
    )
    assert definition is not None, "events has no CHECK on kind"
    in_check = set(re.findall(r"'([^']+)'::text", definition))
    # What is stored is what the code can rebuild; what may be sent is that but overrides.
    assert in_check == set(EVENT_TYPES)
    assert in_check == {*KINDS, "override"}


async def test_an_event_of_an_unknown_kind_is_refused(conn):
    with pytest.raises(asyncpg.CheckViolationError, match="events_kind_known"):
        await event(conn, await person(conn), "travel.departure", area_code="440306")


async def test_events_cannot_be_edited_or_removed(conn):
    someone, other = await person(conn), await person(conn)
    stored = await event(conn, someone)
    refused = [
        ("UPDATE events SET kind = 'correction' WHERE event_id = $1", "UPDATE"),
        ("UPDATE events SET data = data || '{\"result\": \"positive\"}' WHERE event_id = $1",
         "UPDATE"),
        ("UPDATE events SET occurred_at = occurred_at - interval '1 day' WHERE event_id = $1",
         "UPDATE"),
        # moving an event to another person is not linking one that named nobody
        (f"UPDATE events SET person_id = {other} WHERE event_id = $1", "UPDATE"),
        ("DELETE FROM events WHERE event_id = $1", "DELETE"),
    ]  # fmt: skip
    for statement, op in refused:
        with pytest.raises(asyncpg.RaiseError, match=f"events are append-only: {op} refused"):
            await conn.execute(statement, stored)
    with pytest.raises(asyncpg.RaiseError, match="events are append-only: TRUNCATE refused"):
        await conn.execute("TRUNCATE events CASCADE")
    row = await conn.fetchrow("SELECT person_id, kind, data FROM events")
    assert (row["person_id"], row["kind"], row["data"]["result"]) == (
        someone,
        "test.result",
        "negative",
    )


async def test_a_lab_result_that_named_nobody_can_be_linked_once_and_only_that(conn):
    appellant = await person(conn)
    unlinked = await event(conn, None)
    # Linking while changing anything else is refused...
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await conn.execute(
            """UPDATE events SET person_id = $1, data = data || '{"result": "positive"}'
               WHERE event_id = $2""",
            appellant,
            unlinked,
        )
    # ...linking alone, as an appeal whose evidence matches does, is taken...
    await conn.execute("UPDATE events SET person_id = $1 WHERE event_id = $2", appellant, unlinked)
    assert await conn.fetchval("SELECT person_id FROM events") == appellant
    # ...and once linked, it stays with that person.
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await conn.execute("UPDATE events SET person_id = NULL WHERE event_id = $1", unlinked)
    assert await conn.fetchval("SELECT person_id FROM events") == appellant


# --- history: non-empty intervals, supersession says by what ------------------------------------


async def history_row(conn: asyncpg.Connection, person_id: int, **columns: Any) -> None:
    row = {
        "valid_from": NOW - timedelta(days=1),
        "valid_to": None,
        "superseded_at": None,
        "superseded_by": None,
        **columns,
    }
    await conn.execute(
        """INSERT INTO history (person_id, valid_from, valid_to, color, cause, recorded_at,
                                superseded_at, superseded_by)
           VALUES ($1, $2, $3, 'green', 'none', $4, $5, $6)""",
        person_id,
        row["valid_from"],
        row["valid_to"],
        NOW,
        row["superseded_at"],
        row["superseded_by"],
    )


async def test_a_history_interval_must_end_after_it_starts(conn):
    someone = await person(conn)
    start = NOW - timedelta(days=1)
    for end in (start, start - timedelta(seconds=1)):
        with pytest.raises(asyncpg.CheckViolationError, match="history_interval_not_empty"):
            await history_row(conn, someone, valid_from=start, valid_to=end)
    await history_row(conn, someone, valid_from=start, valid_to=start + timedelta(seconds=1))
    await history_row(conn, someone, valid_from=start, valid_to=None)
    assert await conn.fetchval("SELECT count(*) FROM history WHERE person_id = $1", someone) == 2


async def test_a_superseded_history_row_says_when_and_by_what_together(conn):
    someone = await person(conn)
    for half in ({"superseded_at": NOW}, {"superseded_by": "appeal:a_1"}):
        with pytest.raises(asyncpg.CheckViolationError, match="history_superseded_says_by"):
            await history_row(conn, someone, **half)
    await history_row(conn, someone, superseded_at=NOW, superseded_by="appeal:a_1")
    with pytest.raises(asyncpg.CheckViolationError, match="history_superseded_says_by"):
        await conn.execute("UPDATE history SET superseded_by = NULL WHERE person_id = $1", someone)


# --- appeals: in review means claimed ----------------------------------------------------------


async def appeal(
    conn: asyncpg.Connection, person_id: int, status: str, claimed_by: str | None
) -> None:
    await conn.execute(
        """INSERT INTO appeals (appeal_id, person_id, district, category, description, status,
                                claimed_by, filed_at, due_at)
           VALUES ($1, $2, '310101', 'other', 'x', $3, $4, $5::timestamptz,
                   $5::timestamptz + interval '1 day')""",
        f"a_{secrets.token_hex(6)}",
        person_id,
        status,
        claimed_by,
        NOW,
    )


async def test_an_appeal_in_review_has_a_reviewer(conn):
    someone = await person(conn)
    with pytest.raises(asyncpg.CheckViolationError, match="appeals_in_review_claimed"):
        await appeal(conn, someone, "in_review", None)
    await appeal(conn, someone, "submitted", None)
    with pytest.raises(asyncpg.CheckViolationError, match="appeals_in_review_claimed"):
        await conn.execute("UPDATE appeals SET status = 'in_review'")
    await conn.execute("UPDATE appeals SET status = 'in_review', claimed_by = 'wang'")
    assert await conn.fetchval("SELECT claimed_by FROM appeals") == "wang"


# --- the stored status: only what is read --------------------------------------------------------


async def test_the_stored_status_keeps_only_what_is_read(conn):
    columns = await conn.fetch(
        """SELECT column_name FROM information_schema.columns
           WHERE table_name = 'statuses' ORDER BY ordinal_position"""
    )
    # No version: a job tells who was written since it read a chunk by the row's xmin.
    assert [c["column_name"] for c in columns] == [
        "person_id",
        "color",
        "since",
        "next_change_at",
        "updated_at",
    ]


# --- the queue is read from its index in order ------------------------------------------------


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


def literal(value: object) -> str:
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(map(literal, value)) + "]::text[]"
    if isinstance(value, bool | int):
        return str(value).lower()
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return "'" + str(value).replace("'", "''") + "'"


async def queue_plan(conn: asyncpg.Connection, query: QueueQuery, district: str | None) -> str:
    """The index the queue is read from, as the service asks for it: both as a plan made
    for these arguments and as the generic plan PostgreSQL may keep for a prepared
    statement. Fails if either sorts what it read."""
    sql, args = queue_statement(query, district, NOW)
    shapes = []
    for mode in ("force_custom_plan", "force_generic_plan"):
        async with conn.transaction():
            await conn.execute(f"SET LOCAL plan_cache_mode = {mode}")
            await conn.execute(f"PREPARE queue_page AS {sql}")
            found = await conn.fetchval(
                f"EXPLAIN (FORMAT JSON) EXECUTE queue_page({', '.join(map(literal, args))})"
            )
            await conn.execute("DEALLOCATE queue_page")
        nodes = list(plan_nodes(found[0]["Plan"]))
        sorts = [n["Node Type"] for n in nodes if "Sort" in n["Node Type"]]
        scans = {n.get("Index Name") for n in nodes if n.get("Relation Name") == "appeals"}
        assert not sorts, f"{mode}: the queue is sorted after reading ({sorts})"
        shapes.append(scans)
    assert shapes[0] == shapes[1]
    (index,) = shapes[0]
    return str(index)


async def test_the_queue_is_read_from_its_index_in_order(conn):
    districts = ["310101", "310104", "310105", "310115"]
    await conn.execute(
        """INSERT INTO persons (person_ref, id_hash, name, district, registered_at)
           SELECT 'p_q' || i, sha256(i::text::bytea), '张三', ($1::text[])[1 + i % 4], $2
           FROM generate_series(1, 8000) i""",
        districts,
        NOW - timedelta(days=30),
    )
    # A city's worth of appeals over two days, a fifth of them open in each state.
    await conn.execute(
        """INSERT INTO appeals (appeal_id, person_id, district, category, description,
                                status, claimed_by, filed_at, due_at)
           SELECT 'a_' || p.person_id, p.person_id, p.district, 'other', 'x',
                  (ARRAY['submitted', 'in_review', 'escalated', 'corrected', 'upheld'])
                      [1 + p.person_id % 5],
                  CASE WHEN p.person_id % 5 IN (1, 2) THEN 'wang' END,
                  $1::timestamptz - (p.person_id % 2880) * interval '1 minute',
                  $1::timestamptz - (p.person_id % 2880) * interval '1 minute' + interval '1 day'
           FROM persons p""",
        NOW,
    )
    await conn.execute("ANALYZE")
    staff = QueueQuery()
    assert await queue_plan(conn, staff, "310101") == "appeals_queue"
    assert await queue_plan(conn, QueueQuery(overdue=True), "310101") == "appeals_queue"
    escalated = QueueQuery(states=frozenset({AppealState.ESCALATED}))
    assert await queue_plan(conn, QueueQuery(), None) == "appeals_city_queue"
    assert await queue_plan(conn, escalated, None) == "appeals_city_queue"


async def test_the_queue_shows_overdue_first_then_by_due_time_whichever_states(conn):
    """The SQL built per query keeps the queue's order (closed ones are never overdue)."""
    officer = Actor("staff", "wang", "310101")
    someone = await person(conn)
    for n, status in enumerate(["upheld", "submitted", "in_review", "corrected", "escalated"]):
        await conn.execute(
            """INSERT INTO appeals (appeal_id, person_id, district, category, description,
                                    status, claimed_by, filed_at, due_at)
               VALUES ($1, $2, '310101', 'other', 'x', $3, 'wang', $4::timestamptz,
                       $4::timestamptz + interval '1 day')""",
            f"a_{n}_{status}",
            someone,
            status,
            NOW - timedelta(days=3) + timedelta(days=n),  # due: -2, -1, 0, +1, +2 days
        )
    every = frozenset(AppealState)
    shown = [a.state.value for a in await queue(conn, officer, QueueQuery(every), NOW)]
    assert shown == ["submitted", "upheld", "in_review", "corrected", "escalated"]
    first_two = await queue(conn, officer, QueueQuery(every, limit=2), NOW)
    assert [a.state.value for a in first_two] == ["submitted", "upheld"]
    overdue = await queue(conn, officer, QueueQuery(every, overdue=True), NOW)
    assert [a.state.value for a in overdue] == ["submitted"]
    closed = frozenset({AppealState.UPHELD, AppealState.CORRECTED})
    assert [a.state.value for a in await queue(conn, officer, QueueQuery(closed), NOW)] == [
        "upheld",
        "corrected",
    ]
    waiting = await queue(conn, officer, QueueQuery(overdue=False), NOW)
    assert [a.state.value for a in waiting] == ["in_review", "escalated"]


# --- an old database whose rows break a new rule ----------------------------------------------


async def test_a_database_with_a_row_breaking_a_rule_is_left_as_it_was(pg_server_url, tmp_path):
    """The migration applies nothing and names the rule; once the row is put right it runs."""
    rules = next((ROOT / "sql").glob("*_schema_rules.sql"))
    for path in sorted((ROOT / "sql").glob("*.sql")):
        if path.name < rules.name:
            shutil.copy(path, tmp_path / path.name)
    name = f"codesvc_old_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        async with db.connect(db.with_database(pg_server_url, name)) as conn:
            await db.migrate(conn, tmp_path)
            someone = await person(conn)
            await history_row(conn, someone, valid_from=NOW, valid_to=NOW)
            with pytest.raises(asyncpg.CheckViolationError, match="history_interval_not_empty"):
                await db.migrate(conn, ROOT / "sql")
            assert (await db.pending_migrations(conn, ROOT / "sql"))[0] == rules.stem
            await conn.execute("DELETE FROM events")  # no trigger yet: nothing was applied
            await conn.execute("UPDATE history SET valid_to = valid_to + interval '1 second'")
            assert (await db.migrate(conn, ROOT / "sql"))[0] == rules.stem
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
