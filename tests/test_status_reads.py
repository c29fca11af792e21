"""A status read in one round trip answers exactly what the domain's own fold answers.

Random people (every kind of event, corrections voiding arrivals among them) with random
listings and campaigns are stored; the read's status, and the answer built from it in each
language, equal `evaluate(replay(...))` over the whole world.
"""

import asyncio
import secrets
from datetime import datetime

import asyncpg
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesvc.schemas.colours import StatusOut
from codesvc.service import status_reads
from codesvc.state import LANGUAGES, RULES, Event, World, evaluate, event_data, replay
from tests.state.test_properties import DISTRICTS, Person, moments, persons, worlds


async def store(
    conn: asyncpg.Connection, person: Person, world: World, bystander: list[Event]
) -> str:
    """The person, their events, the world, and someone else's arrivals; the person's ref."""
    registered, district, events = person
    ref = "p_" + secrets.token_hex(6)
    person_id = await conn.fetchval(
        """INSERT INTO persons (person_ref, id_hash, name, district, registered_at)
           VALUES ($1, $2, 'Test Person', $3, $4) RETURNING person_id""",
        ref,
        secrets.token_bytes(32),
        district,
        registered,
    )
    other = await conn.fetchval(
        """INSERT INTO persons (person_ref, id_hash, name, district, registered_at)
           VALUES ($1, $2, 'Someone Else', $3, $4) RETURNING person_id""",
        "p_" + secrets.token_hex(6),
        secrets.token_bytes(32),
        DISTRICTS[0],
        registered,
    )
    await conn.executemany(
        """INSERT INTO events (event_id, person_id, kind, occurred_at, data, digest, sender)
           VALUES ($1, $2, $3, $4, $5, '\\x00', 'test')""",
        [(e.event_id, person_id, e.kind, e.occurred_at, event_data(e)) for e in events]
        + [(e.event_id, other, e.kind, e.occurred_at, event_data(e)) for e in bystander],
    )
    await store_world(conn, world)
    return ref


async def store_world(conn: asyncpg.Connection, world: World) -> None:
    """The world's listings and campaigns, as the commission would have made them."""
    await conn.executemany(
        """INSERT INTO risk_listings (area_code, valid_from, level, valid_to, changed_by)
           VALUES ($1, $2, $3, $4, 'test')""",
        [(x.area_code, x.valid_from, x.level, x.valid_to) for x in world.listings],
    )
    await conn.executemany(
        """INSERT INTO campaigns (campaign_id, districts, starts_at, ends_at, created_by)
           VALUES ($1, $2, $3, $4, 'test')""",
        [(c.campaign_id, sorted(c.districts), c.starts_at, c.ends_at) for c in world.campaigns],
    )


def unique_listings(world: World) -> World:
    """The world with one listing per (area, start), as the table keys them."""
    listings = {(x.area_code, x.valid_from): x for x in world.listings}
    return World(tuple(listings.values()), world.campaigns, world.rules)


# Every example stores its rows in a transaction it rolls back, so sharing the connection
# between examples is what is meant.
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    person=persons(),
    world=worlds().map(unique_listings),
    now=moments,
    asked=st.none() | st.sampled_from(DISTRICTS),
    bystander=persons(),
)
def test_a_read_equals_the_fold_in_every_language(
    connected: tuple[asyncio.AbstractEventLoop, asyncpg.Connection],
    person: Person,
    world: World,
    now: datetime,
    asked: str | None,
    bystander: Person,
) -> None:
    loop, conn = connected
    registered, district, events = person
    ids = {e.event_id for e in events}
    others = [e for e in bystander[2] if e.event_id not in ids]

    async def example() -> status_reads.Read | None:
        tx = conn.transaction()
        await tx.start()
        try:
            ref = await store(conn, person, world, others)
            return await status_reads.read(conn, ref, asked, RULES)
        finally:
            await tx.rollback()

    found = loop.run_until_complete(example())
    assert found is not None
    expected = evaluate(replay(registered, district, events), world, now)
    status = found.status(now)
    assert status == expected
    assert found.person.district == district
    assert found.visible_to_district == (asked == district)
    for lang in LANGUAGES:
        shown = StatusOut.of(found.person.person_ref, status, lang, now)
        reference = StatusOut.of(found.person.person_ref, expected, lang, now)
        answer = StatusOut.__pydantic_serializer__.to_json(shown)
        assert answer == StatusOut.__pydantic_serializer__.to_json(reference)
        assert orjson.loads(answer)["color"] == expected.color.value


def test_no_such_person_is_none(
    connected: tuple[asyncio.AbstractEventLoop, asyncpg.Connection],
) -> None:
    loop, conn = connected
    assert loop.run_until_complete(status_reads.read(conn, "p_NOBODY", None, RULES)) is None
