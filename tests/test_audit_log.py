"""The audit log in the database: who read or changed whose data, chained so tampering shows."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from codesvc.audit_chain import GENESIS, AuditEntry, entry_hash
from codesvc.service.audit_log import verify_audit
from codesvc.state.events import parse_time


async def trail(city, ref: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    resp = await city.client.get(f"/v1/audit?person_ref={ref}", headers=city.commission)
    assert resp.status == 200
    return list((await resp.json())["entries"])


async def test_staff_and_commission_reads_are_recorded_citizen_reads_are_not(city):
    ref = await city.register()
    await city.status(ref)
    await city.history(ref)
    officer = city.api.auth("staff", "hp-officer", "310101")
    for path in (f"/v1/persons/{ref}/status", f"/v1/persons/{ref}/history"):
        assert (await city.client.get(path, headers=officer)).status == 200
    entries = await trail(city, ref)
    assert [(e["actor_sub"], e["action"], e["subject"]) for e in entries] == [
        ("hp-officer", "person.read", "status"),
        ("hp-officer", "person.read", "history"),
        ("commissioner-1", "person.read", "audit"),
    ]
    # A denied look leaves the person's data unread, and so unrecorded.
    outsider = city.api.auth("staff", "cn-officer", "310105")
    assert (await city.client.get(f"/v1/persons/{ref}/status", headers=outsider)).status == 404
    assert len(await trail(city, ref)) == 4


async def test_the_entries_returned_carry_a_chain_anyone_can_check(city):
    ref = await city.register()
    other = await city.register()
    officer = city.api.auth("staff", "hp-officer", "310101")
    for who in (ref, other, ref):
        await city.client.get(f"/v1/persons/{who}/status", headers=officer)
    entries = await trail(city, ref)
    assert [e["seq"] for e in entries] == [1, 3, 4]  # entry 2 is the other person's
    for e in entries:
        entry = AuditEntry(
            e["seq"], parse_time(e["at"]), e["actor_role"], e["actor_sub"], e["action"],
            e["person_ref"], e["subject"], e["detail"],
        )  # fmt: skip
        assert entry_hash(e["prev_hash"], entry) == e["hash"]
    assert entries[0]["prev_hash"] == GENESIS
    assert entries[1]["prev_hash"] != entries[0]["hash"]  # it follows the read of `other`
    assert entries[2]["prev_hash"] == entries[1]["hash"]


async def test_only_the_commission_reads_the_audit_log(city):
    ref = await city.register()
    for role in ("citizen", "staff", "feeder", "scanner"):
        resp = await city.client.get(
            f"/v1/audit?person_ref={ref}", headers=city.api.auth(role, ref, "310101")
        )
        assert resp.status == 403
    resp = await city.client.get("/v1/audit", headers=city.commission)
    assert resp.status == 422
    resp = await city.client.get("/v1/audit?person_ref=p_NOBODY", headers=city.commission)
    assert resp.status == 404


async def test_concurrent_appends_keep_one_unbroken_chain(city, conn):
    refs = [await city.register() for _ in range(4)]
    officers = [city.api.auth("staff", f"officer-{n}", "310101") for n in range(5)]
    reads = [
        city.client.get(f"/v1/persons/{ref}/{what}", headers=officer)
        for ref in refs
        for officer in officers
        for what in ("status", "history")
    ]
    answers = await asyncio.gather(*reads)
    assert {r.status for r in answers} == {200}
    assert await conn.fetchval("SELECT array_agg(seq ORDER BY seq) FROM audit_log") == list(
        range(1, 41)
    )
    assert await verify_audit(conn) == []


async def seeded(city, conn) -> None:  # type: ignore[no-untyped-def]
    ref = await city.register()
    officer = city.api.auth("staff", "hp-officer", "310101")
    for _ in range(4):
        await city.client.get(f"/v1/persons/{ref}/status", headers=officer)
    assert await verify_audit(conn) == []


async def test_the_database_refuses_edits_of_the_log(city, conn):
    await seeded(city, conn)
    for statement in (
        "UPDATE audit_log SET actor_sub = 'nobody' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(statement)


async def tamper(conn, statement: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What someone able to switch off the guard would do; then what verification finds."""
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    await conn.execute(statement)
    return await verify_audit(conn)


async def test_an_edited_entry_is_found(city, conn):
    await seeded(city, conn)
    problems = await tamper(conn, "UPDATE audit_log SET actor_sub = 'nobody' WHERE seq = 2")
    assert problems == ["entry 2: hash does not match its content (edited?)"]


async def test_a_removed_entry_is_found(city, conn):
    await seeded(city, conn)
    problems = await tamper(conn, "DELETE FROM audit_log WHERE seq = 2")
    assert len(problems) == 2
    assert problems[0].startswith("entry 3: sequence jumps")
    assert problems[1].startswith("entry 3: previous hash does not match entry 1")


async def test_entries_cut_off_the_end_are_found(city, conn):
    await seeded(city, conn)
    problems = await tamper(conn, "DELETE FROM audit_log WHERE seq >= 3")
    assert problems == [
        "the chain ends at entry 2, not at the recorded head (entries removed from the end?)"
    ]


async def test_verify_reads_a_long_chain_in_pieces(city, conn, monkeypatch):
    from codesvc.service import audit_log

    monkeypatch.setattr(audit_log, "CHUNK", 3)
    await seeded(city, conn)
    await city.client.get("/v1/persons/p_NOBODY/status", headers=city.commission)
    assert await verify_audit(conn) == []
    problems = await tamper(conn, "UPDATE audit_log SET detail = '{\"x\": 1}' WHERE seq = 4")
    assert problems == ["entry 4: hash does not match its content (edited?)"]
