"""How long the console takes to show a district's queue of 5,000 open appeals.

    python bench/console_queue.py [--appeals 5000] [--rounds 7]

Loads APPEALS open appeals of Huangpu (310101) into a fresh database (the embedded
PostgreSQL in a temporary directory, unless CODESVC_BENCH_DATABASE_URL names a server),
serves the real application, signs a Huangpu officer in, and in the system's Chromium
measures from navigating to /staff until the queue shows its first 100 rows (the most
urgent). In the same run it measures the machine's own limits: the index page (a static
page, no API call) in the same browser, a bare aiohttp endpoint, and the queue's SQL
alone as a raw asyncpg query; it prints medians and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import create_database, drop_database, free_port, server_url  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from codesvc import db  # noqa: E402
from codesvc.api.app import create_app  # noqa: E402
from codesvc.api.secrets import totp_seal  # noqa: E402
from codesvc.service import accounts  # noqa: E402
from codesvc.service.appeals.reading import QueueQuery, queue_statement  # noqa: E402
from codesvc.settings import Settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench password 1234"
SHOWN = 100


async def load(url: str, count: int) -> None:
    """COUNT people of Huangpu, each with an open appeal filed over the last two days."""
    async with db.connect(url) as conn:
        await conn.execute(
            """INSERT INTO persons (person_ref, id_hash, name, district, registered_at)
               SELECT 'p_B' || lpad(i::text, 11, '0'), sha256(i::text::bytea), '张三',
                      '310101', now() - interval '30 days'
               FROM generate_series(1, $1) i""",
            count,
        )
        await conn.execute(
            """INSERT INTO appeals (appeal_id, person_id, district, category, description,
                                    status, filed_at, due_at)
               SELECT 'a_' || lpad(p.person_id::text, 12, '0'), p.person_id, '310101',
                      'wrong_travel_record', '我那天不在那里。', 'submitted',
                      now() - (p.person_id % 2880) * interval '1 minute',
                      now() - (p.person_id % 2880) * interval '1 minute' + interval '24 hours'
               FROM persons p""",
        )
        await conn.execute("ANALYZE")  # as autovacuum would have, long before a busy morning


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def main(appeals: int, rounds: int) -> None:
    with server_url() as server:
        name = f"codesvc_bench_console_{secrets.token_hex(3)}"
        url = await create_database(server, name)
        try:
            await load(url, appeals)
            await run(url, appeals, rounds)
        finally:
            await drop_database(server, name)


async def run(url: str, appeals: int, rounds: int) -> None:
    home = Path(f"/tmp/codesvc-bench-console-{secrets.token_hex(3)}")
    settings = Settings(database_url=url, home=home, log_level="WARNING", log_format="text")
    async with db.connect(url) as conn:
        await accounts.add(
            conn,
            sub="huangpu-wang",
            role="staff",
            district="310101",
            name="王伟",
            password=PASSWORD,
            totp=False,
            seal=totp_seal(settings),
            now=datetime.now(UTC),
        )
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    bare = web.Application()
    bare.router.add_get("/ok", lambda request: web.Response(text="ok"))
    bare_runner = web.AppRunner(bare, access_log=None)
    await bare_runner.setup()
    bare_port = free_port()
    await web.TCPSite(bare_runner, "127.0.0.1", bare_port).start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            signed = await context.request.post(
                f"{base}/v1/session", data={"sub": "huangpu-wang", "password": PASSWORD}
            )
            assert signed.ok, await signed.text()
            page = await context.new_page()
            queue_page: list[float] = []
            index_page: list[float] = []
            for _ in range(rounds):
                started = time.perf_counter()
                await page.goto(f"{base}/staff")
                await page.wait_for_selector(f"#queue tbody tr:nth-child({SHOWN})")
                queue_page.append(time.perf_counter() - started)
                figures = await page.locator("#queue-figures").text_content()
                started = time.perf_counter()
                await page.goto(f"{base}/")
                await page.wait_for_selector("a[href='/citizen']")
                index_page.append(time.perf_counter() - started)
            api: list[float] = []
            bare_calls: list[float] = []
            for _ in range(rounds * 3):
                started = time.perf_counter()
                answer = await context.request.get(f"{base}/v1/appeals?limit={SHOWN}")
                assert answer.ok
                api.append(time.perf_counter() - started)
            async with aiohttp.ClientSession() as session:
                for _ in range(rounds * 3):
                    started = time.perf_counter()
                    async with session.get(f"http://127.0.0.1:{bare_port}/ok") as resp:
                        await resp.read()
                    bare_calls.append(time.perf_counter() - started)
            await browser.close()
        raw: list[float] = []
        # The very statement the service sends for the officer's first page.
        sql, args = queue_statement(QueueQuery(limit=SHOWN), "310101", datetime.now(UTC))
        conn = await asyncpg.connect(url)
        try:
            for _ in range(rounds * 3):
                started = time.perf_counter()
                await conn.fetch(sql, *args)
                raw.append(time.perf_counter() - started)
        finally:
            await conn.close()
    finally:
        await runner.cleanup()
        await bare_runner.cleanup()
    q, i = median_ms(queue_page), median_ms(index_page)
    a, b, r = median_ms(api), median_ms(bare_calls), median_ms(raw)
    print(f"{appeals} open appeals in Huangpu; the page shows the {SHOWN} most urgent")
    print(f"  ({(figures or '').strip()})")
    print(f"queue page, navigation to {SHOWN} rows shown: median {q:.0f} ms over {rounds}")
    print(f"  index page in the same browser:             median {i:.0f} ms  (ratio {q / i:.1f}x)")
    print(f"queue API, GET /v1/appeals?limit={SHOWN}:       median {a:.1f} ms")
    print(f"  bare aiohttp endpoint:                      median {b:.1f} ms  (ratio {a / b:.1f}x)")
    print(f"  the queue's SQL alone (raw asyncpg):        median {r:.1f} ms  (ratio {a / r:.1f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appeals", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.appeals, args.rounds))
