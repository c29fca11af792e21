"""``codesvc verify``: replay every person from their events and compare with what is stored.

The stored status and history are caches of a pure fold; this proves them. A status
whose deadline has passed but that the sweeper has not reached yet is counted as due,
not as a difference: reads already evaluate it afresh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from codesvc.service import stored_status
from codesvc.state.colors import Color
from codesvc.state.events import from_stored
from codesvc.state.person import PersonState, replay
from codesvc.state.rules import Rules
from codesvc.state.status import Interval
from codesvc.state.timeline import evaluate
from codesvc.state.world import World

CHUNK = 1000


@dataclass
class Report:
    persons: int = 0
    due: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


async def verify(conn: asyncpg.Connection, rules: Rules, now: datetime) -> Report:
    report = Report()
    async for chunk in _chunks(conn):
        ids = [r["person_id"] for r in chunk]
        events = await conn.fetch(
            """SELECT person_id, event_id::text, kind, occurred_at, data FROM events
               WHERE person_id = ANY($1::bigint[])""",
            ids,
        )
        by_person: dict[int, list[asyncpg.Record]] = {}
        for e in events:
            by_person.setdefault(e["person_id"], []).append(e)
        rows = await conn.fetch(
            """SELECT person_id, valid_from, valid_to, color, cause FROM history
               WHERE person_id = ANY($1::bigint[]) AND superseded_at IS NULL
               ORDER BY person_id, valid_from""",
            ids,
        )
        history: dict[int, list[Interval]] = {}
        for r in rows:
            history.setdefault(r["person_id"], []).append(
                Interval(r["valid_from"], r["valid_to"], Color(r["color"]), r["cause"])
            )
        replayed = {
            r["person_id"]: replay(
                r["registered_at"],
                r["district"],
                (
                    from_stored(e["event_id"], e["kind"], e["occurred_at"], e["data"])
                    for e in by_person.get(r["person_id"], [])
                ),
            )
            for r in chunk
        }
        world = await stored_status.load_world(conn, replayed.values(), rules)
        for r in chunk:
            report.persons += 1
            _compare(
                report, r, replayed[r["person_id"]], history.get(r["person_id"], []), world, now
            )
    return report


def _compare(
    report: Report,
    row: asyncpg.Record,
    state: PersonState,
    history: list[Interval],
    world: World,
    now: datetime,
) -> None:
    ref = row["person_ref"]
    stored = stored_status.stored(row)
    status = evaluate(state, world, now)
    if stored.next_change_at is not None and stored.next_change_at <= now:
        report.due += 1
    elif (stored.color, stored.since, stored.next_change_at) != (
        status.color,
        status.since,
        status.next_change_at,
    ):
        report.differences.append(
            f"{ref}: stored {stored.color.value} since {stored.since.isoformat()} "
            f"(next change {stored.next_change_at}), replay says {status.color.value} since "
            f"{status.since.isoformat()} (next change {status.next_change_at})"
        )
    if tuple(history) != status.intervals:
        report.differences.append(
            f"{ref}: stored history has {len(history)} current interval(s), the replay "
            f"{len(status.intervals)}; they differ"
        )


async def _chunks(conn: asyncpg.Connection) -> AsyncIterator[list[asyncpg.Record]]:
    last = 0
    while True:
        chunk = await conn.fetch(
            f"""SELECT p.person_id, p.person_ref, p.registered_at, p.district,
                       {", ".join("s." + c for c in stored_status.STATUS_COLUMNS.split(", ")[1:])}
                FROM persons p JOIN statuses s USING (person_id)
                WHERE p.person_id > $1 ORDER BY p.person_id LIMIT $2""",
            last,
            CHUNK,
        )
        if not chunk:
            return
        yield list(chunk)
        last = chunk[-1]["person_id"]
