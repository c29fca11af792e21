"""A compressed day of a city against ``codesvc serve --workers``, beside the machine's limits.

    python bench/city.py [--people 200000] [--workers N] [--duration 20]

Loads PEOPLE people (COPY), starts the real service with N server processes and its
worker, and drives every kind of caller at once, each from its own wrk process: doors
scanning codes as fast as they are answered, and at a city's proportions to the scans,
labs sending test results, districts reporting arrivals, citizens reading their status,
district staff reading their people (audited), citizens filing appeals. A third of the
way in, the commission lists an area that 2,000 people arrived from; statuses of other
people fall due throughout (the worker's sweeper stores them). It prints per route the
answers per second and the p99, the stored-status lag (how long a passed deadline and the
listing waited to be stored), and beside them the same machine's limits measured in the
same run: a bare aiohttp endpoint in N processes, one pooled primary-key lookup in N
processes, a raw COPY. It also reads the CPU the service and PostgreSQL used, so that the
figures can be turned into cores: README, "Capacity".

Needs wrk (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import (  # noqa: E402
    copy_rate,
    cpu_between,
    create_database,
    database_cpu,
    free_port,
    server_url,
    tree_cpu,
    wait_ready,
)
from scan import DISTRICTS, load_people, person_ref, process, service_env  # noqa: E402

from codesvc import db  # noqa: E402
from codesvc.codes import keystore, sealing  # noqa: E402
from codesvc.codes.ring import KeyRing  # noqa: E402
from codesvc.settings import Settings  # noqa: E402
from codesvc.tokens import AuthKeys  # noqa: E402

#: An area the listing names (high risk): the people who arrived from it turn red (R2).
LISTED_AREA = "440306"
ARRIVED = 2_000

#: Requests per second of each caller, per 1,000 scans per second at the doors: a peak
#: hour of a city of 25 million (25 million results a day; arrivals, status reads,
#: staff reads and appeals far fewer than scans). Scans themselves are not paced.
PER_THOUSAND_SCANS = {
    "results": 2.0,  # batches of 10 test results: 20 results/s per 1,000 scans/s
    "arrivals": 0.5,  # batches of 10 arrivals
    "status": 30.0,  # a citizen opens their code or status
    "staff": 5.0,  # an officer reads a person (audited)
    "appeals": 0.5,
}

WRK_SCRIPT = """
-- Requests are formatted once, in init; delay() paces a caller at its share of the city.
local requests = {}
local i = 0
local pause = tonumber(os.getenv("BENCH_DELAY_MS"))
init = function(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path, token, body = line:match("^(%S+)\\t(%S+)\\t(%S+)\\t(.*)$")
    local headers = {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer " .. token}
    if body == "" then body = nil end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  i = math.random(#requests)
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
if pause > 0 then
  delay = function() return pause end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclasses.dataclass(frozen=True)
class Caller:
    """One kind of caller: its requests and how many connections drive them."""

    name: str
    port: int
    lines: list[str]
    connections: int
    rate: float  # requests per second to aim at; 0 = as fast as answered


@dataclasses.dataclass
class Result:
    name: str
    rate: float
    p50: float
    p99: float
    answered: int
    non_2xx: int
    errors: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--duration", type=int, default=20, help="seconds of the day")
    parser.add_argument("--scan-connections", type=int, default=48)
    parser.add_argument("--expect-scans", type=float, default=3000.0,
                        help="scans/s the pacing of the other callers assumes")  # fmt: skip
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        return serve_limits(args.bare, args.database)
    if shutil.which("wrk") is None:
        print("bench/city.py needs wrk, the HTTP load generator: apt-get install wrk")
        return 2
    with server_url() as server, tempfile.TemporaryDirectory(prefix="codesvc-city-") as tmp:
        return run(args, server, Path(tmp))


def run(args: argparse.Namespace, server: str, tmp: Path) -> int:
    env = service_env(tmp, argparse.Namespace(loop="asyncio", group_ms=None))
    env["CODESVC_SWEEP_INTERVAL"] = "1"
    name = f"codesvc_city_{secrets.token_hex(4)}"
    url = db.with_database(server, name)
    asyncio.run(create_database(server, name))
    started = time.perf_counter()
    asyncio.run(load_people(url, args.people, env["CODESVC_ID_SECRET"].encode()))
    print(f"loaded {args.people:,} people in {time.perf_counter() - started:.1f} s", flush=True)
    env["CODESVC_DATABASE_URL"] = url
    port, limits_port = free_port(), free_port()
    serve = [sys.executable, "-m", "codesvc", "serve", "--port", str(port)]
    limits = [sys.executable, __file__, "--bare", str(limits_port), "--database", url]
    with contextlib.ExitStack() as stack:
        service = stack.enter_context(process([*serve, "--workers", str(args.workers)], env, tmp))
        for _ in range(args.workers):
            stack.enter_context(process(limits, env, tmp))
        wait_ready(port)
        wait_ready(limits_port, "/healthz")
        keys = AuthKeys.from_settings(Settings(auth_secret=env["CODESVC_AUTH_SECRET"]))
        asyncio.run(arrivals_before(port, keys, args.people))
        callers = build_callers(args, tmp, url, env, keys, port)
        day = city_day(args, tmp, url, port, keys, callers, service.pid)
        bare = wrk(
            args,
            tmp,
            Caller("bare", limits_port, bare_lines(tmp), args.scan_connections, 0),
            args.duration // 2 or 1,
        )
        lookup = wrk(
            args,
            tmp,
            Caller("lookup", limits_port, lookup_lines(tmp), args.scan_connections, 0),
            args.duration // 2 or 1,
        )
    copy = asyncio.run(copy_limit(url))
    report(args, day, bare, lookup, copy)
    return 0


@dataclasses.dataclass
class Day:
    results: dict[str, Result]
    sweep_lag: float
    listing_lag: float | None
    service_cpu: float
    database_cpu: float
    seconds: float


def city_day(
    args: argparse.Namespace,
    tmp: Path,
    url: str,
    port: int,
    keys: AuthKeys,
    callers: list[Caller],
    service_pid: int,
) -> Day:
    asyncio.run(fall_due(url, args.duration))
    cpu_before = tree_cpu(service_pid), asyncio.run(database_cpu(url))
    results: dict[str, Result] = {}
    threads = [
        threading.Thread(
            target=lambda c=caller: results.__setitem__(c.name, wrk(args, tmp, c, args.duration))
        )
        for caller in callers
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    lags = asyncio.run(watch(url, port, keys, args.people, args.duration, began))
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - began
    cpu_after = tree_cpu(service_pid), asyncio.run(database_cpu(url))
    return Day(
        results,
        lags[0],
        lags[1],
        cpu_after[0] - cpu_before[0],
        cpu_between(cpu_before[1], cpu_after[1]),
        seconds,
    )


async def watch(
    url: str, port: int, keys: AuthKeys, people: int, duration: float, began: float
) -> tuple[float, float | None]:
    """While the day runs: the oldest passed deadline not yet stored, sampled twice a
    second; and, a third of the way in, a high-risk listing of the area the last ARRIVED
    people came from (yellow by now, R6) and the time until all of them are stored red."""
    import aiohttp

    worst = 0.0
    listed_at: float | None = None
    listing_lag: float | None = None
    commission = {"Authorization": f"Bearer {keys.sign('commission', 'bench-commission')}"}
    conn = await asyncpg.connect(url)
    listing: asyncio.Task[None] | None = None
    try:
        async with aiohttp.ClientSession() as session:

            async def list_area() -> None:
                body = {"level": "high", "valid_from": "2020-01-01T00:00:00+08:00"}
                async with session.put(
                    f"http://127.0.0.1:{port}/v1/risk-areas/{LISTED_AREA}",
                    json=body,
                    headers=commission,
                ) as resp:
                    assert resp.status in (200, 202), await resp.text()

            while time.monotonic() - began < duration:
                oldest = await conn.fetchval(
                    "SELECT extract(epoch FROM now() - min(next_change_at)) FROM statuses "
                    "WHERE next_change_at <= now()"
                )
                worst = max(worst, float(oldest or 0))
                if listed_at is None and time.monotonic() - began > duration / 3:
                    listed_at = time.monotonic()
                    listing = asyncio.create_task(list_area())
                if listed_at is not None and listing_lag is None:
                    red = await conn.fetchval(
                        "SELECT count(*) FROM statuses WHERE person_id > $1 AND color = 'red'",
                        people - ARRIVED,
                    )
                    if red >= ARRIVED:
                        listing_lag = time.monotonic() - listed_at
                await asyncio.sleep(0.5)
            # A listing still being applied when the day ends is waited for (a minute).
            while listed_at is not None and listing_lag is None:
                if time.monotonic() - listed_at > 60:
                    break
                red = await conn.fetchval(
                    "SELECT count(*) FROM statuses WHERE person_id > $1 AND color = 'red'",
                    people - ARRIVED,
                )
                if red >= ARRIVED:
                    listing_lag = time.monotonic() - listed_at
                await asyncio.sleep(0.2)
            if listing is not None:
                await listing
    finally:
        await conn.close()
    return worst, listing_lag


async def arrivals_before(port: int, keys: AuthKeys, people: int) -> None:
    """ARRIVED people arrived from LISTED_AREA last week: the listing will reach them."""
    import aiohttp

    feeder = {"Authorization": f"Bearer {keys.sign('feeder', 'bench-arrivals')}"}
    week_ago = datetime.now(UTC) - timedelta(days=7)
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "kind": "travel.arrival",
            "occurred_at": week_ago.isoformat(),
            "person": {"person_ref": person_ref(i)},
            "data": {"area_code": LISTED_AREA, "source": "itinerary"},
        }
        for i in range(people - ARRIVED, people)
    ]
    async with aiohttp.ClientSession() as session:
        for start in range(0, len(events), 1000):
            async with session.post(
                f"http://127.0.0.1:{port}/v1/events",
                data=orjson.dumps({"events": events[start : start + 1000]}),
                headers=feeder,
            ) as resp:
                assert resp.status == 200, await resp.text()


async def fall_due(url: str, duration: float) -> None:
    """Deadlines that pass during the day, for 1% of people: the sweeper must store them."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """UPDATE statuses SET next_change_at = now() + random() * $1 * interval '1 second'
               WHERE person_id % 100 = 7""",
            float(duration),
        )
    finally:
        await conn.close()


def build_callers(
    args: argparse.Namespace, tmp: Path, url: str, env: dict[str, str], keys: AuthKeys, port: int
) -> list[Caller]:
    rng = random.Random(2022)
    people = args.people - ARRIVED  # the arrivals stay as the listing will find them
    refs = [person_ref(rng.randrange(people)) for _ in range(5000)]
    secrets_ = sealing.CodeSecrets(env["CODESVC_CODE_SECRET"].encode())

    async def codes() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            ring = KeyRing(secrets_, await keystore.load_keys(conn, secrets_))
            ids = await conn.fetch("SELECT person_id FROM persons ORDER BY random() LIMIT 20000")
        finally:
            await conn.close()
        now = datetime.now(UTC)
        return [ring.issue(r["person_id"], "green", now, now, 3600).code for r in ids]

    venues = [keys.sign("scanner", f"venue-{v}", ttl=7200) for v in range(2000)]
    scans = [
        f"POST\t/v1/scans\t{venues[n % len(venues)]}\t" + orjson.dumps({"code": c}).decode()
        for n, c in enumerate(asyncio.run(codes()))
    ]
    lab = keys.sign("feeder", "lab-city", ttl=7200)
    now = datetime.now(UTC)

    def batch(kind: str) -> str:
        events = []
        for _ in range(10):
            ref = person_ref(rng.randrange(people))
            data: dict[str, str] = (
                {"result": "negative", "lab_id": "lab-1", "sample_id": secrets.token_hex(6)}
                if kind == "test.result"
                else {"area_code": "510107", "source": "itinerary"}
            )
            events.append(
                {
                    "event_id": str(uuid.uuid4()),
                    "kind": kind,
                    "occurred_at": (now - timedelta(hours=rng.randrange(1, 48))).isoformat(),
                    "person": {"person_ref": ref},
                    "data": data,
                }
            )
        return f"POST\t/v1/events\t{lab}\t" + orjson.dumps({"events": events}).decode()

    pace = args.expect_scans / 1000
    lines = {
        "results": [batch("test.result") for _ in range(3000)],
        "arrivals": [batch("travel.arrival") for _ in range(1000)],
        "status": [f"GET\t/v1/me/status\t{keys.sign('citizen', ref, ttl=7200)}\t" for ref in refs],
        "staff": [
            f"GET\t/v1/persons/{ref}/status\t"
            f"{keys.sign('staff', 'officer-1', DISTRICTS[int(_index(ref)) % 16], ttl=7200)}\t"
            for ref in refs
        ],
        "appeals": [
            f"POST\t/v1/appeals\t{keys.sign('citizen', ref, ttl=7200)}\t"
            + orjson.dumps(
                {"category": "other", "description": "My code should be green: I was home."}
            ).decode()
            for ref in refs
        ],
    }
    callers = [Caller("scans", port, scans, args.scan_connections, 0)]
    for name, per_thousand in PER_THOUSAND_SCANS.items():
        rate = per_thousand * pace
        # Enough connections that a paced caller keeps its rate while answers queue
        # behind the doors (each connection waits for its answer, then its delay).
        callers.append(Caller(name, port, lines[name], max(2, round(rate * 0.25) + 1), rate))
    for caller in callers:
        print(f"{caller.name:10} {caller.connections:3} connections, aiming at "
              + (f"{caller.rate:,.1f}/s" if caller.rate else "as fast as answered"))  # fmt: skip
    script = tmp / "city.lua"
    script.write_text(WRK_SCRIPT)
    return callers


def _index(ref: str) -> int:
    """The i of person_ref(i), whose district is DISTRICTS[i % 16]."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    value = 0
    for char in reversed(ref[2:]):
        value = value * len(alphabet) + alphabet.index(char)
    return value


def bare_lines(tmp: Path) -> list[str]:
    return ["POST\t/bare\tnone\t" + orjson.dumps({"code": "x" * 300}).decode()]


def lookup_lines(tmp: Path) -> list[str]:
    return ["POST\t/lookup\tnone\t" + orjson.dumps({"code": "x" * 300}).decode()]


def wrk(args: argparse.Namespace, tmp: Path, caller: Caller, seconds: int) -> Result:
    script = tmp / "city.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    requests = tmp / f"requests-{caller.name}.tsv"
    requests.write_text("\n".join(caller.lines) + "\n")
    delay = caller.connections / caller.rate * 1000 if caller.rate else 0
    env = dict(os.environ, BENCH_REQUESTS=str(requests), BENCH_DELAY_MS=str(round(delay)))
    out = subprocess.run(
        [
            *("wrk", "-t1", f"-c{caller.connections}", f"-d{seconds}s", "--timeout", "10s"),
            *("-s", str(script), f"http://127.0.0.1:{caller.port}"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    count, duration_us, non_2xx, errors, p50, p99 = map(int, line.split()[1:7])
    return Result(
        caller.name, count / (duration_us / 1e6), p50 / 1000, p99 / 1000, count, non_2xx, errors
    )


async def copy_limit(url: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        return await copy_rate(conn, 100_000)
    finally:
        await conn.close()


def report(args: argparse.Namespace, day: Day, bare: Result, lookup: Result, copy: float) -> None:
    print()
    print(
        f"a compressed day: {args.people:,} people, {args.workers} server process(es) and a "
        f"worker, {day.seconds:.0f} s"
    )
    print(f"{'route':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}  beside")
    limit_of = {
        "scans": ("bare aiohttp", bare.rate),
        "status": ("bare aiohttp", bare.rate),
        "staff": ("pooled PK lookup", lookup.rate),
        "results": ("raw COPY rows", copy),
        "arrivals": ("raw COPY rows", copy),
        "appeals": ("pooled PK lookup", lookup.rate),
    }
    total = 0
    for name, r in day.results.items():
        label, limit = limit_of[name]
        items = r.rate * (10 if name in ("results", "arrivals") else 1)
        total += r.answered
        print(
            f"{name:10} {r.rate:9,.1f} {r.p50:8.2f} {r.p99:8.2f} {r.non_2xx:8}  "
            f"{items / limit:6.1%} of {label} ({limit:,.0f}/s)"
        )
    print(f"{'bare':10} {bare.rate:9,.0f} {bare.p50:8.2f} {bare.p99:8.2f}  "
          f"(the machine's limit, {args.workers} process(es))")  # fmt: skip
    print(f"{'lookup':10} {lookup.rate:9,.0f} {lookup.p50:8.2f} {lookup.p99:8.2f}  "
          "(one pooled primary-key lookup per request)")  # fmt: skip
    print(f"{'COPY':10} {copy:9,.0f} rows/s")
    print(f"stored-status lag: passed deadlines stored within {day.sweep_lag:.1f} s (worst)")
    if day.listing_lag is not None:
        print(
            f"listing of {LISTED_AREA} for {ARRIVED:,} arrivals stored in {day.listing_lag:.1f} s"
        )
    else:
        print("listing: not stored within a minute")
    cpu = day.service_cpu + day.database_cpu
    print(
        f"CPU: service {day.service_cpu:.1f} s + PostgreSQL {day.database_cpu:.1f} s for "
        f"{total:,} requests = {cpu / total * 1e6:.0f} us a request "
        f"(scans {day.results['scans'].answered / total:.0%} of them)"
    )
    per_core = total / cpu
    print(f"one core carries about {per_core:,.0f} requests/s of this mix")
    peak_scans = 50_000
    requests_at_peak = peak_scans / (day.results["scans"].answered / total)
    cores = requests_at_peak / per_core
    print(
        f"Shanghai's peak ({peak_scans:,} scans/s and the rest in proportion: "
        f"{requests_at_peak:,.0f} requests/s): {cores:,.0f} cores at full load; "
        f"{cores / 0.6 / 32:,.1f} machines of 32 cores kept at 60%"
    )


def serve_limits(port: int, url: str) -> int:
    """The machine's limits in one of N processes on the port: bare, and a PK lookup."""
    from aiohttp import web

    pool_key = web.AppKey("pool", asyncpg.Pool)
    people_key = web.AppKey("people", int)

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    async def lookup(request: web.Request) -> web.Response:
        await request.read()
        person_id = random.randint(1, request.app[people_key])
        async with request.app[pool_key].acquire() as conn:
            color = await conn.fetchval(
                "SELECT color FROM statuses WHERE person_id = $1", person_id
            )
        return web.Response(text=color)

    async def pool(app: web.Application) -> AsyncIterator[None]:
        app[pool_key] = await db.create_pool(url, Settings())
        async with app[pool_key].acquire() as conn:
            app[people_key] = await conn.fetchval("SELECT max(person_id) FROM persons")
        yield
        await app[pool_key].close()

    app = web.Application()
    app.router.add_get("/healthz", bare)
    app.router.add_post("/bare", bare)
    app.router.add_post("/lookup", lookup)
    app.cleanup_ctx.append(pool)
    web.run_app(app, port=port, access_log=None, print=None, reuse_port=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
