"""City-wide changes as jobs: progress in the row, resumable after a kill -9, one worker
per chunk, no lock against ingestion, and `verify` clean at the end."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import jsonschema_rs
import pytest

from codesvc import db
from codesvc.schemas.events import read_item
from codesvc.service import jobs, listings, sweeper
from codesvc.service.ingest import ingest
from codesvc.service.job_processes import Evaluators
from codesvc.service.persons import Registration, ensure_registered
from codesvc.service.verify import verify
from codesvc.settings import Settings
from codesvc.state.world import Listing
from codesvc.tokens import Principal
from tests.builders import ago, arrival, id_number, negative
from tests.processes import ROOT, clean_env

FEED = Principal("feeder", "itinerary-feed", None, 0.0)
COMMISSION = Principal("commission", "commissioner-1", None, 0.0)
AREA = "440306"
SECRET = b"test-id-secret-0123456789"


def now() -> datetime:
    return datetime.now(UTC)


async def arrive(conn: asyncpg.Connection, settings: Settings, count: int, **where: str) -> None:
    """``count`` new people who arrived from AREA ten days ago (yellow by R6 since)."""
    people = [{"id_number": id_number(where.get("district", "310101"))} for _ in range(count)]
    outcomes = await ingest(
        conn,
        [
            read_item(arrival(ago(days=10), person, area=where.get("area", AREA)))
            for person in people
        ],
        FEED,
        id_secret=b"test-id-secret-0123456789",
        rules=settings.rules,
        now=now(),
    )
    assert {o.status for o in outcomes} == {"accepted"}


async def list_high(conn: asyncpg.Connection, settings: Settings) -> str:
    change = await listings.put_listing(
        conn, Listing(AREA, "high", ago(days=30)), COMMISSION, settings.rules, now(), False
    )
    assert change.job_id is not None
    return change.job_id


async def told_per_person(conn: asyncpg.Connection) -> dict[int, int]:
    """How many times each person was told of a colour change the listing made."""
    rows = await conn.fetch(
        "SELECT person_id, count(*) AS n FROM notifications WHERE kind = 'color_changed' "
        "AND detail ->> 'cause' = $1 GROUP BY person_id",
        f"listing:{AREA}",
    )
    return {r["person_id"]: r["n"] for r in rows}


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    settings = Settings(database_url=db_url, pool_min=1, pool_max=4)
    pool = await db.create_pool(db_url, settings)
    yield pool
    await pool.close()


async def test_a_listing_is_a_job_whose_progress_the_commission_reads(city):
    ids = []
    for _ in range(3):
        ref = await city.register()
        ids.append(ref)
    await city.send(*(arrival(ago(days=10), {"person_ref": ref}) for ref in ids[:2]))
    answer = await city.list_area(AREA, "high", ago(days=30).isoformat())
    assert answer["affected"] is None  # the job counts them
    assert answer["dry_run"] is False
    job_id = answer["job_id"]
    for _ in range(100):
        resp = await city.client.get(f"/v1/jobs/{job_id}", headers=city.commission)
        job = await resp.json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert resp.status == 200
    assert job["kind"] == "listing"
    assert (job["state"], job["total"], job["done"]) == ("done", 2, 2)
    assert job["finished_at"] >= job["started_at"]
    # The stored colours and histories are what a replay says.
    histories = [await city.history(ref) for ref in ids[:2]]
    assert all(h[-1]["color"] == "red" or any(i["color"] == "red" for i in h) for h in histories)
    # Only the commission reads jobs; an unknown one is a 404 problem.
    resp = await city.client.get(f"/v1/jobs/{job_id}", headers=city.feeder)
    assert resp.status == 403
    resp = await city.client.get("/v1/jobs/j_0000000000000000", headers=city.commission)
    assert resp.status == 404
    assert "job" in (await resp.json())["detail"]


async def test_a_dry_run_counts_colour_changes_per_district_and_changes_nothing(city):
    people = {}
    for district in ("310101", "310101", "310115"):
        ref = await city.register(district)
        people[ref] = district
    await city.send(*(arrival(ago(days=1), {"person_ref": ref}) for ref in people))
    resp = await city.client.put(
        f"/v1/risk-areas/{AREA}?dry_run=true",
        json={"level": "high", "valid_from": ago(days=30).isoformat()},
        headers=city.commission,
    )
    preview = await resp.json()
    assert resp.status == 200, preview
    assert preview["job_id"] is None
    assert preview["changes"] == [{"before": "green", "after": "red", "people": 3}]
    assert preview["by_district"] == [
        {"district": "310101", "before": "green", "after": "red", "people": 2},
        {"district": "310115", "before": "green", "after": "red", "people": 1},
    ]
    assert [(await city.status(ref))["color"] for ref in people] == ["green"] * 3


async def test_an_event_committed_alongside_a_listing_is_evaluated_under_it(conn, pool, settings):
    """No lock keeps writers out while a listing changes; the job waits for the writers
    that were in flight instead, so the arrival they committed is not missed."""
    writer = await pool.acquire()
    try:
        in_flight = writer.transaction()
        await in_flight.start()
        await arrive(writer, settings, 1)  # evaluated under no listing; not committed yet
        job_id = await list_high(conn, settings)  # commits at once: nothing waits for it
        assert await jobs.step(pool, settings.rules, now) is jobs.Step.WAITING
        await in_flight.commit()
    finally:
        await pool.release(writer)
    await jobs.work_all(pool, settings.rules, now)
    job = await jobs.get(conn, job_id)
    assert job is not None
    assert (job.state, job.total, job.done) == ("done", 1, 1)
    assert await conn.fetchval("SELECT color FROM statuses") == "red"
    assert (await verify(conn, settings.rules, now())).differences == []


async def test_two_workers_never_apply_the_same_chunk(conn, pool, settings):
    await arrive(conn, settings, 60)
    job_id = await list_high(conn, settings)
    await asyncio.gather(*(jobs.work_all(pool, settings.rules, now, chunk=4) for _ in range(3)))
    job = await jobs.get(conn, job_id)
    assert job is not None
    assert (job.state, job.total, job.done) == ("done", 60, 60)
    # Each person was moved yellow -> red exactly once: one notification, one new red row.
    assert sorted(set((await told_per_person(conn)).values())) == [1]
    assert len(await told_per_person(conn)) == 60
    reds = await conn.fetch(
        "SELECT person_id, count(*) AS n FROM history WHERE color = 'red' GROUP BY person_id"
    )
    assert len(reds) == 60
    assert {r["n"] for r in reds} == {1}
    assert (await verify(conn, settings.rules, now())).differences == []


async def test_chunks_evaluated_in_worker_processes_are_stored_alike(conn, pool, db_url, settings):
    await arrive(conn, settings, 30)
    await arrive(conn, settings, 3, area="510107")
    job_id = await list_high(conn, settings)
    evaluators = Evaluators(db_url, 2)
    try:
        await jobs.work_all(pool, settings.rules, now, chunk=4, evaluators=evaluators)
    finally:
        evaluators.close()
    job = await jobs.get(conn, job_id)
    assert job is not None
    assert (job.state, job.total, job.done) == ("done", 30, 30)
    assert set((await told_per_person(conn)).values()) == {1}
    assert await conn.fetchval("SELECT count(*) FROM statuses WHERE color = 'red'") == 30
    assert (await verify(conn, settings.rules, now())).differences == []


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime, timedelta
    from codesvc import db
    from codesvc.service import jobs
    from codesvc.settings import Settings

    async def main():
        settings = Settings.from_env()
        pool = await db.create_pool(settings.database_url, settings)
        await jobs.run_jobs(pool, settings, lambda: datetime.now(UTC), asyncio.Event())

    asyncio.run(main())
    """
)


async def test_a_job_resumes_after_its_worker_is_killed_with_nobody_skipped_or_told_twice(
    conn, pool, db_url, settings, tmp_path
):
    await arrive(conn, settings, 50)
    await arrive(conn, settings, 5, area="510107")  # not affected
    job_id = await list_high(conn, settings)
    ids = [r["person_id"] for r in await conn.fetch("SELECT person_id FROM persons ORDER BY 1")]
    # Another writer holds the 25th person, so the worker stops mid-way at a known place.
    holder = await pool.acquire()
    hold = holder.transaction()
    await hold.start()
    await holder.execute("SELECT 1 FROM statuses WHERE person_id = $1 FOR UPDATE", ids[24])
    env = clean_env(CODESVC_DATABASE_URL=db_url, CODESVC_JOB_CHUNK="10", CODESVC_LOG_LEVEL="ERROR")
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, env=env, cwd=ROOT, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(600):
            job = await jobs.get(conn, job_id)
            assert job is not None
            if job.done == 20:
                break
            await asyncio.sleep(0.05)
        assert job.done == 20
        assert job.state == "running"
        os.kill(worker.pid, signal.SIGKILL)
        await worker.wait()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        await hold.rollback()
        await pool.release(holder)
    assert (await jobs.get(conn, job_id)).done == 20  # type: ignore[union-attr]
    await jobs.work_all(pool, settings.rules, now, chunk=10)
    job = await jobs.get(conn, job_id)
    assert job is not None
    assert (job.state, job.total, job.done) == ("done", 50, 50)
    told = await told_per_person(conn)
    assert sorted(told) == ids[:50]
    assert set(told.values()) == {1}
    assert (await verify(conn, settings.rules, now())).differences == []


async def test_a_campaign_is_a_job_too(city, conn, api, settings):
    tested, untested = await city.register("310104"), await city.register("310104")
    elsewhere = await city.register("310115")
    await city.send(negative(ago(hours=12), {"person_ref": tested}))
    ends = now() + timedelta(hours=1)
    resp = await city.client.post(
        "/v1/campaigns",
        json={
            "districts": ["310104"],
            "starts_at": ago(days=1).isoformat(),
            "ends_at": ends.isoformat(),
        },
        headers=city.commission,
    )
    body = await resp.json()
    assert resp.status == 201, body
    assert body["affected"] is None
    from codesvc.api.keys import POOL

    await jobs.work_all(api.app[POOL], settings.rules, now)
    job = await jobs.get(conn, body["job_id"])
    assert job is not None
    assert (job.kind, job.state, job.total, job.done) == ("campaign", "done", 1, 1)
    # The untested person's stored status now knows it turns yellow when the campaign ends.
    stored = await conn.fetch(
        "SELECT p.person_ref, s.next_change_at FROM statuses s JOIN persons p USING (person_id)"
    )
    changes = {r["person_ref"]: r["next_change_at"] for r in stored}
    assert changes == {tested: None, untested: ends, elsewhere: None}
    assert (await verify(conn, settings.rules, now())).differences == []


async def test_the_door_evaluates_afresh_whom_a_running_job_has_yet_to_reach(conn, pool, settings):
    await arrive(conn, settings, 1)
    await arrive(conn, settings, 1, area="510107")
    query = """SELECT s.color, awaits_job(p.person_id, p.district) AS due
               FROM statuses s JOIN persons p USING (person_id) ORDER BY person_id"""
    assert [tuple(r) for r in await conn.fetch(query)] == [("yellow", False)] * 2
    await list_high(conn, settings)
    assert [tuple(r) for r in await conn.fetch(query)] == [("yellow", True), ("yellow", False)]
    await jobs.work_all(pool, settings.rules, now)
    assert [tuple(r) for r in await conn.fetch(query)] == [("red", False), ("yellow", False)]


async def test_people_registered_while_a_campaign_job_runs_turn_yellow_when_it_ends(
    conn, pool, settings
):
    """Someone registered in a campaign's district while its job is working is held by
    the campaign like everyone else, even when the job passes them by: their stored status
    says when they turn yellow, so time moves them when the campaign ends untested."""
    district = "310104"
    before = [Registration(id_number(district), "李四", district) for _ in range(5)]
    await ensure_registered(conn, before, SECRET, now(), settings.rules)
    ends = now() + timedelta(hours=1)
    _, change = await listings.add_campaign(
        conn, frozenset({district}), ago(days=1), ends, COMMISSION, settings.rules, now(), False
    )
    assert change.job_id is not None
    # The job settles, counts, then stores its first chunk of two people and goes on.
    while (job := await jobs.get(conn, change.job_id)) is not None and job.done == 0:
        await jobs.step(pool, settings.rules, now, chunk=2, chunks=1)
    assert (job.state, job.done) == ("running", 2)
    # One registration commits only after the job has gone past its id and finished;
    # another commits at once, behind the job's cursor.
    slow, quick = (Registration(id_number(district), name, district) for name in ("王五", "赵六"))
    writer = await pool.acquire()
    try:
        in_flight = writer.transaction()
        await in_flight.start()
        await ensure_registered(writer, [slow], SECRET, now(), settings.rules)
        await ensure_registered(conn, [quick], SECRET, now(), settings.rules)
        await jobs.work_all(pool, settings.rules, now, chunk=2)
        await in_flight.commit()
    finally:
        await pool.release(writer)
    later = ends + timedelta(minutes=1)
    await sweeper.sweep_all(pool, settings.rules, lambda: later)
    rows = await conn.fetch(
        "SELECT p.name, s.color FROM statuses s JOIN persons p USING (person_id)"
    )
    colours = sorted((r["name"], r["color"]) for r in rows)
    assert colours == [("李四", "yellow")] * 5 + [("王五", "yellow"), ("赵六", "yellow")]
    assert (await verify(conn, settings.rules, later)).differences == []


async def test_a_person_registered_after_a_campaign_job_is_held_by_it(conn, pool, settings):
    """The campaign still runs after its job has finished: a newcomer of its district is
    stored knowing when it ends, as a replay says."""
    district = "310104"
    ends = now() + timedelta(hours=1)
    _, change = await listings.add_campaign(
        conn, frozenset({district}), ago(days=1), ends, COMMISSION, settings.rules, now(), False
    )
    await jobs.work_all(pool, settings.rules, now)
    assert (await jobs.get(conn, change.job_id or "")).state == "done"  # type: ignore[union-attr]
    newcomer = Registration(id_number(district), "王五", district)
    await ensure_registered(conn, [newcomer], SECRET, now(), settings.rules)
    assert await conn.fetchval("SELECT next_change_at FROM statuses") == ends
    later = ends + timedelta(minutes=1)
    await sweeper.sweep_all(pool, settings.rules, lambda: later)
    assert await conn.fetchval("SELECT color FROM statuses") == "yellow"
    assert (await verify(conn, settings.rules, later)).differences == []


async def served_answer_schema(city, method: str, path: str, status: int):  # type: ignore[no-untyped-def]
    """A validator for the answer ``/openapi.json`` documents for this route and status."""
    served = await (await city.client.get("/openapi.json")).json()
    answer = served["paths"][path][method]["responses"][str(status)]["content"]
    root = {"$ref": answer["application/json"]["schema"]["$ref"], **served}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


async def test_a_change_answers_with_its_job_at_once_and_the_job_counts_its_people(city, conn):
    """Neither a listing nor a campaign counts its people in the request: the answer names
    the job, as the served document says, and the job reports (and audits) the count."""
    refs = [await city.register("310104") for _ in range(3)]
    await city.send(*(arrival(ago(days=10), {"person_ref": ref}) for ref in refs[:2]))
    listed = await city.list_area(AREA, "high", ago(days=30).isoformat())
    assert (listed["affected"], listed["dry_run"]) == (None, False)
    validator = await served_answer_schema(city, "put", "/v1/risk-areas/{area_code}", 200)
    assert validator.is_valid(listed)
    resp = await city.client.post(
        "/v1/campaigns",
        json={
            "districts": ["310104"],
            "starts_at": ago(days=1).isoformat(),
            "ends_at": (now() + timedelta(hours=1)).isoformat(),
        },
        headers=city.commission,
    )
    campaign = await resp.json()
    assert resp.status == 201, campaign
    assert campaign["affected"] is None
    validator = await served_answer_schema(city, "post", "/v1/campaigns", 201)
    assert validator.is_valid(campaign)
    # The background worker counts each job's people, then re-evaluates them.
    counted = {}
    for job_id in (listed["job_id"], campaign["job_id"]):
        for _ in range(200):
            resp = await city.client.get(f"/v1/jobs/{job_id}", headers=city.commission)
            job = await resp.json()
            if job["state"] != "running":
                break
            await asyncio.sleep(0.05)
        counted[job["kind"]] = (job["state"], job["total"], job["done"])
    assert counted == {"listing": ("done", 2, 2), "campaign": ("done", 3, 3)}
    rows = await conn.fetch(
        "SELECT actor_role, subject, detail FROM audit_log WHERE action = 'job.counted' "
        "ORDER BY seq"
    )
    reach = {r["detail"]["job_id"]: (r["subject"], r["detail"]["affected"]) for r in rows}
    assert reach == {
        listed["job_id"]: (AREA, 2),
        campaign["job_id"]: (campaign["campaign_id"], 3),
    }
    assert {r["actor_role"] for r in rows} == {"system"}
