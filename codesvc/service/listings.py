"""Risk-area listings and test campaigns: change them, or preview what a change would do.

A change commits at once with a job (`codesvc.service.jobs`) that counts and then
re-evaluates exactly the people it can affect, found by index (arrivals from the area in
the changed window; people of the campaign's districts with no test in its window), in
chunks. The change itself reads none of them, so it answers at once however many people
it touches; reads evaluate afresh, and the door does for anyone a running job has yet to
reach, so the change is honoured from its commit.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import asyncpg

from codesvc.service import audit_log, jobs, stored_status
from codesvc.state.colors import Color
from codesvc.state.events import format_time
from codesvc.state.rules import Rules
from codesvc.state.timeline import evaluate
from codesvc.state.world import Campaign, Listing, World

#: People evaluated at a time by a dry run.
CHUNK = 2000
#: Advisory lock class under which changes of one area's listings take turns.
AREA_LOCK = 0x6C697374


#: A colour change: (before, after).
Move = tuple[Color, Color]


@dataclass(frozen=True)
class Preview:
    """What a change does. A dry run: how many people it can affect, and who would turn
    which colour now, in all and per district. A change made: the job applying it, which
    counts the people itself (``affected`` is None)."""

    affected: int | None
    changes: Counter[Move] = field(default_factory=Counter)
    #: the same per district the people are registered in
    by_district: Counter[tuple[str, Color, Color]] = field(default_factory=Counter)
    job_id: str | None = None


async def affected_by_listing(
    conn: asyncpg.Connection, area_code: str, start: datetime, end: datetime | None
) -> list[int]:
    rows = await conn.fetch(
        """SELECT DISTINCT person_id FROM events
           WHERE kind = 'travel.arrival' AND data ->> 'area_code' = $1
             AND occurred_at >= $2 AND ($3::timestamptz IS NULL OR occurred_at < $3)
             AND person_id IS NOT NULL""",
        area_code,
        start,
        end,
    )
    return [r["person_id"] for r in rows]


async def affected_by_campaign(conn: asyncpg.Connection, campaign: Campaign) -> list[int]:
    rows = await conn.fetch(
        """SELECT p.person_id FROM persons p
           WHERE p.district = ANY($1::text[]) AND p.registered_at < $3
             AND NOT EXISTS (
                 SELECT 1 FROM events e
                 WHERE e.person_id = p.person_id AND e.kind = 'test.result'
                   AND e.occurred_at >= $2 AND e.occurred_at <= $3)""",
        sorted(campaign.districts),
        campaign.starts_at,
        campaign.ends_at,
    )
    return [r["person_id"] for r in rows]


async def preview(
    conn: asyncpg.Connection,
    person_ids: Sequence[int],
    rules: Rules,
    now: datetime,
    change: Listing | Campaign,
) -> Preview:
    """How many of these people would turn which colour now if ``change`` were in force."""
    changes: Counter[Move] = Counter()
    by_district: Counter[tuple[str, Color, Color]] = Counter()
    for start in range(0, len(person_ids), CHUNK):
        chunk = list(person_ids[start : start + CHUNK])
        states = list((await stored_status.facts(conn, chunk)).values())
        world = await stored_status.load_world(conn, states, rules)
        changed = _with(world, change)
        for state in states:
            before = evaluate(state, world, now).color
            after = evaluate(state, changed, now).color
            if before is not after:
                changes[(before, after)] += 1
                by_district[(state.district, before, after)] += 1
    return Preview(len(person_ids), changes, by_district)


def _with(world: World, change: Listing | Campaign) -> World:
    if isinstance(change, Listing):
        others = tuple(
            item
            for item in world.listings
            if (item.area_code, item.valid_from) != (change.area_code, change.valid_from)
        )
        return replace(world, listings=(*others, change))
    campaigns = tuple(c for c in world.campaigns if c.campaign_id != change.campaign_id)
    return replace(world, campaigns=(*campaigns, change))


async def put_listing(
    conn: asyncpg.Connection,
    listing: Listing,
    by: audit_log.Actor,
    rules: Rules,
    now: datetime,
    dry_run: bool,
) -> Preview:
    """Add or change the listing of an area starting at ``valid_from`` (or preview it).

    The change commits at once with the job that counts and re-evaluates its people;
    nothing waits for them, and no writer elsewhere waits for the change. It is audited
    in its transaction (the area, the window, the job); the job audits how many people it
    reaches when it has counted them (SPEC §9).
    """
    async with conn.transaction():
        # Changes of one area take turns, so each job covers the window it changed.
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", AREA_LOCK, listing.area_code
        )
        old = await conn.fetchrow(
            "SELECT valid_to FROM risk_listings WHERE area_code = $1 AND valid_from = $2",
            listing.area_code,
            listing.valid_from,
        )
        end = listing.valid_to
        if old is not None and (old["valid_to"] is None or (end and old["valid_to"] > end)):
            end = old["valid_to"]
        if dry_run:
            people = await affected_by_listing(conn, listing.area_code, listing.valid_from, end)
            return await preview(conn, people, rules, now, listing)
        await conn.execute(
            """INSERT INTO risk_listings (area_code, valid_from, level, valid_to, changed_by,
                                          changed_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (area_code, valid_from) DO UPDATE
               SET level = EXCLUDED.level, valid_to = EXCLUDED.valid_to,
                   changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at""",
            listing.area_code,
            listing.valid_from,
            listing.level,
            listing.valid_to,
            by.sub,
            now,
        )
        job_id = await jobs.start_listing(
            conn, listing.area_code, (listing.valid_from, end), by.sub, now
        )
        window = {
            "level": listing.level,
            "valid_from": format_time(listing.valid_from),
            "valid_to": format_time(listing.valid_to) if listing.valid_to else None,
            "job_id": job_id,
        }
        await audit_log.append(
            conn, by, now, [audit_log.Record("risk_area.change", None, listing.area_code, window)]
        )
    await _settle(conn, job_id)
    return Preview(None, job_id=job_id)


async def add_campaign(
    conn: asyncpg.Connection,
    districts: frozenset[str],
    starts_at: datetime,
    ends_at: datetime,
    by: audit_log.Actor,
    rules: Rules,
    now: datetime,
    dry_run: bool,
) -> tuple[Campaign, Preview]:
    """Add a campaign (or preview it); as `put_listing`, its people are re-evaluated by a job."""
    campaign = Campaign("c_" + secrets.token_hex(6), districts, starts_at, ends_at)
    if dry_run:
        people = await affected_by_campaign(conn, campaign)
        return campaign, await preview(conn, people, rules, now, campaign)
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO campaigns (campaign_id, districts, starts_at, ends_at, created_by,
                                      created_at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            campaign.campaign_id,
            sorted(districts),
            starts_at,
            ends_at,
            by.sub,
            now,
        )
        job_id = await jobs.start_campaign(conn, campaign.campaign_id, by.sub, now)
        reach = {
            "districts": sorted(districts),
            "starts_at": format_time(starts_at),
            "ends_at": format_time(ends_at),
            "job_id": job_id,
        }
        await audit_log.append(
            conn, by, now, [audit_log.Record("campaign.add", None, campaign.campaign_id, reach)]
        )
    await _settle(conn, job_id)
    return campaign, Preview(None, job_id=job_id)


async def _settle(conn: asyncpg.Connection, job_id: str) -> None:
    """The job's settle point, once the change has committed. Within a caller's own
    transaction (an idempotent request's) it has not yet: the worker takes the point
    once it has, as it does for any job without one."""
    if not conn.is_in_transaction():
        await jobs.settle_point(conn, job_id)


async def all_listings(
    conn: asyncpg.Connection, area_code: str | None = None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT area_code, level, valid_from, valid_to, changed_by, changed_at
           FROM risk_listings WHERE $1::text IS NULL OR area_code = $1
           ORDER BY area_code, valid_from""",
        area_code,
    )
