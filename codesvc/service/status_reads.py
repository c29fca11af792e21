"""A status read in one round trip: the person by reference, whether a district's staff
may see them, their stored facts, and the listings and campaigns that can touch them.

A status read used to ask four questions one after another (who, visible?, facts, world);
on a busy machine each round trip to PostgreSQL cost more than evaluating the answer.
Nothing is cached: the facts are read afresh and evaluated at the time of the answer, so
what `Read.status` returns is exactly `stored_status.current` over the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from codesvc.service import stored_status
from codesvc.service.persons import PERSON_COLUMNS, Person, person_of
from codesvc.state.events import TravelArrival, from_stored
from codesvc.state.person import PersonState, from_facts
from codesvc.state.rules import Rules
from codesvc.state.status import Status
from codesvc.state.timeline import evaluate
from codesvc.state.world import World

# The events are aggregated column by column (a jsonb inside a ROW would come back in
# PostgreSQL's binary form); aggregates of one query level see the rows in one order,
# so the arrays line up. Listings are read for the area of every stored arrival, voided
# ones too; `read` keeps those of the arrivals that stand, as `load_world` selects them.
_READ = f"""
SELECT {", ".join(f"p.{c.strip()}" for c in PERSON_COLUMNS.split(","))},
       ($2::text IS NOT NULL AND (p.district = $2 OR EXISTS (
           SELECT 1 FROM appeals a WHERE a.person_id = p.person_id AND a.district = $2
       ))) AS visible,
       ev.ids, ev.kinds, ev.times, ev.data, ev.areas,
       ARRAY(SELECT ROW(l.area_code, l.level, l.valid_from, l.valid_to) FROM risk_listings l
             WHERE l.area_code = ANY(ev.areas)) AS listings,
       ARRAY(SELECT ROW(c.campaign_id, c.districts, c.starts_at, c.ends_at) FROM campaigns c
             WHERE c.districts && ARRAY[p.district]) AS campaigns
FROM persons p
CROSS JOIN LATERAL (
    SELECT array_agg(e.event_id::text) AS ids, array_agg(e.kind) AS kinds,
           array_agg(e.occurred_at) AS times, array_agg(e.data) AS data,
           coalesce(array_agg(DISTINCT e.data ->> 'area_code')
                    FILTER (WHERE e.kind = '{TravelArrival.kind}'), '{{}}') AS areas
    FROM events e WHERE e.person_id = p.person_id
) ev
WHERE p.person_ref = $1
"""


@dataclass(frozen=True, slots=True)
class Read:
    """What one status read found about a person."""

    person: Person
    #: whether staff of the district asked about may see them (registered there, or an
    #: appeal routed there); False when no district was asked about
    visible_to_district: bool
    state: PersonState
    world: World

    def status(self, now: datetime, *, explained: bool = True) -> Status:
        """The status at ``now``, evaluated afresh from the facts read (without
        ``explained``, no reasons)."""
        return evaluate(self.state, self.world, now, explained=explained)


async def read(
    conn: asyncpg.Connection, person_ref: str, district: str | None, rules: Rules
) -> Read | None:
    """Everything a status read of ``person_ref`` needs; None for no such person."""
    row = await conn.fetchrow(_READ, person_ref, district)
    if row is None:
        return None
    person = person_of(row)
    events = (
        [
            from_stored(*stored)
            for stored in zip(row["ids"], row["kinds"], row["times"], row["data"], strict=True)
        ]
        if row["ids"] is not None
        else []
    )
    state = from_facts(person.registered_at, person.district, events)
    areas = {e.area_code for e in state.events if isinstance(e, TravelArrival)}
    if areas <= set(row["areas"]):
        listings = [listing for listing in row["listings"] if listing[0] in areas]
        world = stored_status.world_of(listings, row["campaigns"], rules)
    else:  # an arrival whose stored area the SQL did not see the same way: ask as before
        world = await stored_status.load_world(conn, [state], rules)
    return Read(person, bool(row["visible"]), state, world)
