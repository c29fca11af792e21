"""People: registration by id number (kept only as a keyed hash) and lookups by reference."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from codesvc.identity import id_hash
from codesvc.service import stored_status
from codesvc.state.rules import Rules

#: Characters of a person_ref: no 0/O or 1/I/L, so a reference read aloud survives.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


_REFS = len(_ALPHABET) ** 12
#: The largest multiple of _REFS below 2**64: a draw at or above it is drawn again, so
#: every reference is equally likely.
_FAIR = (2**64 // _REFS) * _REFS


def new_person_refs(count: int) -> list[str]:
    """``count`` fresh references: 12 characters, each uniform over the alphabet, from one
    read of the system's randomness for the lot (one per reference cost a tenth of
    registering someone)."""
    refs: list[str] = []
    while len(refs) < count:
        pool = secrets.token_bytes(8 * (count - len(refs) + 2))
        for start in range(0, len(pool), 8):
            if len(refs) == count:
                break
            n = int.from_bytes(pool[start : start + 8], "big")
            if n >= _FAIR:
                continue
            n %= _REFS
            chars = []
            for _ in range(12):
                n, digit = divmod(n, len(_ALPHABET))
                chars.append(_ALPHABET[digit])
            refs.append("p_" + "".join(chars))
    return refs


@dataclass(frozen=True, slots=True)
class Registration:
    """What is needed to register someone; id_number is hashed before it is stored."""

    id_number: str
    name: str
    district: str
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    person_id: int
    person_ref: str
    name: str
    district: str
    phone: str | None
    registered_at: datetime


PERSON_COLUMNS = "person_id, person_ref, name, district, phone, registered_at"


def person_of(row: asyncpg.Record) -> Person:
    return Person(
        row["person_id"],
        row["person_ref"],
        row["name"],
        row["district"],
        row["phone"],
        row["registered_at"],
    )


async def ensure_registered(
    conn: asyncpg.Connection,
    registrations: Sequence[Registration],
    secret: bytes,
    now: datetime,
    rules: Rules,
    *,
    statuses: bool = True,
) -> tuple[dict[str, Person], set[str]]:
    """Find or register each person by id number; returns them by id number, and the new ones.

    Registering is idempotent on the id number: a second registration returns the first
    person unchanged. Rows are inserted in hash order so concurrent batches cannot deadlock.
    Without ``statuses`` the new people's first status is left to the caller, who must
    store it with `stored_status.create` in the same transaction.
    """
    if not registrations:
        return {}, set()
    by_hash: dict[bytes, Registration] = {}
    for reg in registrations:
        by_hash.setdefault(id_hash(secret, reg.id_number), reg)
    hashes = sorted(by_hash)
    rows = await conn.fetch(
        f"SELECT id_hash, {PERSON_COLUMNS} FROM persons WHERE id_hash = ANY($1::bytea[])", hashes
    )
    found = {bytes(r["id_hash"]): person_of(r) for r in rows}
    missing = [h for h in hashes if h not in found]
    created: set[str] = set()
    if missing:
        regs = [by_hash[h] for h in missing]
        inserted = await conn.fetch(
            f"""INSERT INTO persons (person_ref, id_hash, name, district, phone, registered_at)
                SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[],
                                     $5::text[], $6::timestamptz[])
                ORDER BY 2
                ON CONFLICT (id_hash) DO NOTHING
                RETURNING id_hash, {PERSON_COLUMNS}""",
            new_person_refs(len(missing)),
            missing,
            [r.name for r in regs],
            [r.district for r in regs],
            [r.phone for r in regs],
            [now] * len(missing),
        )
        new_people = [person_of(r) for r in inserted]
        for r in inserted:
            found[bytes(r["id_hash"])] = person_of(r)
        if statuses:
            await stored_status.create(conn, new_people, rules)
        created = {p.person_ref for p in new_people}
        raced = [h for h in missing if h not in found]
        if raced:  # registered by a concurrent request a moment ago
            rows = await conn.fetch(
                f"SELECT id_hash, {PERSON_COLUMNS} FROM persons WHERE id_hash = ANY($1::bytea[])",
                raced,
            )
            found.update({bytes(r["id_hash"]): person_of(r) for r in rows})
    result = {}
    for h, reg in by_hash.items():
        result[reg.id_number] = found[h]
    return result, created


async def by_refs(conn: asyncpg.Connection, refs: Sequence[str]) -> dict[str, Person]:
    rows = await conn.fetch(
        f"SELECT {PERSON_COLUMNS} FROM persons WHERE person_ref = ANY($1::text[])", list(refs)
    )
    return {r["person_ref"]: person_of(r) for r in rows}


async def by_ref(conn: asyncpg.Connection, ref: str) -> Person | None:
    found = await by_refs(conn, [ref])
    return found.get(ref)


async def by_id_number(conn: asyncpg.Connection, id_number: str, secret: bytes) -> Person | None:
    row = await conn.fetchrow(
        f"SELECT {PERSON_COLUMNS} FROM persons WHERE id_hash = $1", id_hash(secret, id_number)
    )
    return person_of(row) if row else None


async def visible_to_district(
    conn: asyncpg.Connection, person: Person, district: str | None
) -> bool:
    """Staff see the people registered in their district, and those with an appeal routed
    to it (the district that reported an event works the appeal about it)."""
    if district is None:
        return False
    if person.district == district:
        return True
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM appeals WHERE person_id = $1 AND district = $2)",
            person.person_id,
            district,
        )
    )
