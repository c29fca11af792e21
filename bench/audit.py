"""Audited staff reads per second, beside a raw pooled query of the same read.

    python bench/audit.py [--people 50000] [--workers N] [--rounds 3] [--duration 8]

Loads PEOPLE people, starts the real service (N server processes and the worker), and has
district officers read their people's status (``GET /v1/persons/{ref}/status``: each read
appends an entry to the hash-chained audit log before the status leaves) with wrk, 64
connections. In the same run it measures the same status read by citizens themselves
(``GET /v1/me/status``: not audited) and, in as many processes, one pooled asyncpg
primary-key lookup of a status per request.
Afterwards it checks that the chain verifies and that every answered read has its entry.

Needs wrk (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from city import Caller, Result, lookup_lines, wrk  # noqa: E402
from harness import create_database, free_port, server_url, wait_ready  # noqa: E402
from scan import DISTRICTS, load_people, person_ref, process, service_env  # noqa: E402

from codesvc import db  # noqa: E402
from codesvc.service.audit_log import verify_audit  # noqa: E402
from codesvc.settings import Settings  # noqa: E402
from codesvc.tokens import AuthKeys  # noqa: E402

SERVE = (sys.executable, "-m", "codesvc", "serve")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/audit.py needs wrk, the HTTP load generator: apt-get install wrk")
        return 2
    with server_url() as server, tempfile.TemporaryDirectory(prefix="codesvc-audit-") as tmp:
        return run(args, server, Path(tmp))


def run(args: argparse.Namespace, server: str, tmp: Path) -> int:
    env = service_env(tmp, argparse.Namespace(loop="asyncio", group_ms=None))
    name = f"codesvc_audit_{secrets.token_hex(4)}"
    url = db.with_database(server, name)
    asyncio.run(create_database(server, name))
    started = time.perf_counter()
    asyncio.run(load_people(url, args.people, env["CODESVC_ID_SECRET"].encode()))
    print(f"loaded {args.people:,} people in {time.perf_counter() - started:.1f} s", flush=True)
    env["CODESVC_DATABASE_URL"] = url
    keys = AuthKeys.from_settings(Settings(auth_secret=env["CODESVC_AUTH_SECRET"]))
    rng = random.Random(9)
    reads, own = [], []
    # An officer signs in once and works with one token; each citizen holds their own.
    officers: dict[tuple[int, int], str] = {}
    for _ in range(20_000):
        i = rng.randrange(args.people)
        desk = (i % 50, i % 16)
        if desk not in officers:
            officers[desk] = keys.sign("staff", f"officer-{desk[0]}", DISTRICTS[desk[1]], ttl=7200)
        officer = officers[desk]
        reads.append(f"GET\t/v1/persons/{person_ref(i)}/status\t{officer}\t")
        citizen = keys.sign("citizen", person_ref(i), ttl=7200)
        own.append(f"GET\t/v1/me/status\t{citizen}\t")
    port, limits_port = free_port(), free_port()
    city = str(Path(__file__).with_name("city.py"))
    runs: dict[str, list[Result]] = {"audited": [], "unaudited": [], "raw": []}
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            process(
                [*SERVE, "--port", str(port), "--workers", str(args.workers)],
                env,
                tmp,
            )
        )
        for _ in range(args.workers):
            stack.enter_context(
                process(
                    [sys.executable, city, "--bare", str(limits_port), "--database", url],
                    env,
                    tmp,
                )
            )
        wait_ready(port)
        wait_ready(limits_port, "/healthz")
        callers = {
            "audited": Caller("audited", port, reads, args.connections, 0),
            # The same status read by the person themself: no audit entry, no district check.
            "unaudited": Caller("unaudited", port, own, args.connections, 0),
            "raw": Caller("raw", limits_port, lookup_lines(tmp), args.connections, 0),
        }
        wrk(args, tmp, callers["audited"], 2)  # warm up
        for number in range(1, args.rounds + 1):
            for kind, caller in callers.items():
                result = wrk(args, tmp, caller, args.duration)
                runs[kind].append(result)
                print(
                    f"round {number} {kind:8} {result.rate:8,.0f}/s  p50 {result.p50:6.2f} ms"
                    f"  p99 {result.p99:7.2f} ms  non-2xx {result.non_2xx}",
                    flush=True,
                )
    entries, problems = asyncio.run(check_chain(url))
    audited = statistics.median(r.rate for r in runs["audited"])
    raw = statistics.median(r.rate for r in runs["raw"])
    unaudited = statistics.median(r.rate for r in runs["unaudited"])
    p99 = statistics.median(r.p99 for r in runs["audited"])
    answered = sum(r.answered - r.non_2xx for r in runs["audited"])
    print()
    print(f"{args.people:,} people, {args.workers} server process(es), {args.connections} "
          f"connections, {args.rounds} rounds of {args.duration} s")  # fmt: skip
    print(
        f"audited staff reads   {audited:8,.0f}/s  p99 {p99:6.1f} ms  {audited / raw:6.1%} of raw"
    )
    print(f"the same read, own  {unaudited:8,.0f}/s  (a citizen's status: not audited)")
    print(f"raw pooled lookup   {raw:8,.0f}/s")
    print(f"audited / unaudited: {audited / unaudited:.2f}")
    print(
        f"audit chain: {entries:,} entries for at least {answered:,} answered reads; "
        + ("verifies" if not problems else f"{len(problems)} PROBLEMS: {problems[:3]}")
    )
    goal = audited >= 2000
    print(f"goal (>= 2,000 audited reads/s): {'met' if goal else 'NOT met'}")
    return 0 if not problems and entries >= answered else 1


async def check_chain(url: str) -> tuple[int, list[str]]:
    conn = await asyncpg.connect(url)
    try:
        await db.init_connection(conn)
        problems = await verify_audit(conn)
        entries = await conn.fetchval("SELECT count(*) FROM audit_log")
        return int(entries), problems
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


if __name__ == "__main__":
    sys.exit(main())
