"""Four eyes: a colour set by hand needs a proposal and a different member's approval."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from codesvc.api.app import create_app
from codesvc.service.audit_log import verify_audit


async def propose(city, member, ref, **body):  # type: ignore[no-untyped-def]
    body = {"person_ref": ref, "color": "red", "reason": "Case investigation.", **body}
    return await city.client.post("/v1/overrides", json=body, headers=member)


async def test_an_override_takes_effect_only_when_another_member_approves(city, conn):
    ref = await city.register()
    alice = city.api.auth("commission", "member-alice")
    bob = city.api.auth("commission", "member-bob")
    resp = await propose(city, alice, ref, reason="Linked to the cluster at a market.")
    assert resp.status == 201
    proposal = await resp.json()
    assert proposal["status"] == "proposed"
    assert (await city.status(ref))["color"] == "green"  # a proposal alone changes nothing

    approve = f"/v1/overrides/{proposal['override_id']}/approve"
    resp = await city.client.post(approve, headers=alice)
    assert resp.status == 403
    assert "different commission member" in (await resp.json())["detail"]
    assert (await city.status(ref))["color"] == "green"

    resp = await city.client.post(approve, headers=bob)
    assert resp.status == 200
    approved = await resp.json()
    assert (approved["status"], approved["proposed_by"], approved["approved_by"]) == (
        "approved", "member-alice", "member-bob",
    )  # fmt: skip

    status = await city.status(ref, lang="en")
    assert status["color"] == "red"
    [reason] = status["reasons"]
    assert reason["rule"] == "R7"
    assert reason["set_by_hand"] is True
    assert reason["office"] == "市卫生健康委员会 (City Health Commission)"
    assert reason["override_reason"] == "Linked to the cluster at a market."
    assert "by hand" in reason["text"]
    assert "Linked to the cluster at a market." in reason["text"]

    resp = await city.client.post(approve, headers=city.api.auth("commission", "member-carol"))
    assert resp.status == 409
    # Both members are on record, each with their own step.
    trail = await city.client.get(f"/v1/audit?person_ref={ref}", headers=bob)
    steps = [(e["action"], e["actor_sub"]) for e in (await trail.json())["entries"]]
    assert steps[:2] == [("override.propose", "member-alice"), ("override.approve", "member-bob")]
    assert await verify_audit(conn) == []


async def test_proposals_are_checked(city):
    ref = await city.register()
    member = city.commission
    resp = await propose(city, member, ref, color="purple", reason="")
    assert resp.status == 422
    assert set((await resp.json())["errors"]) == {"color", "reason"}
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    resp = await propose(city, member, ref, until=past)
    assert resp.status == 422
    assert "until" in (await resp.json())["errors"]
    assert (await propose(city, member, "p_NOBODY")).status == 404
    staff = city.api.auth("staff", "s", "310101")
    assert (await propose(city, staff, ref)).status == 403
    assert (await city.client.post("/v1/overrides/o_nothing/approve", headers=member)).status == 404


async def test_an_override_with_an_end_lapses_by_itself(city, clock):
    ref = await city.register()
    until = clock() + timedelta(hours=1)
    resp = await propose(city, city.api.auth("commission", "m1"), ref, until=until.isoformat())
    proposal = await resp.json()
    resp = await city.client.post(
        f"/v1/overrides/{proposal['override_id']}/approve",
        headers=city.api.auth("commission", "m2"),
    )
    assert resp.status == 200
    status = await city.status(ref)
    assert status["color"] == "red"
    assert status["next_change_at"] is not None
    clock.advance(hours=1, seconds=1)
    assert (await city.status(ref))["color"] == "green"


async def test_the_commission_sees_what_awaits_approval(city):
    ref = await city.register()
    member = city.api.auth("commission", "m1")
    first = await (await propose(city, member, ref, color="yellow")).json()
    second = await (await propose(city, member, ref)).json()
    await city.client.post(
        f"/v1/overrides/{first['override_id']}/approve", headers=city.api.auth("commission", "m2")
    )
    resp = await city.client.get("/v1/overrides?status=proposed", headers=member)
    assert [o["override_id"] for o in (await resp.json())["overrides"]] == [second["override_id"]]
    resp = await city.client.get(f"/v1/overrides?person_ref={ref}", headers=member)
    assert len((await resp.json())["overrides"]) == 2


def alarms(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The overrides' own log records (other parts of the service log beside them)."""
    return [r for r in caplog.records if r.name == "codesvc.overrides"]


async def test_too_many_proposals_by_one_member_raise_an_alarm(settings, keys, caplog):
    from tests.conftest import Api, City

    app = create_app(dataclasses.replace(settings, override_alarm_per_hour=3))
    async with TestClient(TestServer(app)) as client:
        city = City(Api(client, keys))
        ref = await city.register()
        eager = city.api.auth("commission", "eager-member")
        with caplog.at_level(logging.WARNING, logger="codesvc.overrides"):
            for _ in range(3):
                assert (await propose(city, eager, ref)).status == 201
            assert alarms(caplog) == []
            assert (await propose(city, eager, ref)).status == 201  # the fourth in an hour
        [alarm] = alarms(caplog)
        assert alarm.levelno == logging.WARNING
        assert (alarm.member, alarm.proposed, alarm.limit) == ("eager-member", 4, 3)  # type: ignore[attr-defined]
        metrics = await (await client.get("/metrics")).text()
        assert "codesvc_override_alarms_total 1.0" in metrics
        assert "codesvc_overrides_proposed_total 4.0" in metrics
        assert "eager-member" not in metrics  # /metrics is open to anyone: no identities
        # Another member's proposals are counted on their own.
        assert (await propose(city, city.api.auth("commission", "calm"), ref)).status == 201
        metrics = await (await client.get("/metrics")).text()
        assert "codesvc_override_alarms_total 1.0" in metrics


async def test_another_member_may_reject_a_proposal_and_nothing_changes(city, conn):
    ref = await city.register()
    alice = city.api.auth("commission", "member-alice")
    bob = city.api.auth("commission", "member-bob")
    proposal = await (await propose(city, alice, ref)).json()
    reject = f"/v1/overrides/{proposal['override_id']}/reject"
    own = await city.client.post(reject, json={"reason": "changed my mind"}, headers=alice)
    assert own.status == 403
    empty = await city.client.post(reject, json={"reason": " "}, headers=bob)
    assert empty.status == 422
    resp = await city.client.post(reject, json={"reason": "No case links him."}, headers=bob)
    assert resp.status == 200, await resp.text()
    rejected = await resp.json()
    assert (rejected["status"], rejected["rejected_by"], rejected["rejection_reason"]) == (
        "rejected", "member-bob", "No case links him.",
    )  # fmt: skip
    assert (await city.status(ref))["color"] == "green"
    approve = await city.client.post(
        f"/v1/overrides/{proposal['override_id']}/approve",
        headers=city.api.auth("commission", "member-carol"),
    )
    assert approve.status == 409
    assert "rejected by member-bob" in (await approve.json())["detail"]
    again = await city.client.post(reject, json={"reason": "twice"}, headers=bob)
    assert again.status == 409
    listed = await city.client.get("/v1/overrides?status=rejected", headers=bob)
    assert [o["override_id"] for o in (await listed.json())["overrides"]] == [
        proposal["override_id"]
    ]
    assert await verify_audit(conn) == []
