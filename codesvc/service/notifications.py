"""What a citizen is told: their colour changed, their appeal moved.

Each notification is written in the transaction of the change it reports, so a citizen
is never told of a change that was rolled back, nor left untold of one that was kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from codesvc.state.colors import Color
from codesvc.state.events import format_time

COLOR_CHANGED = "color_changed"
APPEAL_CHANGED = "appeal_changed"


@dataclass(frozen=True, slots=True)
class Notification:
    notification_id: int
    at: datetime
    kind: str
    detail: Mapping[str, object]
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class ColorChange:
    """A stored colour that moved, and the cause its history names."""

    person_id: int
    before: Color
    after: Color
    since: datetime
    cause: str


def color_detail(change: ColorChange) -> dict[str, object]:
    """What a colour-change notification says (written with the status that moved)."""
    return {
        "before": change.before.value,
        "after": change.after.value,
        "since": format_time(change.since),
        "cause": change.cause,
    }


async def appeal_changed(
    conn: asyncpg.Connection, person_id: int, now: datetime, detail: Mapping[str, object]
) -> None:
    await conn.execute(
        "INSERT INTO notifications (person_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
        person_id,
        now,
        APPEAL_CHANGED,
        dict(detail),
    )


async def for_person(
    conn: asyncpg.Connection, person_id: int, *, unread: bool, before: int | None, limit: int
) -> list[Notification]:
    """A person's notifications, newest first."""
    rows = await conn.fetch(
        """SELECT notification_id, at, kind, detail, read_at FROM notifications
           WHERE person_id = $1 AND (NOT $2 OR read_at IS NULL)
             AND ($3::bigint IS NULL OR notification_id < $3)
           ORDER BY notification_id DESC LIMIT $4""",
        person_id,
        unread,
        before,
        limit,
    )
    return [
        Notification(r["notification_id"], r["at"], r["kind"], r["detail"], r["read_at"])
        for r in rows
    ]


async def mark_read(conn: asyncpg.Connection, person_id: int, up_to: int, now: datetime) -> int:
    """Mark a person's notifications up to ``up_to`` read; returns how many were unread."""
    done = await conn.execute(
        """UPDATE notifications SET read_at = $3
           WHERE person_id = $1 AND notification_id <= $2 AND read_at IS NULL""",
        person_id,
        up_to,
        now,
    )
    return int(done.split()[-1])
