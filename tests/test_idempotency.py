"""Idempotency-Key on creating requests: a retry after a lost answer creates nothing twice.

Every test talks to a real server and reads what was stored in its database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from codesvc.api.app import create_app
from tests.conftest import ENGLISH, Api, City

FILING = {"category": "other", "description": "My test result from Monday is missing."}


async def post(
    city: City, path: str, headers: dict[str, str], body: object, key: str | None = None
) -> tuple[int, dict[str, Any], bool]:
    """The status and body of the answer, and whether it was a replayed one."""
    sent = dict(headers)
    if key is not None:
        sent["Idempotency-Key"] = key
    resp = await city.client.post(path, json=body, headers=sent)
    return resp.status, await resp.json(), resp.headers.get("Idempotent-Replayed") == "true"


async def appeals_of(conn: asyncpg.Connection, ref: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT appeal_id FROM appeals JOIN persons USING (person_id) WHERE person_ref = $1 "
        "ORDER BY filed_at, appeal_id",
        ref,
    )
    return [r["appeal_id"] for r in rows]


async def held_by(conn: asyncpg.Connection, holder: int) -> int:
    """Until a request waits for a lock that session ``holder`` holds; that request's
    session."""
    for _ in range(1000):
        waiting = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))", holder
        )
        if waiting is not None:
            return int(waiting)
        await asyncio.sleep(0.01)
    raise AssertionError(f"no request came to wait for session {holder}")


async def test_a_retried_filing_files_one_appeal_and_is_answered_as_the_first(city, conn):
    ref = await city.register()
    citizen = city.api.auth("citizen", ref)
    key = str(uuid.uuid4())

    status, first, replayed = await post(city, "/v1/appeals", citizen, FILING, key)
    assert (status, replayed) == (201, False)
    # The same request again, its fields in another order: the same answer, marked replayed.
    again = dict(reversed(FILING.items()))
    status, second, replayed = await post(city, "/v1/appeals", citizen, again, key)
    assert (status, replayed) == (201, True)
    assert second == first
    # The draft's quoted form of the key is the same key.
    status, third, replayed = await post(city, "/v1/appeals", citizen, FILING, f'"{key}"')
    assert (status, third, replayed) == (201, first, True)
    assert await appeals_of(conn, ref) == [first["appeal_id"]]
    resp = await city.client.get("/v1/me/appeals", headers=citizen)
    assert [a["appeal_id"] for a in (await resp.json())["appeals"]] == [first["appeal_id"]]

    # Another citizen's same key is their own key; and a request without a key is served
    # as before (a second filing, as the caller asked).
    other = await city.register(name="李四")
    status, theirs, replayed = await post(
        city, "/v1/appeals", city.api.auth("citizen", other), FILING, key
    )
    assert (status, replayed) == (201, False)
    assert theirs["appeal_id"] != first["appeal_id"]
    status, unkeyed, _ = await post(city, "/v1/appeals", citizen, FILING)
    assert status == 201
    assert await appeals_of(conn, ref) == [first["appeal_id"], unkeyed["appeal_id"]]


async def test_a_key_sent_with_another_body_is_refused_and_changes_nothing(city, conn):
    ref = await city.register()
    citizen = city.api.auth("citizen", ref)
    key = str(uuid.uuid4())
    status, first, _ = await post(city, "/v1/appeals", citizen, FILING, key)
    assert status == 201

    changed = {**FILING, "description": "Something else entirely."}
    status, problem, _ = await post(city, "/v1/appeals", citizen, changed, key)
    assert status == 422
    assert "different request" in problem["detail"]
    assert "Idempotency-Key" in problem["errors"]
    # The key on another route is another request too.
    officer = city.api.auth("staff", "hp-officer", "310101")
    note = {"text": "Called the lab."}
    status, _, _ = await post(city, f"/v1/appeals/{first['appeal_id']}/notes", citizen, note, key)
    assert status == 403  # a citizen writes no notes: refused before the key is looked at
    assert await appeals_of(conn, ref) == [first["appeal_id"]]
    resp = await city.client.get(f"/v1/appeals/{first['appeal_id']}", headers=officer)
    stored = await resp.json()
    assert stored["description"] == FILING["description"]
    assert stored["notes"] == []
    # The first request is still answered as before.
    status, again, replayed = await post(city, "/v1/appeals", citizen, FILING, key)
    assert (status, again, replayed) == (201, first, True)


async def test_a_key_that_cannot_be_one_is_refused_in_words(city, conn):
    ref = await city.register()
    citizen = city.api.auth("citizen", ref)
    for bad in ("", "   ", "x" * 256, "clé"):
        resp = await city.client.post(
            "/v1/appeals",
            json=FILING,
            headers={**citizen, "Idempotency-Key": bad.encode().decode("latin-1")},
        )
        assert resp.status == 400, bad
        assert "Idempotency-Key" in (await resp.json())["detail"]
    twice = CIMultiDict(citizen)
    twice.add("Idempotency-Key", "one")
    twice.add("Idempotency-Key", "two")
    resp = await city.client.post("/v1/appeals", json=FILING, headers=twice)
    assert resp.status == 400
    assert await appeals_of(conn, ref) == []


async def test_two_requests_racing_with_one_key_file_one_appeal(city, conn):
    """The second waits for the first's transaction, then is given its answer."""
    ref = await city.register()
    citizen = city.api.auth("citizen", ref)
    key = str(uuid.uuid4())
    person_id = await conn.fetchval("SELECT person_id FROM persons WHERE person_ref = $1", ref)
    hold = conn.transaction()
    await hold.start()
    # Filing locks the person's status row: hold it, so the first request stops there
    # having claimed the key, and the second comes while the first is in flight.
    await conn.execute("SELECT 1 FROM statuses WHERE person_id = $1 FOR UPDATE", person_id)
    first = asyncio.create_task(post(city, "/v1/appeals", citizen, FILING, key))
    in_flight = await held_by(conn, conn.get_server_pid())
    second = asyncio.create_task(post(city, "/v1/appeals", citizen, FILING, key))
    await held_by(conn, in_flight)  # the second waits for the first, on the key
    await hold.rollback()
    answers = await asyncio.gather(first, second)

    assert [status for status, _, _ in answers] == [201, 201]
    assert answers[0][1] == answers[1][1]
    assert sorted(replayed for _, _, replayed in answers) == [False, True]
    assert await appeals_of(conn, ref) == [answers[0][1]["appeal_id"]]


@pytest.fixture
async def served(settings, keys) -> AsyncIterator[City]:
    """A server that, as ``codesvc serve`` does, finishes a request whose client has gone
    (the test server would cancel it instead)."""
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession(f"http://{host}:{port}", headers=ENGLISH) as session:
            yield City(Api(session, keys))  # type: ignore[arg-type]
    finally:
        await runner.cleanup()


async def test_an_answer_lost_on_the_way_is_given_again(served, conn):
    """The citizen's connection drops while the filing is being stored; the retry with the
    same key gets the appeal that was filed, and no second one is filed."""
    city = served
    ref = await city.register()
    citizen = city.api.auth("citizen", ref)
    key = str(uuid.uuid4())
    person_id = await conn.fetchval("SELECT person_id FROM persons WHERE person_ref = $1", ref)
    hold = conn.transaction()
    await hold.start()
    await conn.execute("SELECT 1 FROM statuses WHERE person_id = $1 FOR UPDATE", person_id)
    lost = asyncio.create_task(post(city, "/v1/appeals", citizen, FILING, key))
    await held_by(conn, conn.get_server_pid())
    lost.cancel()  # the client gives up: its connection closes unanswered
    await asyncio.gather(lost, return_exceptions=True)
    await hold.rollback()

    # The server goes on with the request and stores it (a retry arriving meanwhile waits
    # for it on the key).
    status, answer, replayed = await post(city, "/v1/appeals", citizen, FILING, key)
    assert (status, replayed) == (201, True)
    assert await appeals_of(conn, ref) == [answer["appeal_id"]]


async def test_a_retried_note_and_override_proposal_are_stored_once(city, conn):
    ref = await city.register()
    _, filed, _ = await post(city, "/v1/appeals", city.api.auth("citizen", ref), FILING)
    officer = city.api.auth("staff", "hp-officer", "310101")
    path = f"/v1/appeals/{filed['appeal_id']}/notes"
    note = {"text": "Called the lab; the sample is found.", "visibility": "citizen"}
    key = str(uuid.uuid4())
    answers = [await post(city, path, officer, note, key) for _ in range(2)]
    assert [(s, r) for s, _, r in answers] == [(201, False), (201, True)]
    assert answers[0][1] == answers[1][1]
    assert len(answers[1][1]["notes"]) == 1

    proposal = {"person_ref": ref, "color": "green", "reason": "Lab error confirmed."}
    key = str(uuid.uuid4())
    answers = [await post(city, "/v1/overrides", city.commission, proposal, key) for _ in "ab"]
    assert [(s, r) for s, _, r in answers] == [(201, False), (201, True)]
    assert answers[0][1] == answers[1][1]
    resp = await city.client.get(f"/v1/overrides?person_ref={ref}", headers=city.commission)
    assert [o["override_id"] for o in (await resp.json())["overrides"]] == [
        answers[0][1]["override_id"]
    ]


async def test_a_retried_registration_is_answered_as_new_again(city, conn):
    """Registration is idempotent on the id number anyway; with a key, a feed's retry is
    also answered as the first answer was (201, created), not 200."""
    from tests.builders import id_number

    person = {"id_number": id_number("310101"), "name": "王五", "district": "310101"}
    key = str(uuid.uuid4())
    answers = [await post(city, "/v1/persons", city.feeder, person, key) for _ in "ab"]
    assert [(s, b["created"], r) for s, b, r in answers] == [(201, True, False), (201, True, True)]
    assert answers[0][1] == answers[1][1]
    status, unkeyed, _ = await post(city, "/v1/persons", city.feeder, person)
    assert (status, unkeyed) == (200, {**answers[0][1], "created": False})
    assert await conn.fetchval("SELECT count(*) FROM persons") == 1


async def test_a_retried_campaign_starts_one_campaign_and_one_job(city, conn):
    untested = await city.register("310104")
    ends_at = datetime.now(UTC) + timedelta(hours=1)
    campaign = {
        "districts": ["310104"],
        "starts_at": (ends_at - timedelta(days=3)).isoformat(),
        "ends_at": ends_at.isoformat(),
    }
    key = str(uuid.uuid4())
    answers = [await post(city, "/v1/campaigns", city.commission, campaign, key) for _ in "ab"]
    assert [(s, r) for s, _, r in answers] == [(201, False), (201, True)]
    assert answers[0][1] == answers[1][1]
    # A dry run is another request than the change itself.
    status, problem, _ = await post(
        city, "/v1/campaigns?dry_run=true", city.commission, campaign, key
    )
    assert status == 422
    assert "Idempotency-Key" in problem["errors"]
    assert await conn.fetchval("SELECT count(*) FROM campaigns") == 1
    assert await conn.fetchval("SELECT count(*) FROM jobs") == 1

    # The job, started inside the request's transaction, is worked to its end.
    job = f"/v1/jobs/{answers[0][1]['job_id']}"
    for _ in range(1000):
        state = (await (await city.client.get(job, headers=city.commission)).json())["state"]
        if state != "running":
            break
        await asyncio.sleep(0.01)
    assert state == "done"
    stored = await city.status(untested)
    assert datetime.fromisoformat(stored["next_change_at"]) == ends_at


@pytest.fixture
async def moved(settings, keys) -> AsyncIterator[tuple[City, list[datetime]]]:
    """A city whose clock the test moves."""
    moment = [datetime.now(UTC)]
    app = create_app(settings, clock=lambda: moment[0])
    async with TestClient(TestServer(app), headers=ENGLISH) as client:
        yield City(Api(client, keys)), moment


async def test_a_key_is_kept_a_day_then_forgotten_by_the_worker(moved, settings, keys, conn):
    city, moment = moved
    start = moment[0]
    ref = await city.register()
    citizen = city.api.auth("citizen", ref)
    key = str(uuid.uuid4())
    _, first, _ = await post(city, "/v1/appeals", citizen, FILING, key)

    moment[0] = start + timedelta(hours=23)
    status, again, replayed = await post(city, "/v1/appeals", citizen, FILING, key)
    assert (status, again, replayed) == (201, first, True)
    # Past the day it is kept, the key means nothing any more: the request is served anew.
    moment[0] = start + timedelta(hours=25)
    status, later, replayed = await post(city, "/v1/appeals", citizen, FILING, key)
    assert (status, replayed) == (201, False)
    assert await appeals_of(conn, ref) == [first["appeal_id"], later["appeal_id"]]
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 1

    # A day later the worker (here: a server started then) forgets the key.
    day_after = start + timedelta(hours=50)
    app = create_app(settings, clock=lambda: day_after)
    async with TestClient(TestServer(app), headers=ENGLISH):
        for _ in range(1000):
            if not await conn.fetchval("SELECT count(*) FROM idempotency_keys"):
                break
            await asyncio.sleep(0.01)
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_the_openapi_document_names_the_header_where_it_applies(api):
    document = await (await api.client.get("/openapi.json")).json()

    def takes_key(method: str, path: str) -> bool:
        params = document["paths"][path][method].get("parameters", [])
        return any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in params)

    creating = ("/v1/appeals", "/v1/appeals/{appeal_id}/notes", "/v1/overrides", "/v1/campaigns")
    for path in (*creating, "/v1/persons"):
        assert takes_key("post", path), path
    # Routes idempotent by their own ids, and reads, do not take it.
    for method, path in (("post", "/v1/events"), ("post", "/v1/scans"), ("get", "/v1/appeals")):
        assert not takes_key(method, path), path
