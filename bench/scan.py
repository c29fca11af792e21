"""Venue scans per second, beside what the machine can do at all.

    python bench/scan.py [--people 1000000] [--rounds 3] [--duration 10] [--loop uvloop]

Loads PEOPLE people with COPY into a fresh database (the embedded PostgreSQL in a temporary
directory, unless CODESVC_BENCH_DATABASE_URL names a server), starts the real service
(`codesvc serve`, one process), and drives ``POST /v1/scans`` with wrk (64 connections)
cycling through pre-issued codes of random people and the tokens of many venues. In the
same run, with the same wrk settings and one process, it measures a bare aiohttp endpoint
(``return web.Response(text="ok")``) and one doing a single pooled asyncpg primary-key
lookup per request, round after round, and prints medians and ratios. Finally it counts
the scan records and checks that every 200 answer wrk saw has one.

Codes are issued for an hour (CODESVC_CODE_TTL=3600) so that one set serves every round;
in service they live 60 s. Needs wrk: ``apt-get install wrk``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import (  # noqa: E402
    cpu_between,
    create_database,
    database_cpu,
    free_port,
    server_url,
    tree_cpu,
    wait_ready,
)

from codesvc import db  # noqa: E402
from codesvc.codes import keystore, sealing  # noqa: E402
from codesvc.codes.ring import KeyRing  # noqa: E402
from codesvc.identity import make_id_number  # noqa: E402
from codesvc.settings import Settings  # noqa: E402
from codesvc.tokens import AuthKeys  # noqa: E402

DISTRICTS = (
    "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
    "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151",
)  # fmt: skip
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文玉梅"
LATIN = ("John Smith", "Maria Garcia", "Ahmed Khan", "Anna Müller", "Kenji Sato")
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

WRK_SCRIPT = """
-- Requests are formatted once, in init: building each one in request() would cost wrk
-- more CPU than the bare endpoint costs the server.
local requests = {}
local i = 0
init = function(args)
  local bodies, tokens = {}, {}
  for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
  for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
  for n = 1, #bodies do
    local headers = {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer " .. tokens[n % #tokens + 1]}
    requests[n] = wrk.format("POST", os.getenv("BENCH_PATH"), headers, bodies[n])
  end
  i = math.random(#requests)
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Round:
    """One wrk run: answers per second, latency percentiles in ms, and what went wrong."""

    rate: float
    p50: float
    p99: float
    answered: int
    non_2xx: int
    socket_errors: int
    #: CPU microseconds per answer: the serving processes', and PostgreSQL's.
    server_us: float = 0.0
    database_us: float = 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--codes", type=int, default=50_000, help="pre-issued codes to cycle")
    parser.add_argument("--venues", type=int, default=2_000, help="venue tokens to cycle")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default="asyncio", help="CODESVC_EVENT_LOOP"
    )
    parser.add_argument("--group-ms", type=float, default=None, help="CODESVC_SCAN_GROUP_MS")
    parser.add_argument("--baseline", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        return serve_baseline(args.baseline, args.database, args.loop)
    if shutil.which("wrk") is None:
        print("bench/scan.py needs wrk, the HTTP load generator: apt-get install wrk")
        return 2
    with server_url() as url, tempfile.TemporaryDirectory(prefix="codesvc-scan-") as tmp:
        return run(args, url, Path(tmp))


def run(args: argparse.Namespace, server: str, tmp: Path) -> int:
    env = service_env(tmp, args)
    name = f"codesvc_scan_{secrets.token_hex(4)}"
    url = db.with_database(server, name)
    asyncio.run(create_database(server, name))
    started = time.perf_counter()
    asyncio.run(load_people(url, args.people, env["CODESVC_ID_SECRET"].encode()))
    print(f"loaded {args.people:,} people in {time.perf_counter() - started:.1f} s")
    env["CODESVC_DATABASE_URL"] = url
    port, base_port = free_port(), free_port()
    with (
        process(
            [sys.executable, "-m", "codesvc", "serve", "--port", str(port), "--workers", "1"],
            env,
            tmp,
        ) as service,
        process(
            [
                sys.executable,
                __file__,
                "--baseline",
                str(base_port),
                "--database",
                url,
                "--loop",
                args.loop,
            ],
            env,
            tmp,
        ) as baseline,
    ):
        wait_ready(port)
        wait_ready(base_port, "/healthz")
        bodies, tokens = write_inputs(tmp, url, env, args)
        targets = {"bare": (base_port, "/bare"), "lookup": (base_port, "/lookup")}
        targets["scans"] = (port, "/v1/scans")
        serving = {"bare": baseline.pid, "lookup": baseline.pid, "scans": service.pid}
        runs: dict[str, list[Round]] = {kind: [] for kind in targets}
        warm_up = [wrk(args, p, path, bodies, tokens, 2) for p, path in targets.values()]
        ok_answers = warm_up[-1].answered - warm_up[-1].non_2xx
        for number in range(1, args.rounds + 1):
            for kind, (p, path) in targets.items():
                cpu_before = tree_cpu(serving[kind]), asyncio.run(database_cpu(url))
                result = wrk(args, p, path, bodies, tokens, args.duration)
                cpu_after = tree_cpu(serving[kind]), asyncio.run(database_cpu(url))
                answers = max(1, result.answered)
                result = dataclasses.replace(
                    result,
                    server_us=(cpu_after[0] - cpu_before[0]) / answers * 1e6,
                    database_us=cpu_between(cpu_before[1], cpu_after[1]) / answers * 1e6,
                )
                runs[kind].append(result)
                print(
                    f"round {number} {kind:6} {result.rate:9,.0f}/s  p50 {result.p50:6.2f} ms  "
                    f"p99 {result.p99:6.2f} ms  cpu/answer {result.server_us:5.0f} us "
                    f"+ db {result.database_us:4.0f} us  non-2xx {result.non_2xx}  "
                    f"socket errors {result.socket_errors}",
                    flush=True,
                )
        ok_answers += sum(r.answered - r.non_2xx for r in runs["scans"])
    return report(args, runs, ok_answers, asyncio.run(count_scans(url)))


def report(args: argparse.Namespace, runs: dict[str, list[Round]], ok: int, recorded: int) -> int:
    median = {
        kind: Round(
            statistics.median(r.rate for r in rounds),
            statistics.median(r.p50 for r in rounds),
            statistics.median(r.p99 for r in rounds),
            sum(r.answered for r in rounds),
            sum(r.non_2xx for r in rounds),
            sum(r.socket_errors for r in rounds),
            statistics.median(r.server_us for r in rounds),
            statistics.median(r.database_us for r in rounds),
        )
        for kind, rounds in runs.items()
    }
    bare, lookup, scans = median["bare"], median["lookup"], median["scans"]
    print()
    print(
        f"{args.people:,} people, {args.connections} connections, wrk -t{args.threads}, "
        f"{args.rounds} rounds of {args.duration} s, one server process, {args.loop}"
    )
    print(
        f"{'endpoint':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} "
        f"{'cpu us':>7} {'db us':>6}"
    )
    for label, m in (
        ("bare aiohttp", bare),
        ("one pooled PK lookup", lookup),
        ("POST /v1/scans (recorded)", scans),
    ):
        print(
            f"{label:28} {m.rate:9,.0f} {m.p50:8.2f} {m.p99:8.2f} {m.rate / bare.rate:8.0%} "
            f"{m.server_us:7.0f} {m.database_us:6.0f}"
        )
    # CPU per answer hardly depends on what else the machine runs: the ratio a quiet
    # machine would give when the serving process is what limits.
    print(
        f"serving-process CPU per answer, bare / scans: {bare.server_us / scans.server_us:.2f} "
        f"(scans also cost PostgreSQL {scans.database_us:.0f} us each)"
    )
    ratio = scans.rate / bare.rate
    print(f"scans / lookup endpoint: {scans.rate / lookup.rate:.2f}x")
    # wrk counts an answer only when it arrived: when it stops, a request per connection
    # may have been recorded and not yet answered.
    in_flight = recorded - ok
    durable = 0 <= in_flight <= args.connections * (args.rounds + 1)
    print(
        f"durability: {recorded:,} scan records for {ok:,} answers of 200 "
        f"(difference {in_flight}: "
        f"{'answers still in flight when wrk stopped' if durable else 'RECORDS MISSING'})"
    )
    goal = ratio >= 0.5 and scans.p99 < 25
    print(
        f"goal (scans >= 50% of bare, p99 < 25 ms): {'met' if goal else 'NOT met'} "
        f"({ratio:.0%}, p99 {scans.p99:.1f} ms)"
    )
    return 0 if durable and scans.non_2xx == 0 else 1


def wrk(
    args: argparse.Namespace, port: int, path: str, bodies: Path, tokens: Path, seconds: int
) -> Round:
    script = bodies.parent / "scan.lua"
    script.write_text(WRK_SCRIPT)
    env = dict(os.environ, BENCH_BODIES=str(bodies), BENCH_TOKENS=str(tokens), BENCH_PATH=path)
    out = subprocess.run(
        [
            *("wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"),
            *("--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{port}"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    requests, duration_us, non_2xx, socket_errors, p50, p99, *_ = map(int, line.split()[1:])
    return Round(
        requests / (duration_us / 1e6), p50 / 1000, p99 / 1000, requests, non_2xx, socket_errors
    )


def service_env(tmp: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
    env.update(
        CODESVC_HOME=str(tmp / "home"),
        CODESVC_AUTH_SECRET=secrets.token_hex(32),
        CODESVC_ID_SECRET=secrets.token_hex(32),
        CODESVC_CODE_SECRET=secrets.token_hex(32),
        # One set of codes serves every round; in service a code lives 60 s.
        CODESVC_CODE_TTL="3600",
        CODESVC_EVENT_LOOP=args.loop,
        CODESVC_LOG_LEVEL="WARNING",
        CODESVC_SQL_DIR=str(ROOT / "sql"),
    )
    if args.group_ms is not None:
        env["CODESVC_SCAN_GROUP_MS"] = str(args.group_ms)
    return env


def person_ref(i: int) -> str:
    chars = []
    for _ in range(12):
        i, digit = divmod(i, len(_REF_ALPHABET))
        chars.append(_REF_ALPHABET[digit])
    return "p_" + "".join(chars)


def name_of(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return rng.choice(LATIN)
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))


async def load_people(url: str, people: int, id_secret: bytes) -> None:
    """COPY ``people`` registrations, then give each the status of a fresh registration."""
    rng = random.Random(7)
    registered = datetime.now(UTC) - timedelta(days=30)
    first_birth = date(1950, 1, 1)
    conn = await asyncpg.connect(url)
    try:
        chunk = 100_000
        for start in range(0, people, chunk):
            rows = []
            for i in range(start, min(start + chunk, people)):
                district = DISTRICTS[i % len(DISTRICTS)]
                n = i // len(DISTRICTS)
                number = make_id_number(district, first_birth + timedelta(days=n // 1000), n % 1000)
                digest = hmac.new(id_secret, number.encode(), hashlib.sha256).digest()
                rows.append((person_ref(i), digest, name_of(rng), district, registered))
            await conn.copy_records_to_table(
                "persons",
                records=rows,
                columns=["person_ref", "id_hash", "name", "district", "registered_at"],
            )
        await conn.execute(
            """INSERT INTO statuses (person_id, color, since, updated_at)
               SELECT person_id, 'green', registered_at, registered_at FROM persons"""
        )
        await conn.execute("VACUUM ANALYZE persons")
        await conn.execute("VACUUM ANALYZE statuses")
    finally:
        await conn.close()


def write_inputs(
    tmp: Path, url: str, env: dict[str, str], args: argparse.Namespace
) -> tuple[Path, Path]:
    """Codes of random people signed by the service's own key, and venue scanner tokens."""
    secrets_ = sealing.CodeSecrets(env["CODESVC_CODE_SECRET"].encode())

    async def issue() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            ring = KeyRing(secrets_, await keystore.load_keys(conn, secrets_))
            ids = await conn.fetch(
                "SELECT person_id FROM persons ORDER BY random() LIMIT $1", args.codes
            )
        finally:
            await conn.close()
        now = datetime.now(UTC)
        return [ring.issue(r["person_id"], "green", now, now, 3600).code for r in ids]

    bodies = tmp / "bodies.txt"
    bodies.write_text(
        "".join(orjson.dumps({"code": c}).decode() + "\n" for c in asyncio.run(issue()))
    )
    keys = AuthKeys.from_settings(Settings(auth_secret=env["CODESVC_AUTH_SECRET"]))
    tokens = tmp / "tokens.txt"
    tokens.write_text(
        "".join(keys.sign("scanner", f"venue-{v}", ttl=7200) + "\n" for v in range(args.venues))
    )
    return bodies, tokens


async def count_scans(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM scans"))
    finally:
        await conn.close()


@contextlib.contextmanager
def process(
    command: list[str], env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    log = open(cwd / f"process-{len(command)}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def serve_baseline(port: int, url: str, loop_name: str) -> int:
    """The machine's limits: a bare handler, and one pooled primary-key lookup per request."""
    from aiohttp import web

    POOL = web.AppKey("pool", asyncpg.Pool)
    PEOPLE = web.AppKey("people", int)

    async def bare(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def lookup(request: web.Request) -> web.Response:
        person_id = random.randint(1, request.app[PEOPLE])
        async with request.app[POOL].acquire() as conn:
            color = await conn.fetchval(
                "SELECT color FROM statuses WHERE person_id = $1", person_id
            )
        return web.Response(text=color)

    async def pool(app: web.Application) -> AsyncIterator[None]:
        # The service's own pool settings (no reset round trip on release).
        app[POOL] = await db.create_pool(url, Settings())
        async with app[POOL].acquire() as conn:
            app[PEOPLE] = await conn.fetchval("SELECT max(person_id) FROM persons")
        yield
        await app[POOL].close()

    app = web.Application()
    app.router.add_get("/healthz", bare)
    app.router.add_post("/bare", bare)
    app.router.add_post("/lookup", lookup)
    app.cleanup_ctx.append(pool)
    loop = None
    if loop_name == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(app, port=port, access_log=None, print=None, loop=loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
