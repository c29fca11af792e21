"""The audit log in the database: append entries to the hash chain, read them, verify it.

Appending locks the chain's head row, so concurrent writers take turns and the chain
stays one line; callers append inside the transaction of the read or change they record,
so an entry exists exactly when what it records happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import asyncpg

from codesvc.audit_chain import GENESIS, AuditEntry, Chained, chain, verify_chain

#: Entries verified per round trip.
CHUNK = 5000

COLUMNS = "seq, at, actor_role, actor_sub, action, person_ref, subject, detail, prev_hash, hash"


class Actor(Protocol):
    """Whoever acts: a verified caller (`Principal`) or an appeal `Actor` both fit."""

    @property
    def role(self) -> str: ...
    @property
    def sub(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Record:
    """What to write down: an action on a person's data (`person_ref`) or a `subject`."""

    action: str
    person_ref: str | None
    subject: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)


async def append(
    conn: asyncpg.Connection, actor: Actor, at: datetime, records: Sequence[Record]
) -> list[Chained]:
    """Chain ``records`` after the current head and store them, in the caller's transaction."""
    return await append_many(conn, [(actor, at, record) for record in records])


async def append_many(
    conn: asyncpg.Connection, items: Sequence[tuple[Actor, datetime, Record]]
) -> list[Chained]:
    """Chain entries of several actors after the current head, in order, in one round trip
    for the head and one for the entries, inside the caller's transaction."""
    if not items:
        return []
    if not conn.is_in_transaction():
        raise RuntimeError("audit entries are appended inside the transaction they record")
    row = await conn.fetchrow("SELECT seq, hash FROM audit_head FOR UPDATE")
    linked = link(items, Head(row["seq"], row["hash"]))
    await conn.execute(
        f"WITH added AS ({_INSERT}) UPDATE audit_head SET seq = $11, hash = $12", *_columns(linked)
    )
    return linked


@dataclass(frozen=True, slots=True)
class Head:
    """The chain's last entry: its sequence number and hash."""

    seq: int
    hash: str


async def head(conn: asyncpg.Connection) -> Head:
    row = await conn.fetchrow("SELECT seq, hash FROM audit_head")
    return Head(row["seq"], row["hash"])


async def append_after(
    conn: asyncpg.Connection, items: Sequence[tuple[Actor, datetime, Record]], after: Head
) -> tuple[list[Chained], Head]:
    """Chain entries after ``after`` (the head as last seen) and store them in one statement,
    its own transaction: one round trip, and the head's row lock held only while it runs.

    If the chain has moved on since ``after`` was seen, nothing is stored: the entries come
    back empty with the head as it is now, to chain from and try again. The head's row is
    locked by the statement either way (a moved-on head is rewritten with its own values),
    so the head returned is the latest committed, not a snapshot's.
    """
    if conn.is_in_transaction():
        raise RuntimeError("append_after commits on its own; use append inside a transaction")
    linked = link(items, after)
    row = await conn.fetchrow(
        f"""WITH moved AS (
                UPDATE audit_head
                SET seq = CASE WHEN seq = $13 AND hash = $14 THEN $11 ELSE seq END,
                    hash = CASE WHEN seq = $13 AND hash = $14 THEN $12 ELSE hash END
                RETURNING seq, hash),
            added AS (
                {_INSERT}
                WHERE EXISTS (SELECT 1 FROM moved WHERE moved.seq = $11 AND moved.hash = $12)
                RETURNING 1)
            SELECT seq, hash, (SELECT count(*) FROM added) AS added FROM moved""",
        *_columns(linked),
        after.seq,
        after.hash,
    )
    now = Head(row["seq"], row["hash"])
    return (linked if row["added"] == len(linked) else []), now


def link(items: Sequence[tuple[Actor, datetime, Record]], after: Head) -> list[Chained]:
    """The entries numbered and hashed to follow ``after``."""
    entries = [
        AuditEntry(
            after.seq + n,
            at,
            actor.role,
            actor.sub,
            r.action,
            r.person_ref,
            r.subject,
            dict(r.detail),
        )
        for n, (actor, at, r) in enumerate(items, start=1)
    ]
    return chain(entries, after.hash)


# Inserts the entries given column by column as $1..$10 (see `_columns`).
_INSERT = """INSERT INTO audit_log (seq, at, actor_role, actor_sub, action, person_ref,
                                   subject, detail, prev_hash, hash)
             SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[],
                                  $5::text[], $6::text[], $7::text[], $8::jsonb[],
                                  $9::text[], $10::text[]) AS entries"""


def _columns(linked: Sequence[Chained]) -> list[object]:
    """The entries column by column, then the new head's sequence number and hash."""
    return [
        [c.entry.seq for c in linked],
        [c.entry.at for c in linked],
        [c.entry.actor_role for c in linked],
        [c.entry.actor_sub for c in linked],
        [c.entry.action for c in linked],
        [c.entry.person_ref for c in linked],
        [c.entry.subject for c in linked],
        [c.entry.detail for c in linked],
        [c.prev_hash for c in linked],
        [c.hash for c in linked],
        linked[-1].entry.seq,
        linked[-1].hash,
    ]


def chained(row: asyncpg.Record) -> Chained:
    entry = AuditEntry(
        row["seq"],
        row["at"],
        row["actor_role"],
        row["actor_sub"],
        row["action"],
        row["person_ref"],
        row["subject"],
        row["detail"],
    )
    return Chained(entry, row["prev_hash"], row["hash"])


async def for_person(
    conn: asyncpg.Connection, person_ref: str, after: int = 0, limit: int = 100
) -> list[Chained]:
    """The entries about one person, oldest first, after sequence number ``after``."""
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM audit_log WHERE person_ref = $1 AND seq > $2
            ORDER BY seq LIMIT $3""",
        person_ref,
        after,
        limit,
    )
    return [chained(r) for r in rows]


async def verify_audit(conn: asyncpg.Connection) -> list[str]:
    """Every problem in the whole chain, in words; empty when no entry was edited or removed."""
    problems: list[str] = []
    head = await conn.fetchrow("SELECT seq, hash FROM audit_head")
    if head is None:
        return ["the audit log has lost its head row; the chain's end cannot be checked"]
    prev_hash, next_seq = GENESIS, 1
    while True:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
            next_seq,
            CHUNK,
        )
        links = [chained(r) for r in rows]
        last_chunk = len(links) < CHUNK
        problems += verify_chain(
            links,
            prev_hash=prev_hash,
            first_seq=next_seq,
            head=head["hash"] if last_chunk else None,
        )
        if last_chunk:
            return problems
        prev_hash, next_seq = links[-1].hash, links[-1].entry.seq + 1
