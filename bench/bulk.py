"""A city-wide listing: how long until every stored status is right, beside a raw COPY.

    python bench/bulk.py [--people 1000000] [--workers 1]

Starts its own PostgreSQL (the embedded one) unless CODESVC_BENCH_DATABASE_URL names a
server. COPY-loads N people who each arrived from one area (440306) 30 days ago, with the
status and history the service itself would have stored (yellow by R6, the landing
tests never came), starts ``codesvc serve``, lists the area as high risk backdated to
before the arrivals (PUT /v1/risk-areas), and times until the listing's job reports
done (GET /v1/jobs/{id}), then checks in SQL that every stored status and current
history is the red the rules give. The machine's own limit, measured in the same run: a
raw COPY of N event-shaped rows. While the job runs, a probe sends one event a tenth of a
second for a person the listing touches and reports how long ingestion waited.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import (  # noqa: E402
    EVENT_COLUMNS,
    copy_rate,
    create_database,
    drop_database,
    free_port,
    server_url,
    wait_ready,
)

from codesvc.settings import Settings  # noqa: E402
from codesvc.state.events import TravelArrival  # noqa: E402
from codesvc.state.person import from_facts  # noqa: E402
from codesvc.state.timeline import evaluate  # noqa: E402
from codesvc.state.world import World  # noqa: E402
from codesvc.tokens import AuthKeys  # noqa: E402

AREA = "440306"
DISTRICTS = [
    "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
    "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151",
]  # fmt: skip
CHUNK = 100_000


async def load_city(url: str, people: int, now: datetime) -> None:
    """N registrations, one arrival each, and the status and history stored for them."""
    registered = now - timedelta(days=40)
    arrived = now - timedelta(days=30)
    template = evaluate(
        from_facts(registered, DISTRICTS[0], [TravelArrival("x", arrived, AREA, "itinerary")]),
        World(),
        now,
    )
    data = orjson.dumps({"area_code": AREA, "source": "itinerary"}).decode()
    conn = await asyncpg.connect(url)  # default codecs: COPY's binary jsonb
    try:
        for start in range(0, people, CHUNK):
            ids = range(start + 1, min(start + CHUNK, people) + 1)
            await conn.copy_records_to_table(
                "persons",
                records=[
                    (
                        f"p_B{i:011d}",
                        hashlib.sha256(b"%d" % i).digest(),
                        "测试",
                        DISTRICTS[i % 16],
                        registered,
                    )
                    for i in ids
                ],
                columns=["person_ref", "id_hash", "name", "district", "registered_at"],
            )
            events = [(uuid.uuid4(), i) for i in ids]
            await conn.copy_records_to_table(
                "events",
                records=[
                    (
                        event_id,
                        i,
                        "travel.arrival",
                        arrived,
                        data,
                        hashlib.sha256(event_id.bytes).digest(),
                        "feeder:bench",
                        arrived,
                    )
                    for event_id, i in events
                ],
                columns=EVENT_COLUMNS,
            )
            await conn.copy_records_to_table(
                "statuses",
                records=[
                    (i, template.color.value, template.since, template.next_change_at, arrived)
                    for i in ids
                ],
                columns=["person_id", "color", "since", "next_change_at", "updated_at"],
            )
            await conn.copy_records_to_table(
                "history",
                records=[
                    (
                        i,
                        interval.start,
                        interval.end,
                        interval.color.value,
                        interval.cause.replace("x", str(event_id)),
                        arrived,
                    )
                    for event_id, i in events
                    for interval in template.intervals
                ],
                columns=["person_id", "valid_from", "valid_to", "color", "cause", "recorded_at"],
            )
            print(f"  loaded {ids[-1]:,} people", end="\r", flush=True)
        print()
        for table in ("persons", "events", "statuses", "history"):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


async def probe(session: aiohttp.ClientSession, base: str, people: int, stop: asyncio.Event,
                waits: list[float]) -> None:  # fmt: skip
    """One event every 0.1 s for a person the listing touches: how long does a writer wait?"""
    n = 0
    while not stop.is_set():
        n += 1
        ref = f"p_B{1 + (n * 7919) % people:011d}"
        event = {
            "event_id": str(uuid.uuid4()), "kind": "test.result",
            "occurred_at": (datetime.now(UTC) - timedelta(days=60)).isoformat(),
            "person": {"person_ref": ref},
            "data": {"result": "negative", "lab_id": "lab-1", "sample_id": f"S{n}"},
        }  # fmt: skip
        started = time.perf_counter()
        async with session.post(base + "/v1/events", json={"events": [event]}) as resp:
            assert resp.status == 200, await resp.text()
        waits.append(time.perf_counter() - started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def run(url: str, args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    started = time.perf_counter()
    await load_city(url, args.people, now)
    print(f"setup: {args.people:,} people COPY-loaded in {time.perf_counter() - started:.1f} s")
    raw = await asyncpg.connect(url)
    try:
        copy = await copy_rate(raw, args.people)
    finally:
        await raw.close()
    copy_seconds = args.people / copy
    print(f"raw COPY of {args.people:,} event-shaped rows: {copy_seconds:.2f} s", flush=True)

    home = Path(tempfile.mkdtemp(prefix="codesvc-bench-home-"))
    settings = Settings(database_url=url, home=home, auth_secret="bench-" + "s" * 32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
    env |= {
        "CODESVC_DATABASE_URL": url,
        "CODESVC_HOME": str(home),
        "CODESVC_AUTH_SECRET": settings.auth_secret,
        "CODESVC_LOG_LEVEL": "WARNING",
        "CODESVC_SQL_DIR": str(ROOT / "sql"),
        "CODESVC_JOB_PROCESSES": str(args.job_processes),
    }
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "codesvc", "serve", "--port", str(port)),
        *("--workers", str(args.workers)),
        env=env,
        cwd=home,
    )
    keys = AuthKeys.from_settings(settings)
    commission = {"Authorization": f"Bearer {keys.sign('commission', 'bench', ttl=36000)}"}
    feeder = {"Authorization": f"Bearer {keys.sign('feeder', 'bench-lab', ttl=36000)}"}
    base = f"http://127.0.0.1:{port}"
    waits: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            await asyncio.to_thread(wait_ready, port)
            stop = asyncio.Event()
            async with aiohttp.ClientSession(headers=feeder) as probing:
                prober = asyncio.create_task(probe(probing, base, args.people, stop, waits))
                began = time.perf_counter()
                async with session.put(
                    f"{base}/v1/risk-areas/{AREA}",
                    json={"level": "high", "valid_from": (now - timedelta(days=35)).isoformat()},
                    headers=commission,
                ) as resp:
                    answer = await resp.json()
                    assert resp.status == 200, answer
                answered = time.perf_counter() - began
                job = await until_done(session, base, answer["job_id"], commission)
                elapsed = time.perf_counter() - began
                stop.set()
                await prober
    finally:
        server.terminate()
        await server.wait()
    assert job["state"] == "done", job
    async with contextlib.AsyncExitStack():
        conn = await asyncpg.connect(url)
        try:
            wrong = await conn.fetchval("SELECT count(*) FROM statuses WHERE color <> 'red'")
            current_red = await conn.fetchval(
                "SELECT count(DISTINCT person_id) FROM history "
                "WHERE superseded_at IS NULL AND color = 'red'"
            )
        finally:
            await conn.close()
    assert wrong == 0, f"{wrong} stored statuses are not red"
    assert current_red == args.people, f"{current_red} current histories are red"
    print()
    print(f"{args.people:,} people, one arrival each from {AREA}; listed high, backdated:")
    print(f"  the change answered in            {answered * 1000:8.0f} ms (job {job['job_id']})")
    print(f"  every stored status right after   {elapsed:8.1f} s   ({job['done']:,} people)")
    print(f"  raw COPY of {args.people:,} rows          {copy_seconds:8.2f} s")
    print(f"  ratio                             {elapsed / copy_seconds:8.1f} x   (goal <= 12)")
    print(f"  people re-evaluated per second    {args.people / elapsed:8.0f}")
    if waits:
        print(
            f"  an event for a person it touches, while it ran: median "
            f"{statistics.median(waits) * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms "
            f"({len(waits)} sent)"
        )


async def until_done(
    session: aiohttp.ClientSession, base: str, job_id: str, headers: dict[str, str]
) -> dict[str, object]:
    while True:
        async with session.get(f"{base}/v1/jobs/{job_id}", headers=headers) as resp:
            job: dict[str, object] = await resp.json()
        if job["state"] != "running":
            return job
        await asyncio.sleep(0.1)


async def main(args: argparse.Namespace) -> None:
    with server_url() as server:
        name = "codesvc_bulk_" + secrets.token_hex(4)
        url = await create_database(server, name)
        try:
            await run(url, args)
        finally:
            await drop_database(server, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--job-processes", type=int, default=0, help="processes evaluating the job's chunks"
    )
    asyncio.run(main(parser.parse_args()))
