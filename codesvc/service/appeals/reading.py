"""Reading appeals: one with its notes and transitions, a citizen's own, the district's queue.

Every read by staff or the commission is a read of a person's data, so it is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from codesvc.appeals import rules as appeal_rules
from codesvc.appeals.machine import OPEN, Actor, AppealState
from codesvc.messages import t
from codesvc.service import audit_log
from codesvc.service.appeals.rows import (
    APPEAL_COLUMNS,
    OPEN_VALUES,
    QUEUE_MAX,
    Appeal,
    AppealNotFound,
    Dossier,
    Note,
    Transition,
    appeal_from_row,
    audit_record,
    visible,
)


async def get(conn: asyncpg.Connection, appeal_id: str, actor: Actor, now: datetime) -> Dossier:
    """One appeal for someone who may see it; staff and commission reads are audited."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""SELECT {APPEAL_COLUMNS} FROM appeals a JOIN persons p USING (person_id)
                WHERE a.appeal_id = $1""",
            appeal_id,
        )
        appeal = visible(row, actor)
        if actor.role in ("staff", "commission"):
            await audit_log.append(conn, actor, now, [audit_record("appeal.read", appeal)])
        return (await dossiers(conn, [appeal]))[0]


async def of_person(conn: asyncpg.Connection, person_id: int) -> list[Dossier]:
    """A citizen's own appeals, newest first."""
    rows = await conn.fetch(
        f"""SELECT {APPEAL_COLUMNS} FROM appeals a JOIN persons p USING (person_id)
            WHERE a.person_id = $1 ORDER BY a.filed_at DESC, a.appeal_id""",
        person_id,
    )
    return await dossiers(conn, [appeal_from_row(r) for r in rows])


@dataclass(frozen=True, slots=True)
class QueueQuery:
    states: frozenset[AppealState] = OPEN
    overdue: bool | None = None
    district: str | None = None
    limit: int = 100


async def queue(
    conn: asyncpg.Connection, actor: Actor, query: QueueQuery, now: datetime
) -> list[Appeal]:
    """The appeals to work, overdue first, then by due time; staff see their district's only.

    Each appeal shown is a read of its person's data, so each is audited (one append).
    """
    district = query.district
    if actor.role == "staff":
        if district is not None and district != actor.district:
            raise AppealNotFound(
                t(
                    "Staff see only their own district's queue ({district}); leave out "
                    "district or give yours.",
                    district=actor.district,
                )
            )
        district = actor.district
    sql, args = queue_statement(query, district, now)
    async with conn.transaction():
        rows = await conn.fetch(sql, *args)
        appeals = appeal_rules.queue_order([appeal_from_row(r) for r in rows], now)
        await audit_log.append(
            conn,
            actor,
            now,
            [audit_record("appeal.list", a, {"status": a.state.value}) for a in appeals],
        )
    return appeals


#: The open states as SQL literals. Written into the statement's text, they let PostgreSQL
#: see that the partial queue indexes apply even to a plan it keeps for any arguments.
_OPEN_SQL = ", ".join(f"'{value}'" for value in OPEN_VALUES)


def queue_statement(
    query: QueueQuery, district: str | None, now: datetime
) -> tuple[str, list[object]]:
    """The queue's SQL and its arguments: filters written only when asked for, so that
    the queue of open appeals is read from its index in order, a page at a time."""
    args: list[object] = [sorted(s.value for s in query.states), min(query.limit, QUEUE_MAX)]

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["a.status = ANY($1::text[])"]
    if district is not None:
        where.append(f"a.district = {arg(district)}")
    order = ""
    if query.states <= OPEN:
        # Among open appeals the overdue ones are exactly those due earliest, so "overdue
        # first, then by due time" is "by due time", the order the queue indexes hold.
        where.append(f"a.status IN ({_OPEN_SQL})")
        if query.overdue is not None:
            where.append(f"a.due_at {'<' if query.overdue else '>='} {arg(now)}")
    elif query.states & OPEN or query.overdue is not None:
        overdue = f"(a.status IN ({_OPEN_SQL}) AND a.due_at < {arg(now)})"
        if query.overdue is not None:
            where.append(f"{overdue} = {arg(query.overdue)}")
        if query.states & OPEN:
            order = f"{overdue} DESC, "
    sql = f"""SELECT {APPEAL_COLUMNS} FROM appeals a JOIN persons p USING (person_id)
              WHERE {" AND ".join(where)}
              ORDER BY {order}a.due_at, a.filed_at, a.appeal_id
              LIMIT $2"""
    return sql, args


async def dossiers(conn: asyncpg.Connection, appeals: Sequence[Appeal]) -> list[Dossier]:
    ids = [a.appeal_id for a in appeals]
    notes = await conn.fetch(
        """SELECT appeal_id, note_id, author_role, author_sub, visibility, text, at
           FROM appeal_notes WHERE appeal_id = ANY($1::text[]) ORDER BY note_id""",
        ids,
    )
    moves = await conn.fetch(
        """SELECT appeal_id, at, actor_role, actor_sub, from_status, to_status, why
           FROM appeal_transitions WHERE appeal_id = ANY($1::text[]) ORDER BY transition_id""",
        ids,
    )
    notes_of: dict[str, list[Note]] = {}
    for n in notes:
        notes_of.setdefault(n["appeal_id"], []).append(
            Note(
                n["note_id"], n["author_role"], n["author_sub"], n["visibility"], n["text"], n["at"]
            )
        )
    moves_of: dict[str, list[Transition]] = {}
    for m in moves:
        moves_of.setdefault(m["appeal_id"], []).append(
            Transition(
                m["at"], m["actor_role"], m["actor_sub"], m["from_status"], m["to_status"], m["why"]
            )
        )
    return [
        Dossier(a, tuple(notes_of.get(a.appeal_id, ())), tuple(moves_of.get(a.appeal_id, ())))
        for a in appeals
    ]
