"""What every benchmark needs: a PostgreSQL to measure against, fresh databases, free ports."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codesvc import db  # noqa: E402

#: The columns of an ``events`` row, as a benchmark COPYs them.
EVENT_COLUMNS = [
    "event_id",
    "person_id",
    "kind",
    "occurred_at",
    "data",
    "digest",
    "sender",
    "received_at",
]


@contextlib.contextmanager
def server_url() -> Iterator[str]:
    """CODESVC_BENCH_DATABASE_URL, or an embedded PostgreSQL in a temporary directory."""
    configured = os.environ.get("CODESVC_BENCH_DATABASE_URL")
    if configured:
        yield configured
        return
    with (
        tempfile.TemporaryDirectory(prefix="codesvc-bench-") as tmp,
        db.embedded_server(Path(tmp)) as url,
    ):
        yield url


async def create_database(server: str, name: str) -> str:
    """A new database on ``server`` with every migration applied; returns its URL."""
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = db.with_database(server, name)
    async with db.connect(url) as conn:
        await db.migrate(conn, ROOT / "sql")
    return url


async def drop_database(server: str, name: str) -> None:
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its living descendants."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


async def database_cpu(url: str) -> dict[int, float]:
    """CPU seconds used so far by each server process serving ``url``'s database."""
    import psutil

    conn = await asyncpg.connect(url)
    try:
        pids = [
            r["pid"]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            )
        ]
    finally:
        await conn.close()
    used = {}
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = psutil.Process(pid).cpu_times()
            used[pid] = times.user + times.system
    return used


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two ``database_cpu`` readings."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


async def copy_rate(conn: asyncpg.Connection, rows: int) -> float:
    """Rows per second of a raw COPY of event-shaped rows: the database's own limit."""
    await conn.execute("DROP TABLE IF EXISTS copy_bench")
    await conn.execute("CREATE TABLE copy_bench (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES)")
    now = datetime.now(UTC)
    records = [
        (
            uuid.uuid4(),
            None,
            "test.result",
            now,
            orjson.dumps(
                {"result": "negative", "lab_id": "lab-1", "sample_id": secrets.token_hex(6)}
            ).decode(),
            hashlib.sha256(str(i).encode()).digest(),
            "feeder:bench",
            now,
        )
        for i in range(rows)
    ]
    started = time.perf_counter()
    await conn.copy_records_to_table(
        "copy_bench",
        records=records,
        columns=EVENT_COLUMNS,
    )
    elapsed = time.perf_counter() - started
    await conn.execute("DROP TABLE copy_bench")
    return rows / elapsed


def wait_ready(port: int, path: str = "/readyz", timeout: float = 120) -> None:
    """Return once the service on ``port`` answers ``path`` with 200; give up after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing answered on port {port} within {timeout} s")
        time.sleep(0.2)
