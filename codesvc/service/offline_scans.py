"""Scans a door decided offline, uploaded when the network is back.

The door checked the code's signature itself and showed the colour the code carries; the
upload records that scan with the time it happened at the door (``scanned_at``) and the
time it reached the service (``uploaded_at``, which only offline scans have). The door
chose each scan's id, so an upload sent twice (the answer to the first was lost) records
each scan once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

#: What happened to each uploaded scan.
RECORDED = "recorded"
DUPLICATE = "duplicate"
REJECTED = "rejected"

# The scans table is partitioned by time and keyed by (person_id, scanned_at, scan_id): an
# upload sent again carries the same three and inserts nothing.
_RECORD_SQL = """
WITH sent AS (
    SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[])
        AS s(scan_id, person_id, scanned_at, color)
), inserted AS (
    INSERT INTO scans (scan_id, venue, person_id, scanned_at, color, method, uploaded_at)
    SELECT s.scan_id, $5, s.person_id, s.scanned_at, s.color, 'code', $6
    FROM sent s JOIN persons p ON p.person_id = s.person_id
    ON CONFLICT (person_id, scanned_at, scan_id) DO NOTHING
    RETURNING scan_id
)
SELECT s.scan_id::text, i.scan_id IS NOT NULL AS inserted, x.venue AS earlier_venue
FROM sent s
LEFT JOIN inserted i ON i.scan_id = s.scan_id
LEFT JOIN scans x
    ON (x.person_id, x.scanned_at, x.scan_id) = (s.person_id, s.scanned_at, s.scan_id)
"""


@dataclass(frozen=True, slots=True)
class OfflineScan:
    """One scan as the door decided it: whose code, when, and the colour it showed."""

    scan_id: str
    person_id: int
    scanned_at: datetime
    color: str


async def record(
    conn: asyncpg.Connection,
    venue: str,
    scans: Sequence[OfflineScan],
    uploaded_at: datetime,
) -> dict[str, str]:
    """Record each scan once; its outcome by scan id (``recorded``, ``duplicate``, ``rejected``).

    The same scan (id, person, time) already recorded for this venue is a duplicate (an
    upload sent again); one recorded by another venue is rejected: a door cannot claim
    another's scan.
    """
    if not scans:
        return {}
    rows = await conn.fetch(
        _RECORD_SQL,
        [s.scan_id for s in scans],
        [s.person_id for s in scans],
        [s.scanned_at for s in scans],
        [s.color for s in scans],
        venue,
        uploaded_at,
    )
    outcome = {}
    for scan_id, inserted, earlier_venue in rows:
        if inserted:
            outcome[scan_id] = RECORDED
        elif earlier_venue == venue:
            outcome[scan_id] = DUPLICATE
        else:
            outcome[scan_id] = REJECTED
    return outcome
