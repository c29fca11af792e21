"""The facts a write re-evaluates a person from: the events a batch has just stored may be
taken as they are instead of read back, and the person's state is the same either way."""

import asyncio
import secrets
from datetime import datetime

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesvc.service import stored_status
from codesvc.service.ingest import append_for
from tests.state.test_properties import Person, persons


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(person=persons(), data=st.data())
def test_events_just_stored_taken_as_they_are_give_the_state_read_back(
    connected: tuple[asyncio.AbstractEventLoop, asyncpg.Connection],
    person: Person,
    data: st.DataObject,
) -> None:
    loop, conn = connected
    registered, district, events = person
    just = data.draw(st.lists(st.sampled_from(events), unique=True) if events else st.just([]))

    async def both() -> tuple[object, object]:
        tx = conn.transaction()
        await tx.start()
        try:
            person_id = await conn.fetchval(
                """INSERT INTO persons (person_ref, id_hash, name, district, registered_at)
                   VALUES ($1, $2, 'Test Person', $3, $4) RETURNING person_id""",
                "p_" + secrets.token_hex(6),
                secrets.token_bytes(32),
                district,
                registered,
            )
            if events:
                await append_for(conn, person_id, events, "test")
            read_back = await stored_status.facts(conn, [person_id])
            taken = await stored_status.facts(conn, [person_id], {person_id: just})
            return read_back[person_id], taken[person_id]
        finally:
            await tx.rollback()

    read_back, taken = loop.run_until_complete(both())
    assert taken == read_back


def test_an_event_taken_as_it_is_is_not_counted_twice(
    connected: tuple[asyncio.AbstractEventLoop, asyncpg.Connection],
) -> None:
    from codesvc.state import TestResult

    loop, conn = connected
    at = datetime.fromisoformat("2022-04-01T08:00:00+00:00")
    result = TestResult("5b0e6f5e-6d0c-4f6b-9a52-2d7f1d2e0a11", at, "positive", "lab", "s-1")

    async def taken() -> object:
        tx = conn.transaction()
        await tx.start()
        try:
            person_id = await conn.fetchval(
                """INSERT INTO persons (person_ref, id_hash, name, district, registered_at)
                   VALUES ('p_TWICE', $1, 'Test Person', '310101', $2) RETURNING person_id""",
                secrets.token_bytes(32),
                at,
            )
            await append_for(conn, person_id, [result], "test")
            return (await stored_status.facts(conn, [person_id], {person_id: [result]}))[person_id]
        finally:
            await tx.rollback()

    state = loop.run_until_complete(taken())
    assert state.events == (result,)
