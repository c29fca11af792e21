"""A person registered by the event that concerns them (a lab's result for someone new)
gets their first status in one step: exactly what registering them and then re-evaluating
them with that event stores, for every kind of event and world.

Each example registers the same person twice, in two transactions rolled back: once the
general way (a registration's green status, then a refresh that takes in the events) and
once in one step. What a citizen or officer could ever see must be the same: the status,
the history as believed and as it was shown, and the colour-change notification.
"""

import asyncio
from datetime import date, datetime

import asyncpg
from hypothesis import HealthCheck, given, settings

from codesvc.identity import make_id_number
from codesvc.service import stored_status
from codesvc.service.ingest import append_for
from codesvc.service.persons import Registration, ensure_registered
from codesvc.state import RULES, World, as_shown
from tests.state.test_properties import Person, moments, persons, worlds
from tests.test_status_reads import store_world, unique_listings

SECRET = b"newcomers-test-secret-0123456789"
CAUSE = "event:first"


async def seen(conn: asyncpg.Connection, person_id: int, now: datetime) -> dict[str, object]:
    """Everything about the person a reader could ever be shown."""
    status = await conn.fetchrow(
        "SELECT color, since, next_change_at FROM statuses WHERE person_id = $1", person_id
    )
    rows = await stored_status.history(conn, person_id)
    told = await conn.fetch(
        "SELECT kind, detail FROM notifications WHERE person_id = $1 ORDER BY notification_id",
        person_id,
    )
    return {
        "status": tuple(status),
        "believed": [r.interval for r in rows if r.superseded_at is None],
        "shown": as_shown(rows, now),
        "told": [(r["kind"], r["detail"]) for r in told],
    }


async def registered_with(
    conn: asyncpg.Connection, person: Person, world: World, now: datetime, one_step: bool
) -> dict[str, object]:
    _, district, events = person
    tx = conn.transaction()
    await tx.start()
    try:
        await store_world(conn, world)
        number = make_id_number("310101", date(1980, 5, 17), 123)
        found, created = await ensure_registered(
            conn, [Registration(number, "新人", district)], SECRET, now, RULES,
            statuses=not one_step,
        )  # fmt: skip
        newcomer = found[number]
        assert created == {newcomer.person_ref}
        if events:
            await append_for(conn, newcomer.person_id, events, "test")
        if one_step:
            await stored_status.create(
                conn,
                [newcomer],
                RULES,
                events={newcomer.person_id: events} if events else {},
                now=now,
                causes={newcomer.person_id: CAUSE},
            )
        elif events:
            locked = await stored_status.lock(conn, [newcomer.person_id])
            await stored_status.refresh(conn, locked, RULES, now, CAUSE)
        return await seen(conn, newcomer.person_id, now)
    finally:
        await tx.rollback()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(person=persons(), world=worlds().map(unique_listings), now=moments)
def test_one_step_equals_registering_then_refreshing(
    connected: tuple[asyncio.AbstractEventLoop, asyncpg.Connection],
    person: Person,
    world: World,
    now: datetime,
) -> None:
    loop, conn = connected
    general = loop.run_until_complete(registered_with(conn, person, world, now, one_step=False))
    one_step = loop.run_until_complete(registered_with(conn, person, world, now, one_step=True))
    assert one_step == general


def test_a_positive_result_that_registers_its_person_tells_them_their_colour(
    connected: tuple[asyncio.AbstractEventLoop, asyncpg.Connection],
) -> None:
    from codesvc.state import TestResult

    loop, conn = connected
    now = datetime.fromisoformat("2022-04-01T08:00:00+00:00")
    result = TestResult(
        "0b0e6f5e-6d0c-4f6b-9a52-2d7f1d2e0a11", now, "positive", "lab-1", "sample-1"
    )
    found = loop.run_until_complete(
        registered_with(conn, (now, "310104", [result]), World((), ()), now, one_step=True)
    )
    assert found["status"][0] == "red"
    assert [(kind, detail["before"], detail["after"]) for kind, detail in found["told"]] == [
        ("color_changed", "green", "red")
    ]
