"""What an audit checkpoint costs: sign the head, fsync a line, insert a row.

Prints the median time of one checkpoint beside the machine's own limits measured in
the same run (a raw committed one-row INSERT, an fsynced append of one line), the checkpoint's
share of its interval, and what `codesvc verify` spends per checkpoint. Run:

    .venv/bin/python bench/checkpoint.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import create_database, drop_database, server_url

from codesvc import db
from codesvc.audit_chain import AuditEntry, chain
from codesvc.service import checkpoints
from codesvc.settings import Settings

ROUNDS = 200
INTERVAL = Settings().checkpoint_interval


async def grow(conn: object, seq: int, prev: str) -> tuple[int, str]:
    """Append one entry straight to the chain, as the service would."""
    entry = AuditEntry(seq + 1, datetime.now(UTC), "commission", "bench", "bench", None, None)
    [link] = chain([entry], prev)
    await conn.execute(  # type: ignore[attr-defined]
        """INSERT INTO audit_log (seq, at, actor_role, actor_sub, action, person_ref, subject,
                                  detail, prev_hash, hash)
           VALUES ($1, $2, 'commission', 'bench', 'bench', NULL, NULL, '{}', $3, $4)""",
        entry.seq,
        entry.at,
        link.prev_hash,
        link.hash,
    )
    return entry.seq, link.hash


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def run(url: str, home: Path) -> None:
    settings = Settings(home=home)
    key = checkpoints.signing_key(checkpoints.key_path(settings))
    path = checkpoints.file_path(settings)
    async with db.connect(url) as conn:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("CREATE TABLE raw_rows (n bigint PRIMARY KEY, t text)")
        seq, prev = 0, "0" * 64
        cost, query, append = [], [], []
        for _ in range(ROUNDS):
            seq, prev = await grow(conn, seq, prev)
            started = time.perf_counter()
            assert await checkpoints.checkpoint_once(conn, key, path, datetime.now(UTC))
            cost.append(time.perf_counter() - started)
            started = time.perf_counter()
            await conn.execute("INSERT INTO raw_rows VALUES ($1, $2)", seq, prev)
            query.append(time.perf_counter() - started)
            started = time.perf_counter()
            fd = os.open(home / "raw.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.write(fd, b"x" * 200 + b"\n")
            os.fsync(fd)
            os.close(fd)
            append.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = await checkpoints.check(conn, settings)
        verified = time.perf_counter() - started
        assert not report.problems, report.problems
    one = median_ms(cost)
    limit = median_ms(query) + median_ms(append)
    print(f"checkpoint (sign + fsynced line + row), median of {ROUNDS}: {one:.2f} ms")
    print(f"  raw one-row INSERT {median_ms(query):.2f} ms + fsynced 200-byte append "
          f"{median_ms(append):.2f} ms = {limit:.2f} ms; ratio {one / limit:.2f}")  # fmt: skip
    print(f"  share of a {INTERVAL:.0f} s interval: {one / 1000 / INTERVAL:.6%}")
    size = path.stat().st_size / ROUNDS
    print(f"  file: {size:.0f} bytes a checkpoint, {size * 86400 / INTERVAL / 1024:.0f} KiB a day")
    print(f"verify against {report.checked} checkpoints: {verified * 1000:.1f} ms")


async def main() -> None:
    with server_url() as server, tempfile.TemporaryDirectory(prefix="codesvc-ckpt-") as tmp:
        name = f"codesvc_bench_ckpt_{os.getpid()}"
        url = await create_database(server, name)
        try:
            await run(url, Path(tmp))
        finally:
            await drop_database(server, name)


if __name__ == "__main__":
    asyncio.run(main())
