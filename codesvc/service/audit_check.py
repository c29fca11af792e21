"""Is a person's part of the audit chain intact? Each entry's hash is recomputed, and its
links to the entries just before and after it are checked against the stored chain.

This checks the neighbourhood of one person's entries in a few queries; ``codesvc
verify`` walks the whole chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from codesvc.audit_chain import GENESIS, entry_hash
from codesvc.service.audit_log import COLUMNS, chained

#: Most entries of one person checked at once.
LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class PersonAudit:
    entries: int
    problems: list[str]
    head_seq: int


async def verify_person(conn: asyncpg.Connection, person_ref: str) -> PersonAudit:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM audit_log WHERE person_ref = $1 ORDER BY seq LIMIT $2",
        person_ref,
        LIMIT,
    )
    links = [chained(r) for r in rows]
    head = await conn.fetchval("SELECT seq FROM audit_head")
    seqs = {c.entry.seq for c in links}
    around = await conn.fetch(
        "SELECT seq, prev_hash, hash FROM audit_log WHERE seq = ANY($1::bigint[])",
        sorted({s - 1 for s in seqs if s > 1} | {s + 1 for s in seqs}),
    )
    by_seq = {r["seq"]: r for r in around}
    problems: list[str] = []
    for c in links:
        seq = c.entry.seq
        if entry_hash(c.prev_hash, c.entry) != c.hash:
            problems.append(f"entry {seq} does not match its hash: it was edited")
        before = by_seq.get(seq - 1)
        if seq == 1 and c.prev_hash != GENESIS:
            problems.append("the first entry does not start the chain")
        elif seq > 1 and (before is None or before["hash"] != c.prev_hash):
            problems.append(f"the entry before {seq} is missing or was changed")
        after = by_seq.get(seq + 1)
        if seq < head and (after is None or after["prev_hash"] != c.hash):
            problems.append(f"the entry after {seq} is missing, or entry {seq} was rewritten")
    return PersonAudit(len(links), problems, int(head or 0))
