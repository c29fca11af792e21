"""A person's events as staff read them: who sent each, when, and what voided it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

#: What a lab wrote down about someone it could not identify: not part of the record.
_LAB_NOTES = frozenset({"name", "phone"})


@dataclass(frozen=True, slots=True)
class EventRecord:
    event_id: str
    kind: str
    occurred_at: datetime
    data: Mapping[str, object]
    #: "role:sub" of the caller that sent it, or "appeal:<id>" / "override:<id>"
    sender: str
    received_at: datetime
    #: the correction event that voided it, and the appeal that correction came from
    voided_by: str | None = None
    voided_for: str | None = None


async def of_person(conn: asyncpg.Connection, person_id: int) -> list[EventRecord]:
    """Every event of the person in event time, each with what voided it, if anything."""
    rows = await conn.fetch(
        """SELECT event_id::text, kind, occurred_at, data, sender, received_at FROM events
           WHERE person_id = $1 ORDER BY occurred_at, received_at, event_id""",
        person_id,
    )
    voided: dict[str, tuple[str, str | None]] = {}
    for r in rows:
        if r["kind"] == "correction":
            for void in r["data"].get("voids", ()):
                voided[str(void)] = (r["event_id"], r["data"].get("appeal_id"))
    return [
        EventRecord(
            r["event_id"],
            r["kind"],
            r["occurred_at"],
            {k: v for k, v in r["data"].items() if k not in _LAB_NOTES},
            r["sender"],
            r["received_at"],
            *voided.get(r["event_id"], (None, None)),
        )
        for r in rows
    ]
