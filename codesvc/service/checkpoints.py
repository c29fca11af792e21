"""Audit checkpoints: sign the chain's head, keep it outside the database, check against it.

The head is read from the latest entry, however entries are appended, and signed with
an Ed25519 key kept in a file the database never sees. Each checkpoint is appended to a
JSON-lines file (fsynced) and to ``audit_checkpoints``. `codesvc verify` then compares the
chain with every checkpoint: a chain rewritten end to end with fresh hashes still differs
from what was signed before the rewrite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from codesvc.audit_chain import (
    Checkpoint,
    checkpoint_line,
    parse_checkpoint_line,
    sign_checkpoint,
    verify_checkpoints,
)
from codesvc.db import distrust
from codesvc.settings import ConfigError, Settings

log = logging.getLogger("codesvc.checkpoints")


def key_path(settings: Settings) -> Path:
    return Path(settings.checkpoint_key_file or settings.home / "checkpoint.key")


def file_path(settings: Settings) -> Path:
    return Path(settings.checkpoint_file or settings.home / "audit-checkpoints.jsonl")


def signing_key(path: Path) -> Ed25519PrivateKey:
    """The checkpoint key in ``path`` (PEM, PKCS#8), made on first use, readable by its owner."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with contextlib.suppress(FileExistsError):  # another process made it first
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(f"{path} holds no Ed25519 private key; checkpoints need one")
    return loaded


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw public key, base64url: what a reader of the checkpoints verifies them with."""
    import base64

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def head(conn: asyncpg.Connection) -> tuple[int, str] | None:
    """The latest committed entry's seq and hash; entries commit in sequence order."""
    row = await conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (row["seq"], row["hash"]) if row else None


async def checkpoint_once(
    conn: asyncpg.Connection, key: Ed25519PrivateKey, path: Path, now: datetime
) -> Checkpoint | None:
    """Sign the head if it moved since the last checkpoint; returns what was written."""
    latest = await head(conn)
    if latest is None:
        return None
    done = await conn.fetchval("SELECT max(seq) FROM audit_checkpoints")
    if done is not None and done >= latest[0]:
        return None
    checkpoint = sign_checkpoint(key, latest[0], latest[1], now)
    # The file first: a checkpoint that reached the file but not the table is harmless.
    await asyncio.to_thread(_append_line, path, checkpoint_line(checkpoint))
    await conn.execute(
        """INSERT INTO audit_checkpoints (seq, hash, at, sig) VALUES ($1, $2, $3, $4)
           ON CONFLICT (seq) DO NOTHING""",
        checkpoint.seq,
        checkpoint.hash,
        checkpoint.at,
        checkpoint.sig,
    )
    return checkpoint


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


async def run(
    pool: asyncpg.Pool,
    key: Ed25519PrivateKey,
    path: Path,
    clock: Callable[[], datetime],
    interval: float,
) -> None:
    """Checkpoint every ``interval`` seconds while the chain grows, until cancelled."""
    while True:
        try:
            async with pool.acquire() as conn:
                await checkpoint_once(conn, key, path, clock())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("audit checkpoint failed, will retry: %s", exc)
            await distrust(pool, exc)
        await asyncio.sleep(interval)


@dataclass
class CheckReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_file(path: Path, report: CheckReport) -> list[Checkpoint] | None:
    """The checkpoints in ``path``, None if there is no such file; an unreadable line is
    a warning."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(parse_checkpoint_line(line))
        except ValueError as exc:
            report.warnings.append(f"{path} line {number} skipped: {exc}")
    return found


async def check(conn: asyncpg.Connection, settings: Settings) -> CheckReport:
    """The chain against every checkpoint in the file and in the database."""
    report = CheckReport()
    path = file_path(settings)
    checkpoints = read_file(path, report)
    rows = await conn.fetch("SELECT seq, hash, at, sig FROM audit_checkpoints ORDER BY seq")
    if checkpoints is None:
        checkpoints = []
        if rows or await head(conn):
            report.warnings.append(
                f"no checkpoint file at {path}: the chain was checked against the "
                "checkpoints in the database only, which someone able to rewrite the "
                "chain could rewrite too"
            )
    in_file = {(c.seq, c.hash) for c in checkpoints}
    checkpoints += [
        Checkpoint(r["seq"], r["hash"], r["at"], r["sig"])
        for r in rows
        if (r["seq"], r["hash"]) not in in_file
    ]
    key: Ed25519PublicKey | None = None
    if key_path(settings).exists():
        key = signing_key(key_path(settings)).public_key()
    elif checkpoints:
        report.warnings.append(
            f"no checkpoint key at {key_path(settings)}: signatures were not checked"
        )
    seqs = sorted({c.seq for c in checkpoints})
    stored = {
        r["seq"]: r["hash"]
        for r in await conn.fetch(
            "SELECT seq, hash FROM audit_log WHERE seq = ANY($1::bigint[])", seqs
        )
    }
    report.checked = len(checkpoints)
    report.problems = verify_checkpoints(sorted(checkpoints, key=lambda c: c.seq), stored, key)
    return report
