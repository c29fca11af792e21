"""Events per second through ``POST /v1/events``, beside a raw COPY of the same rows.

    python bench/ingest.py [--rounds 5] [--batches 10] [--concurrency 2] [--sender feeder]

Starts its own PostgreSQL (the embedded one) unless CODESVC_BENCH_DATABASE_URL names a
server, runs the real service in a separate process, and sends batches of 1000 events:
first for people it has never seen (each event registers its person by id number),
then for people already registered (by person_ref). The machine's own limit is a raw
COPY of the same rows into a table shaped like ``events``: the ratio says how much of
it the service keeps while validating, deduplicating, locking each person, replaying
their colour and writing status and history in the same transaction.

The events come from a laboratory's feed (``--sender feeder``), as a city's test results
do. ``--sender commission`` sends them as the commission would by hand: each is then a
manual change with an audit entry per person (SPEC §9), which costs more.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import (  # noqa: E402
    copy_rate,
    create_database,
    drop_database,
    free_port,
    server_url,
    wait_ready,
)

from codesvc import db  # noqa: E402
from codesvc.identity import make_id_number  # noqa: E402
from codesvc.settings import Settings  # noqa: E402
from codesvc.tokens import AuthKeys  # noqa: E402

BATCH = 1000


def events_for(people: list[dict[str, str]], start: datetime) -> list[dict[str, object]]:
    return [
        {
            "event_id": str(uuid.uuid4()),
            "kind": "test.result",
            "occurred_at": (start + timedelta(seconds=i)).isoformat(),
            "person": person,
            "data": {"result": "negative", "lab_id": "lab-1", "sample_id": uuid.uuid4().hex[:12]},
        }
        for i, person in enumerate(people)
    ]


async def post_batches(
    session: aiohttp.ClientSession,
    url: str,
    batches: list[list[dict[str, object]]],
    concurrency: int,
) -> tuple[float, list[dict[str, object]]]:
    queue = list(batches)
    answers: list[dict[str, object]] = []

    async def worker() -> None:
        while queue:
            batch = queue.pop()
            async with session.post(url, data=orjson.dumps({"events": batch})) as resp:
                body = await resp.json()
                assert resp.status == 200, body
                answers.extend(body["results"])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, answers


async def main(args: argparse.Namespace) -> None:
    with server_url() as server:
        name = "codesvc_bench_" + secrets.token_hex(4)
        url = await create_database(server, name)
        try:
            await run(url, args)
        finally:
            await drop_database(server, name)


async def run(url: str, args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="codesvc-bench-home-"))
    settings = Settings(database_url=url, home=home, auth_secret="bench-" + "s" * 32)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
    env |= {
        "CODESVC_DATABASE_URL": url,
        "CODESVC_HOME": str(home),
        "CODESVC_AUTH_SECRET": settings.auth_secret,
        "CODESVC_LOG_LEVEL": "WARNING",
        "CODESVC_SQL_DIR": str(ROOT / "sql"),
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "codesvc", "serve", "--port", str(port), env=env, cwd=home
    )
    token = AuthKeys.from_settings(settings).sign(args.sender, "bench-lab", ttl=36000)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            await asyncio.to_thread(wait_ready, port)
            fresh_rates, existing_rates, copy_rates = [], [], []
            seq = 0
            start = datetime.now(UTC) - timedelta(days=1)
            for round_no in range(args.rounds):
                fresh_people = []
                for _ in range(args.batches * BATCH):
                    seq += 1
                    birth = date(1950 + seq % 50, 1 + seq % 12, 1 + seq % 28)
                    fresh_people.append(
                        {"id_number": make_id_number("310101", birth, seq % 999), "name": "测试"}
                    )
                batches = [
                    events_for(fresh_people[i : i + BATCH], start)
                    for i in range(0, len(fresh_people), BATCH)
                ]
                elapsed, answers = await post_batches(
                    session, base + "/v1/events", batches, args.concurrency
                )
                accepted = sum(1 for a in answers if a["status"] == "accepted")
                fresh_rates.append(accepted / elapsed)

                async with db.connect(url) as conn:
                    refs = [
                        r["person_ref"]
                        for r in await conn.fetch(
                            "SELECT person_ref FROM persons ORDER BY random() LIMIT $1",
                            args.batches * BATCH,
                        )
                    ]
                    people = [{"person_ref": ref} for ref in refs]
                    batches = [
                        events_for(people[i : i + BATCH], start + timedelta(hours=round_no + 1))
                        for i in range(0, len(people), BATCH)
                    ]
                    elapsed, answers = await post_batches(
                        session, base + "/v1/events", batches, args.concurrency
                    )
                    accepted = sum(1 for a in answers if a["status"] == "accepted")
                    existing_rates.append(accepted / elapsed)
                raw = await asyncpg.connect(url)  # default codecs: COPY's binary jsonb
                try:
                    copy_rates.append(await copy_rate(raw, args.batches * BATCH))
                finally:
                    await raw.close()
                print(
                    f"round {round_no + 1}: fresh {fresh_rates[-1]:8.0f} ev/s   existing "
                    f"{existing_rates[-1]:8.0f} ev/s   raw COPY {copy_rates[-1]:9.0f} rows/s",
                    flush=True,
                )
    finally:
        server.terminate()
        await server.wait()
    copy = statistics.median(copy_rates)
    fresh = statistics.median(fresh_rates)
    existing = statistics.median(existing_rates)
    print()
    print(
        f"medians over {args.rounds} rounds of {args.batches} x {BATCH} events, "
        f"{args.concurrency} concurrent batches sent by {args.sender}, one server process:"
    )
    print(f"  raw COPY of the same rows        {copy:9.0f} rows/s   1.000")
    print(f"  POST /v1/events, new people      {fresh:9.0f} ev/s     {fresh / copy:.3f} of COPY")
    print(
        f"  POST /v1/events, known people    {existing:9.0f} ev/s     {existing / copy:.3f} of COPY"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10, help="batches of 1000 per round")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--sender",
        choices=("feeder", "commission"),
        default="feeder",
        help="who sends: a laboratory's feed, or the commission by hand (audited)",
    )
    asyncio.run(main(parser.parse_args()))
