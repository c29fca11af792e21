"""Every manual change is audited (SPEC §9): events sent by hand, listings, campaigns."""

from __future__ import annotations

import asyncio

from tests.builders import ago, arrival, event, positive
from tests.conftest import City


async def entries(conn, action: str) -> list:  # type: ignore[no-untyped-def,type-arg]
    rows = await conn.fetch(
        "SELECT actor_role, actor_sub, person_ref, subject, detail FROM audit_log "
        "WHERE action = $1 ORDER BY seq",
        action,
    )
    return [dict(r) for r in rows]


async def reach(conn, job_id: str) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """What the job's count entry says: its subject and the people it reaches (the
    server's background worker counts within a moment of the change)."""
    for _ in range(200):
        counted = [e for e in await entries(conn, "job.counted") if e["detail"]["job_id"] == job_id]
        if counted:
            [entry] = counted
            return entry["subject"], entry["detail"]["affected"]
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never counted its people")


async def test_each_person_touched_by_staff_or_the_commission_gets_an_entry(city: City, conn):
    case_person, one, two = [await city.register() for _ in range(3)]
    case = positive(ago(days=2), {"person_ref": case_person})
    await city.send(case)
    officer = city.api.auth("staff", "hp-officer", "310101")
    designations = [
        event("contact.designated", ago(days=1), {"person_ref": ref}, level=lvl,
              case_ref=case["event_id"])
        for ref, lvl in ((one, "close"), (two, "secondary"))
    ]  # fmt: skip
    discharge = event("case.discharged", ago(hours=2), {"person_ref": one}, case_ref="c")
    sent = await city.send(*designations, discharge, headers=officer)
    assert [r["status"] for r in sent] == ["accepted"] * 3
    found = await entries(conn, "events.sent")
    assert [(e["actor_sub"], e["person_ref"]) for e in found] == [
        ("hp-officer", one),
        ("hp-officer", two),
    ]
    kinds = [[x["kind"] for x in e["detail"]["events"]] for e in found]
    assert kinds == [["contact.designated", "case.discharged"], ["contact.designated"]]

    wrong = designations[1]["event_id"]
    void = event("correction", ago(hours=1), {"person_ref": two}, voids=[wrong], reason="mixed up")
    assert [r["status"] for r in await city.send(void, headers=city.commission)] == ["accepted"]
    last = (await entries(conn, "events.sent"))[-1]
    assert (last["actor_role"], last["person_ref"]) == ("commission", two)
    assert last["detail"]["events"] == [{"event_id": void["event_id"], "kind": "correction"}]


async def test_feeds_are_not_manual_changes_and_rejected_events_change_nothing(city, conn):
    ref = await city.register()
    await city.send(arrival(ago(hours=3), {"person_ref": ref}))
    officer = city.api.auth("staff", "pd-officer", "310115")
    [refused] = await city.send(
        event("case.discharged", ago(hours=2), {"person_ref": ref}, case_ref="c"), headers=officer
    )
    assert refused["status"] == "rejected"
    assert await entries(conn, "events.sent") == []


async def test_a_listing_change_is_audited_with_its_window_and_reach(city, conn):
    ref = await city.register()
    await city.send(arrival(ago(days=2), {"person_ref": ref}, area="510107"))
    resp = await city.client.put(
        "/v1/risk-areas/510107?dry_run=true",
        json={"level": "high", "valid_from": ago(days=5).isoformat()},
        headers=city.commission,
    )
    assert resp.status == 200
    assert await entries(conn, "risk_area.change") == []  # a preview changes nothing
    since = ago(days=5)
    listed = await city.list_area("510107", "high", since.isoformat())
    [entry] = await entries(conn, "risk_area.change")
    assert entry["actor_sub"] == "commissioner-1"
    assert entry["subject"] == "510107"
    assert entry["detail"]["level"] == "high"
    assert entry["detail"]["valid_to"] is None
    assert entry["detail"]["job_id"] == listed["job_id"]
    assert entry["detail"]["valid_from"].startswith(since.astimezone().date().isoformat()[:4])
    # The job counts the people the change reaches, and writes that down too.
    assert await reach(conn, listed["job_id"]) == ("510107", 1)


async def test_a_campaign_is_audited_with_its_districts_window_and_reach(city, conn):
    await city.register("310101")
    await city.register("310104")
    window = {"starts_at": ago(days=1).isoformat(), "ends_at": ago(days=-1).isoformat()}
    resp = await city.client.post(
        "/v1/campaigns", json={"districts": ["310104", "310101"], **window},
        headers=city.commission,
    )  # fmt: skip
    assert resp.status == 201, await resp.text()
    campaign = await resp.json()
    [entry] = await entries(conn, "campaign.add")
    assert entry["subject"] == campaign["campaign_id"]
    assert entry["detail"]["districts"] == ["310101", "310104"]
    assert entry["detail"]["job_id"] == campaign["job_id"]
    assert set(entry["detail"]) >= {"starts_at", "ends_at"}
    assert await reach(conn, campaign["job_id"]) == (campaign["campaign_id"], 2)
