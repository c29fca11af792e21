"""Several processes: ``serve --workers`` on one port, the worker, limits held across them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import psutil

from codesvc.settings import Settings
from codesvc.state.explain import CITY_ZONE
from codesvc.tokens import AuthKeys
from tests.builders import id_number
from tests.processes import clean_env, codesvc_serve

SECRET = "processes-test-secret-" + "x" * 20


def _env(db_url: str, tmp_path, **more: str) -> dict[str, str]:
    return clean_env(
        CODESVC_DATABASE_URL=db_url,
        CODESVC_HOME=str(tmp_path / "home"),
        CODESVC_AUTH_SECRET=SECRET,
        CODESVC_LOG_LEVEL="INFO",
        CODESVC_SHUTDOWN_TIMEOUT="5",
        **more,
    )


def _auth(role: str, sub: str) -> dict[str, str]:
    keys = AuthKeys.from_settings(Settings(auth_secret=SECRET))
    return {"Authorization": f"Bearer {keys.sign(role, sub)}"}


async def test_serve_with_workers_answers_from_several_processes_and_stops_cleanly(
    db_url, tmp_path
):
    env = _env(db_url, tmp_path)
    async with codesvc_serve(env, tmp_path, capture=True, workers=2) as served:
        parent = psutil.Process(served.process.pid)
        children = parent.children()
        commands = [" ".join(child.cmdline()) for child in children]
        assert sum(c.endswith("codesvc worker") for c in commands) == 1, commands
        servers = {
            child.pid
            for child, c in zip(children, commands, strict=True)
            if not c.endswith("codesvc worker")
        }
        assert len(servers) == 2, commands

        # New connections spread over the processes listening on the one port.
        answered_by: set[int] = set()
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(20):
                replies = await asyncio.gather(
                    *(session.get(served.base + "/healthz") for _ in range(10))
                )
                for reply in replies:
                    assert reply.status == 200
                    answered_by.add((await reply.json())["pid"])
                    reply.release()
                if answered_by == servers:
                    break
        assert answered_by == servers

        served.process.send_signal(signal.SIGTERM)
        raw, _ = await asyncio.wait_for(served.process.communicate(), 60)
    output = raw.decode()
    assert served.process.returncode == 0, output
    assert '"stopped"' in output or "stopped" in output
    for pid in [*servers, *(c.pid for c in children)]:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


async def test_the_worker_process_moves_statuses_whose_deadline_passed(db_url, tmp_path):
    """No request comes: the worker alone stores the change that time made."""
    env = _env(db_url, tmp_path, CODESVC_SWEEP_INTERVAL="0.2")
    async with codesvc_serve(env, tmp_path, workers=1) as served:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                served.base + "/v1/persons",
                json={"id_number": id_number(), "name": "王五", "district": "310101"},
                headers=_auth("feeder", "registry"),
            ) as resp,
        ):
            assert resp.status in (200, 201)
            ref = (await resp.json())["person_ref"]
        conn = await asyncpg.connect(db_url)
        try:
            # A deadline that has just passed, as a landing window ending would leave it.
            person_id = await conn.fetchval(
                "SELECT person_id FROM persons WHERE person_ref = $1", ref
            )
            await conn.execute(
                "UPDATE statuses SET next_change_at = $2 WHERE person_id = $1",
                person_id,
                datetime.now(UTC) - timedelta(seconds=1),
            )
            for _ in range(300):
                due = await conn.fetchval(
                    "SELECT next_change_at FROM statuses WHERE person_id = $1", person_id
                )
                if due is None:
                    break
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
    assert due is None, "the worker did not sweep the passed deadline"


async def test_a_venues_id_card_limit_holds_across_two_server_instances(db_url, tmp_path):
    """Two instances (each its own process) on one database: the limit is the venue's, not
    each instance's. One id-card scan a minute, a burst of one: of six scans sent
    alternately to both, exactly one is answered."""
    env = _env(db_url, tmp_path, CODESVC_ID_SCAN_RATE="1")
    async with (
        codesvc_serve(env, tmp_path, workers=1) as one,
        codesvc_serve(env, tmp_path, workers=1) as two,
        aiohttp.ClientSession() as session,
    ):
        number = id_number()
        async with session.post(
            one.base + "/v1/persons",
            json={"id_number": number, "name": "赵六", "district": "310101"},
            headers=_auth("feeder", "registry"),
        ) as resp:
            assert resp.status in (200, 201)
        statuses = []
        retry_after = []
        for n in range(6):
            base = (one, two)[n % 2].base
            async with session.post(
                base + "/v1/scans", json={"id_number": number}, headers=_auth("scanner", "gate-7")
            ) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    retry_after.append(int(resp.headers["Retry-After"]))
        # Another venue is not held back by gate-7's limit.
        async with session.post(
            two.base + "/v1/scans", json={"id_number": number}, headers=_auth("scanner", "gate-8")
        ) as resp:
            other = resp.status
    assert statuses.count(200) == 1, statuses
    assert statuses.count(429) == 5, statuses
    assert all(seconds >= 1 for seconds in retry_after)
    assert other == 200


async def test_metrics_count_the_requests_of_every_server_process(db_url, tmp_path):
    env = _env(db_url, tmp_path)
    async with codesvc_serve(env, tmp_path, workers=2) as served:
        pids: set[int] = set()
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            sent = 0
            while len(pids) < 2 and sent < 400:
                async with session.get(served.base + "/healthz") as resp:
                    pids.add((await resp.json())["pid"])
                sent += 1
            assert len(pids) == 2
            # Each process leaves its figures every second; the scraped one adds its own.
            counted = 0.0
            for _ in range(50):
                async with session.get(served.base + "/metrics") as resp:
                    text = await resp.text()
                counted = sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith("codesvc_http_requests_total{")
                    and 'route="/healthz"' in line
                    and 'status="200"' in line
                )
                if counted >= sent:
                    break
                await asyncio.sleep(0.2)
    assert counted == sent


async def test_worker_command_runs_the_background_work_alone(db_url, tmp_path):
    """`codesvc worker` on its own makes the partitions ahead and stops on SIGTERM."""
    env = _env(db_url, tmp_path)
    conn = await asyncpg.connect(db_url)
    try:
        ahead = (datetime.now(UTC) + timedelta(days=3)).astimezone(CITY_ZONE)
        name = f"scans_p{ahead:%Y%m%d}"
        await conn.execute(f"DROP TABLE IF EXISTS {name}")
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "codesvc", "worker"),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stderr is not None
            while True:
                line = await process.stderr.readline()
                assert line, "codesvc worker exited before its background work ran"
                if b"background work running" in line:
                    break
            made = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.stderr.read(), 30)
            code = await asyncio.wait_for(process.wait(), 30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    finally:
        await conn.close()
    assert made
    assert code == 0


def test_each_server_process_collects_garbage_less_often_once_started(tmp_path):
    """gunicorn's hook after a server process has loaded the app freezes what start-up
    built and raises the collector's thresholds (a fifth of a batch's CPU went there)."""
    import subprocess

    from codesvc.serving import GC_THRESHOLDS

    script = (
        "import gc\n"
        "from codesvc.serving import BackgroundProcess, Deployment\n"
        "from codesvc.settings import Settings\n"
        "d = Deployment(Settings(), 1, BackgroundProcess({}))\n"
        "print(gc.get_threshold(), gc.get_freeze_count() > 0)\n"
        "d.cfg.post_worker_init(None)\n"
        "print(gc.get_threshold(), gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.splitlines()
    assert out == ["(700, 10, 10) False", f"{GC_THRESHOLDS} True"]
