"""Contact tracing: where a person was scanned, and who was scanned at a venue on a day.

Both reads name the partition key (``scanned_at``), so PostgreSQL reads only the days
asked for: a day's scans of a venue touch one partition, however long the retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import asyncpg

from codesvc.service.partitions import period_of
from codesvc.state.explain import CITY_ZONE


@dataclass(frozen=True, slots=True)
class ScanRecord:
    scan_id: str
    venue: str
    person_ref: str
    scanned_at: datetime
    color: str
    method: str


_COLUMNS = "s.scan_id::text, s.venue, p.person_ref, s.scanned_at, s.color, s.method"


async def person_scans(
    conn: asyncpg.Connection, person_id: int, since: datetime, until: datetime, limit: int
) -> list[ScanRecord]:
    """A person's scans in [since, until), oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM scans s JOIN persons p ON p.person_id = s.person_id
            WHERE s.person_id = $1 AND s.scanned_at >= $2 AND s.scanned_at < $3
            ORDER BY s.scanned_at, s.scan_id LIMIT $4""",
        person_id,
        since,
        until,
        limit,
    )
    return [ScanRecord(*r) for r in rows]


async def venue_scans(
    conn: asyncpg.Connection,
    venue: str,
    day: date,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[ScanRecord]:
    """The scans at a venue on a day of the city's calendar, oldest first; ``after`` is the
    (scanned_at, scan_id) of the last one already read."""
    period = period_of("day", datetime.combine(day, time(12), CITY_ZONE))
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM scans s JOIN persons p ON p.person_id = s.person_id
            WHERE s.venue = $1 AND s.scanned_at >= $2 AND s.scanned_at < $3
              AND ($4::timestamptz IS NULL OR (s.scanned_at, s.scan_id) > ($4, $5::uuid))
            ORDER BY s.scanned_at, s.scan_id LIMIT $6""",
        venue,
        period.lower,
        period.upper,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [ScanRecord(*r) for r in rows]
