"""Audit checkpoints outside the database (SPEC §9): a full rewrite of the chain is caught."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from codesvc.api.app import create_app
from codesvc.audit_chain import (
    GENESIS,
    Checkpoint,
    chain,
    checkpoint_line,
    checkpoint_message,
    parse_checkpoint_line,
    sign_checkpoint,
    verify_checkpoints,
)
from codesvc.service import checkpoints
from codesvc.service.audit_log import chained, verify_audit

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2022, 4, 1, 8, 0, tzinfo=UTC)
H1, H2 = "a" * 64, "b" * 64


def test_a_signed_checkpoint_survives_its_file_line() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_checkpoint(key, 7, H1, AT)
    assert parse_checkpoint_line(checkpoint_line(signed)) == signed
    assert verify_checkpoints([signed], {7: H1}, key.public_key()) == []


def test_a_checkpoint_names_what_the_chain_contradicts() -> None:
    key = Ed25519PrivateKey.generate()
    first, second = sign_checkpoint(key, 3, H1, AT), sign_checkpoint(key, 9, H2, AT)
    forged = dataclasses.replace(sign_checkpoint(key, 5, H1, AT), hash=H2)
    other_key = sign_checkpoint(Ed25519PrivateKey.generate(), 6, H1, AT)
    problems = verify_checkpoints(
        [first, forged, other_key, second], {3: H2, 5: H2, 6: H1}, key.public_key()
    )
    assert problems == [
        "entry 3 does not match its checkpoint of 2022-04-01T08:00:00.000000Z "
        "(the chain was rewritten up to it?)",
        "checkpoint of entry 5 at 2022-04-01T08:00:00.000000Z: the signature does not verify "
        "(checkpoint edited, or signed with another key?)",
        "checkpoint of entry 6 at 2022-04-01T08:00:00.000000Z: the signature does not verify "
        "(checkpoint edited, or signed with another key?)",
        "entry 9, checkpointed at 2022-04-01T08:00:00.000000Z, is missing from the chain "
        "(entries removed?)",
    ]


@pytest.mark.parametrize(
    "line",
    ["", "{}", "[1]", '{"seq": "1", "hash": "h", "at": "2022-04-01T08:00:00Z", "sig": "s"}',
     '{"seq": 1, "hash": "h", "at": "yesterday", "sig": "s"}'],
)  # fmt: skip
def test_a_line_that_is_no_checkpoint_says_so(line: str) -> None:
    with pytest.raises(ValueError, match=r"checkpoint|seq|at must"):
        parse_checkpoint_line(line)


def test_the_signature_covers_seq_hash_and_time() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_checkpoint(key, 1, H1, AT)
    raw = base64.urlsafe_b64decode(signed.sig + "==")
    public: Ed25519PublicKey = key.public_key()
    public.verify(raw, checkpoint_message(1, H1, AT))
    later = Checkpoint(1, H1, AT + timedelta(seconds=1), signed.sig)
    assert verify_checkpoints([later], {1: H1}, public) != []


async def audited_reads(city, ref: str, count: int) -> None:  # type: ignore[no-untyped-def]
    officer = city.api.auth("staff", "hp-officer", "310101")
    for _ in range(count):
        resp = await city.client.get(f"/v1/persons/{ref}/status", headers=officer)
        assert resp.status == 200


async def checkpoint(conn, settings) -> Checkpoint:  # type: ignore[no-untyped-def]
    key = checkpoints.signing_key(checkpoints.key_path(settings))
    done = await checkpoints.checkpoint_once(
        conn, key, checkpoints.file_path(settings), datetime.now(UTC)
    )
    assert done is not None
    return done


async def run_verify(db_url: str, settings) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
    env |= {
        "CODESVC_DATABASE_URL": db_url,
        "CODESVC_HOME": str(settings.home),
        "CODESVC_SQL_DIR": str(ROOT / "sql"),
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "codesvc", "verify"],
        env=env,
        cwd=settings.home.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def rewrite_without(conn, removed: int) -> None:  # type: ignore[no-untyped-def]
    """The attack: as the table owner, switch off the guard, delete one entry, and re-chain
    every later entry and the head with correct hashes (and drop the checkpoint rows)."""
    rows = await conn.fetch("SELECT * FROM audit_log ORDER BY seq")
    kept = [chained(r).entry for r in rows if r["seq"] != removed]
    renumbered = [dataclasses.replace(e, seq=n) for n, e in enumerate(kept, start=1)]
    linked = chain(renumbered, GENESIS)
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    async with conn.transaction():
        await conn.execute("DELETE FROM audit_log")
        await conn.executemany(
            """INSERT INTO audit_log (seq, at, actor_role, actor_sub, action, person_ref,
                                      subject, detail, prev_hash, hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            [
                (c.entry.seq, c.entry.at, c.entry.actor_role, c.entry.actor_sub, c.entry.action,
                 c.entry.person_ref, c.entry.subject, dict(c.entry.detail), c.prev_hash, c.hash)
                for c in linked
            ],
        )  # fmt: skip
        await conn.execute(
            "UPDATE audit_head SET seq = $1, hash = $2", linked[-1].entry.seq, linked[-1].hash
        )
        await conn.execute("DELETE FROM audit_checkpoints")
    await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_a_chain_rewritten_end_to_end_fails_verify(city, conn, db_url, settings):
    ref = await city.register()
    await audited_reads(city, ref, 3)
    await checkpoint(conn, settings)
    await audited_reads(city, ref, 2)
    await checkpoint(conn, settings)

    await rewrite_without(conn, removed=2)

    assert await verify_audit(conn) == []  # the chain alone is fooled by the rewrite
    result = await run_verify(db_url, settings)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "entry 3 does not match its checkpoint" in result.stdout
    assert "entry 5, checkpointed at" in result.stdout
    assert "is missing from the chain" in result.stdout


async def test_an_honest_chain_with_checkpoints_verifies_clean(city, conn, db_url, settings):
    ref = await city.register()
    await audited_reads(city, ref, 2)
    first = await checkpoint(conn, settings)
    await audited_reads(city, ref, 2)
    second = await checkpoint(conn, settings)
    assert (first.seq, second.seq) == (2, 4)
    assert (
        await checkpoints.checkpoint_once(
            conn,
            checkpoints.signing_key(checkpoints.key_path(settings)),
            checkpoints.file_path(settings),
            datetime.now(UTC),
        )
        is None
    )  # the head did not move: nothing to sign
    lines = checkpoints.file_path(settings).read_text().splitlines()
    assert [parse_checkpoint_line(line) for line in lines] == [first, second]

    result = await run_verify(db_url, settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "against 2 checkpoint(s): no differences" in result.stdout
    assert "warning" not in result.stdout


async def test_a_lost_checkpoint_file_is_a_warning_not_tampering(city, conn, db_url, settings):
    ref = await city.register()
    await audited_reads(city, ref, 2)
    await checkpoint(conn, settings)
    checkpoints.file_path(settings).unlink()
    result = await run_verify(db_url, settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: no checkpoint file at" in result.stdout
    assert "no differences" in result.stdout


async def test_the_commission_lists_checkpoints_it_can_check(city, conn, settings):
    ref = await city.register()
    await audited_reads(city, ref, 2)
    await checkpoint(conn, settings)
    staff = city.api.auth("staff", "hp-officer", "310101")
    assert (await city.client.get("/v1/audit/checkpoints", headers=staff)).status == 403
    resp = await city.client.get("/v1/audit/checkpoints", headers=city.commission)
    assert resp.status == 200
    body = await resp.json()
    [listed] = body["checkpoints"]
    assert listed["seq"] == 2
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(body["public_key"] + "="))
    signed = parse_checkpoint_line(checkpoint_line(Checkpoint(2, listed["hash"],
        datetime.fromisoformat(listed["at"]), listed["sig"])))  # fmt: skip
    assert verify_checkpoints([signed], {2: listed["hash"]}, public) == []


async def test_the_service_checkpoints_by_itself_while_the_chain_grows(settings, keys, conn):
    from tests.conftest import Api, City

    app = create_app(dataclasses.replace(settings, checkpoint_interval=0.05))
    async with TestClient(TestServer(app)) as client:
        city = City(Api(client, keys))
        ref = await city.register()
        await audited_reads(city, ref, 1)
        for _ in range(200):  # bounded: 10 s at most on a busy machine
            if await conn.fetchval("SELECT max(seq) FROM audit_checkpoints"):
                break
            await asyncio.sleep(0.05)
        assert await conn.fetchval("SELECT max(seq) FROM audit_checkpoints") == 1
