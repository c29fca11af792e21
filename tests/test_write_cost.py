"""A write costs the same whatever the person's past: rows touched and bytes of the stored
status do not grow with the number of events a person already has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from codesvc import db
from codesvc.schemas.events import read_item
from codesvc.service.ingest import ingest
from codesvc.service.verify import verify
from codesvc.settings import Settings
from codesvc.tokens import Principal
from tests.builders import arrival, id_number, negative

FEED = Principal("feeder", "lab-feed", None, 0.0)
SECRET = b"test-id-secret-0123456789"


async def person_with_past(conn: asyncpg.Connection, settings: Settings, events: int) -> str:
    number = id_number()
    start = datetime.now(UTC) - timedelta(days=400)
    past = [negative(start + timedelta(days=i), {"id_number": number}) for i in range(events)]
    for offset in range(0, events, 100):
        batch = [read_item(e) for e in past[offset : offset + 100]]
        outcomes = await ingest(
            conn, batch, FEED, id_secret=SECRET, rules=settings.rules, now=datetime.now(UTC)
        )
        assert {o.status for o in outcomes} == {"accepted"}
    return number


async def one_write(db_url: str, settings: Settings, number: str) -> dict[str, object]:
    """What ingesting one arrival writes: tuples per table, and the stored status's size.

    On a connection of its own: the statistics it reads count this backend's writes."""
    async with db.connect(db_url) as conn:
        return await _write(conn, settings, number)


async def _write(conn: asyncpg.Connection, settings: Settings, number: str) -> dict[str, object]:
    async with conn.transaction():
        outcomes = await ingest(
            conn,
            [read_item(arrival(datetime.now(UTC) - timedelta(days=1), {"id_number": number}))],
            FEED,
            id_secret=SECRET,
            rules=settings.rules,
            now=datetime.now(UTC),
        )
        assert [o.status for o in outcomes] == ["accepted"]
        touched = {
            r["relname"]: (r["n_tup_ins"], r["n_tup_upd"], r["n_tup_del"])
            for r in await conn.fetch(
                """SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables
                   WHERE n_tup_ins + n_tup_upd + n_tup_del > 0"""
            )
        }
    size = await conn.fetchval(
        """SELECT pg_column_size(s.*) FROM statuses s
           WHERE s.person_id = (SELECT person_id FROM events ORDER BY received_at DESC,
                                event_id LIMIT 1)"""
    )
    return {"touched": touched, "status_bytes": size}


async def test_a_write_for_a_long_history_costs_what_one_for_a_short_one_does(
    conn, db_url, settings
):
    short = await person_with_past(conn, settings, 2)
    long = await person_with_past(conn, settings, 200)
    few, many = await one_write(db_url, settings, short), await one_write(db_url, settings, long)
    assert many == few
    # The event, the status, and the history rows the arrival changes; nothing per past event.
    assert few["touched"]["events"] == (1, 0, 0)  # type: ignore[index]
    assert few["touched"]["statuses"] == (0, 1, 0)  # type: ignore[index]
    assert few["status_bytes"] < 200  # type: ignore[operator]
    assert (await verify(conn, settings.rules, datetime.now(UTC))).differences == []
