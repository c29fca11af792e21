"""Appeals through HTTP: each path of the workflow, the district's queue, and its limits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from codesvc.api.app import create_app
from tests.builders import ago, event, negative
from tests.conftest import Api, City

HUANGPU, XUHUI, CHANGNING = "310101", "310104", "310105"


async def call(
    city: City, method: str, path: str, headers: dict[str, str], body: object = None
) -> tuple[int, dict[str, Any]]:
    resp = await city.client.request(method, path, json=body, headers=headers)
    return resp.status, await resp.json()


async def reported_yellow(city: City, district: str = HUANGPU) -> tuple[str, str]:
    """A person of ``district`` whom Xuhui reported arriving from a medium-risk area."""
    await city.list_area("440306", "medium", ago(days=14).isoformat())
    ref = await city.register(district)
    report = event(
        "travel.arrival", ago(hours=30), {"person_ref": ref}, area_code="440306",
        source="district_report",
    )  # fmt: skip
    [result] = await city.send(report, headers=city.api.auth("staff", "xh-feed", XUHUI))
    assert result["status"] == "accepted"
    assert (await city.status(ref))["color"] == "yellow"
    return ref, report["event_id"]


async def appeal(city: City, ref: str, disputed: str | None, **body: Any) -> dict[str, Any]:
    body.setdefault("category", "wrong_travel_record")
    body.setdefault("description", "I was never there.")
    if disputed is not None:
        body["disputed_event_id"] = disputed
    status, filed = await call(city, "POST", "/v1/appeals", city.api.auth("citizen", ref), body)
    assert status == 201, filed
    return filed


def staff(city: City, sub: str = "xh-officer", district: str = XUHUI) -> dict[str, str]:
    return city.api.auth("staff", sub, district)


async def test_an_upheld_appeal_explains_itself_and_changes_nothing(city):
    ref, disputed = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}"
    officer = staff(city)
    assert (await call(city, "POST", path + "/claim", officer))[0] == 200

    status, problem = await call(city, "POST", path + "/resolve", officer, {"outcome": "upheld"})
    assert status == 422
    assert "note" in problem["errors"]
    status, problem = await call(
        city, "POST", path + "/resolve", officer,
        {"outcome": "upheld", "note": "The manifest shows you on the Shenzhen train.",
         "corrections": {"void": [disputed]}},
    )  # fmt: skip
    assert status == 422
    assert "corrections" in problem["errors"]

    status, body = await call(
        city, "POST", path + "/resolve", officer,
        {"outcome": "upheld", "note": "The manifest shows you on the Shenzhen train."},
    )  # fmt: skip
    assert status == 200
    assert body["status"] == "upheld"
    assert (await city.status(ref))["color"] == "yellow"
    status, mine = await call(city, "GET", path, city.api.auth("citizen", ref))
    assert mine["status"] == "upheld"
    assert mine["outcome_note"] == "The manifest shows you on the Shenzhen train."
    assert mine["decided_at"] is not None
    assert mine["actions"] == []
    # Decided is decided.
    status, problem = await call(city, "POST", path + "/claim", officer)
    assert status == 409
    assert "upheld" in problem["detail"]


async def test_an_escalated_appeal_is_decided_by_the_commission(city):
    ref, disputed = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}"
    officer = staff(city)
    await call(city, "POST", path + "/claim", officer)
    status, body = await call(
        city, "POST", path + "/escalate", officer, {"note": "The two reports disagree."}
    )
    assert status == 200
    assert body["status"] == "escalated"
    assert body["handled_by"] == "city health commission"

    fix = {"outcome": "corrected", "note": "Wrong origin.", "corrections": {"void": [disputed]}}
    status, problem = await call(city, "POST", path + "/resolve", officer, fix)
    assert status == 403
    assert "commission" in problem["detail"]
    assert (await city.status(ref))["color"] == "yellow"

    status, body = await call(city, "POST", path + "/resolve", city.commission, fix)
    assert status == 200, body
    assert body["status"] == "corrected"
    assert [t["to"] for t in body["transitions"]] == [
        "submitted", "in_review", "escalated", "corrected",
    ]  # fmt: skip
    assert body["transitions"][-1]["by"] == "city health commission"
    assert (await city.status(ref))["color"] == "green"


async def test_a_citizen_withdraws_before_a_decision(city):
    ref, disputed = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}"
    await call(city, "POST", path + "/claim", staff(city))

    stranger = city.api.auth("citizen", await city.register())
    assert (await call(city, "POST", path + "/withdraw", stranger))[0] == 404
    status, body = await call(city, "POST", path + "/withdraw", city.api.auth("citizen", ref))
    assert status == 200
    assert body["status"] == "withdrawn"
    status, problem = await call(
        city, "POST", path + "/resolve", staff(city),
        {"outcome": "corrected", "note": "x", "corrections": {"void": [disputed]}},
    )  # fmt: skip
    assert status == 409
    assert "withdrawn" in problem["detail"]
    assert (await city.status(ref))["color"] == "yellow"
    # The event is free to be appealed again.
    again = await appeal(city, ref, disputed)
    assert again["status"] == "submitted"


async def test_two_officers_claiming_at_once_one_wins(city):
    ref, disputed = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}/claim"
    a, b = staff(city, "officer-a"), staff(city, "officer-b")
    results = await asyncio.gather(call(city, "POST", path, a), call(city, "POST", path, b))
    assert sorted(status for status, _ in results) == [200, 409]
    [(_, won)] = [r for r in results if r[0] == 200]
    [(_, lost)] = [r for r in results if r[0] == 409]
    assert "already in_review" in lost["detail"]
    assert won["claimed_by"] in ("officer-a", "officer-b")
    # Only the winner (or the commission) may decide it.
    loser = a if won["claimed_by"] == "officer-b" else b
    status, problem = await call(
        city, "POST", path.replace("claim", "resolve"), loser,
        {"outcome": "upheld", "note": "No."},
    )  # fmt: skip
    assert status == 403
    assert "another officer" in problem["detail"]


async def test_other_districts_see_neither_the_appeal_nor_the_person(city):
    ref, disputed = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}"
    outsider = staff(city, "cn-officer", CHANGNING)
    assert (await call(city, "GET", path, outsider))[0] == 404
    assert (await call(city, "POST", path + "/claim", outsider))[0] == 404
    assert (await call(city, "POST", path + "/notes", outsider, {"text": "hi"}))[0] == 404
    assert (await call(city, "GET", f"/v1/persons/{ref}/status", outsider))[0] == 404
    status, queue = await call(city, "GET", "/v1/appeals", outsider)
    assert (status, queue["appeals"]) == (200, [])
    assert (await call(city, "GET", f"/v1/appeals?district={XUHUI}", outsider))[0] == 404
    # Another citizen cannot read it either; the person's own district office can read the
    # person (registered there) but not the appeal, which is Xuhui's to work.
    other = city.api.auth("citizen", await city.register())
    assert (await call(city, "GET", path, other))[0] == 404
    assert (await call(city, "GET", path, staff(city, "hp", HUANGPU)))[0] == 404
    assert (await call(city, "GET", f"/v1/persons/{ref}/status", staff(city, "hp", HUANGPU)))[
        0
    ] == 200
    # Xuhui, where the appeal is routed, reads the person although they live in Huangpu.
    assert (await call(city, "GET", f"/v1/persons/{ref}/history", staff(city)))[0] == 200


async def test_one_open_appeal_per_event_and_a_daily_limit(city):
    ref, disputed = await reported_yellow(city)
    await appeal(city, ref, disputed)
    me = city.api.auth("citizen", ref)
    body = {
        "category": "wrong_travel_record",
        "description": "again",
        "disputed_event_id": disputed,
    }
    status, problem = await call(city, "POST", "/v1/appeals", me, body)
    assert status == 409
    assert "already have an open appeal" in problem["detail"]

    other = {"category": "other", "description": "My code is wrong."}
    for _ in range(2):
        assert (await call(city, "POST", "/v1/appeals", me, other))[0] == 201
    resp = await city.client.post("/v1/appeals", json=other, headers=me)
    assert resp.status == 429
    assert 0 < int(resp.headers["Retry-After"]) <= 24 * 3600
    assert "file another after" in (await resp.json())["detail"]
    _, mine = await call(city, "GET", "/v1/me/appeals", me)
    assert len(mine["appeals"]) == 3


async def test_filing_names_what_to_fix(city):
    ref, _ = await reported_yellow(city)
    me = city.api.auth("citizen", ref)
    status, problem = await call(
        city, "POST", "/v1/appeals", me, {"category": "wrong_travel_record", "description": " "}
    )
    assert status == 422
    assert set(problem["errors"]) == {"description"}
    status, problem = await call(
        city, "POST", "/v1/appeals", me, {"category": "wrong_travel_record", "description": "x"}
    )
    assert status == 422
    assert set(problem["errors"]) == {"disputed_event_id"}
    status, problem = await call(
        city, "POST", "/v1/appeals", me, {"category": "missing_test_result", "description": "x"}
    )
    assert set(problem["errors"]) == {"evidence.lab_id", "evidence.sample_id"}
    _, their_event = await reported_yellow(city)
    status, problem = await call(
        city, "POST", "/v1/appeals", me,
        {"category": "wrong_travel_record", "description": "x", "disputed_event_id": their_event},
    )  # fmt: skip
    assert status == 422
    assert problem["errors"] == {"disputed_event_id": "not an event on your record"}
    status, _ = await call(city, "POST", "/v1/appeals", city.api.auth("staff", "s", XUHUI), {})
    assert status == 403
    _, mine = await call(city, "GET", "/v1/me/appeals", me)
    assert mine["appeals"] == []


async def test_bad_corrections_change_nothing(city, conn):
    ref, disputed = await reported_yellow(city)
    other_ref, foreign = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}"
    officer = staff(city)
    await call(city, "POST", path + "/claim", officer)
    events_before = await conn.fetchval("SELECT count(*) FROM events")
    status, problem = await call(
        city, "POST", path + "/resolve", officer,
        {"outcome": "corrected", "note": "Fixing.",
         "corrections": {
             "void": [disputed, "not-a-uuid"],
             "add": [
                 negative(ago(hours=2), {"person_ref": other_ref}),
                 {"event_id": str(uuid.uuid4()), "kind": "test.result",
                  "occurred_at": ago(hours=1).isoformat(), "data": {"result": "maybe"}},
                 event("override", ago(hours=1), None, color="green", reason="x", office="y",
                       override_id="o_1"),
             ],
         }},
    )  # fmt: skip
    assert status == 422
    errors = problem["errors"]
    assert "UUID" in errors["corrections.void.1"]
    assert errors["corrections.add.0.person"] == "unknown field"
    assert errors["corrections.add.1.data.result"].startswith("must be one of")
    assert "case.discharged" in errors["corrections.add.2.kind"]
    assert "corrections.void.0" not in errors
    status, problem = await call(
        city, "POST", path + "/resolve", officer,
        {"outcome": "corrected", "note": "Fixing.", "corrections": {"void": [disputed, foreign]}},
    )  # fmt: skip
    assert status == 422
    assert problem["errors"] == {"corrections.void.1": "not an event of the appellant"}
    assert await conn.fetchval("SELECT count(*) FROM events") == events_before
    _, body = await call(city, "GET", path, officer)
    assert body["status"] == "in_review"
    assert (await city.status(ref))["color"] == "yellow"

    status, problem = await call(
        city, "POST", path + "/resolve", officer, {"outcome": "corrected", "note": "Nothing."}
    )
    assert status == 422
    assert "corrections" in problem["errors"]


async def test_a_correction_can_add_the_missing_facts(city, conn):
    """Voiding the wrong arrival and adding the right one, from a low-risk area."""
    ref, disputed = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}"
    officer = staff(city)
    await call(city, "POST", path + "/claim", officer)
    right = event("travel.arrival", ago(hours=30), None, area_code="510107", source="itinerary")
    status, body = await call(
        city, "POST", path + "/resolve", officer,
        {"outcome": "corrected", "note": "You came from Chengdu.",
         "corrections": {"void": [disputed], "add": [right]}},
    )  # fmt: skip
    assert status == 200, body
    status_now = await city.status(ref)
    assert status_now["color"] == "green"
    # The right arrival now stands; its landing tests are pending (R6).
    assert [r["event_id"] for r in status_now["reasons"]] == [right["event_id"]]
    rows = await conn.fetch(
        """SELECT e.kind, e.sender, e.data FROM events e JOIN persons p USING (person_id)
           WHERE p.person_ref = $1 ORDER BY e.kind""",
        ref,
    )
    written = {r["kind"]: r for r in rows if r["sender"].startswith("appeal:")}
    assert set(written) == {"correction", "travel.arrival"}
    assert all(r["sender"] == f"appeal:{filed['appeal_id']}" for r in written.values())
    assert written["correction"]["data"] == {
        "voids": [disputed],
        "reason": "You came from Chengdu.",
        "appeal_id": filed["appeal_id"],
    }


async def test_an_appeal_cannot_void_an_override(city):
    ref = await city.register(XUHUI)
    members = city.api.auth("commission", "m-1"), city.api.auth("commission", "m-2")
    _, proposal = await call(
        city, "POST", "/v1/overrides", members[0],
        {"person_ref": ref, "color": "yellow", "reason": "Monitoring."},
    )  # fmt: skip
    _, approved = await call(
        city, "POST", f"/v1/overrides/{proposal['override_id']}/approve", members[1]
    )
    filed = await appeal(city, ref, None, category="other", description="Why am I yellow?")
    path = f"/v1/appeals/{filed['appeal_id']}"
    await call(city, "POST", path + "/claim", staff(city))
    status, problem = await call(
        city, "POST", path + "/resolve", staff(city),
        {"outcome": "corrected", "note": "x", "corrections": {"void": [approved["event_id"]]}},
    )  # fmt: skip
    assert status == 422
    assert "another approved override" in problem["errors"]["corrections.void.0"]


async def test_notes_for_the_citizen_are_shown_to_them_internal_ones_are_not(city):
    ref, disputed = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}"
    officer = staff(city, "xh-officer-9")
    for text, visibility in [
        ("Checking the manifest.", "internal"),
        ("Upload your ticket.", "citizen"),
    ]:
        status, _ = await call(
            city, "POST", path + "/notes", officer, {"text": text, "visibility": visibility}
        )
        assert status == 201
    _, seen = await call(city, "GET", path, city.api.auth("citizen", ref))
    assert [(n["text"], n["by"]) for n in seen["notes"]] == [
        ("Upload your ticket.", f"district {XUHUI}"),
    ]
    assert "xh-officer-9" not in str(seen)
    _, inside = await call(city, "GET", path, officer)
    assert [n["author"] for n in inside["notes"]] == ["xh-officer-9", "xh-officer-9"]
    status, _ = await call(
        city, "POST", path + "/notes", officer, {"text": "x", "visibility": "all"}
    )
    assert status == 422


@pytest.fixture
async def clocked(settings, keys) -> AsyncIterator[tuple[City, list[datetime]]]:
    """A city whose clock the test moves."""
    moment = [datetime.now(UTC)]
    app = create_app(settings, clock=lambda: moment[0])
    async with TestClient(TestServer(app)) as client:
        yield City(Api(client, keys)), moment


async def test_the_queue_puts_overdue_appeals_first(clocked):
    city, moment = clocked
    start = moment[0]
    refs = [await city.register(XUHUI) for _ in range(3)]
    first = await appeal(city, refs[0], None, category="other", description="one")
    moment[0] = start + timedelta(hours=2)
    second = await appeal(city, refs[1], None, category="other", description="two")
    moment[0] = start + timedelta(hours=4)
    third = await appeal(city, refs[2], None, category="other", description="three")
    await call(city, "POST", f"/v1/appeals/{first['appeal_id']}/withdraw",
               city.api.auth("citizen", refs[0]))  # fmt: skip

    moment[0] = start + timedelta(hours=27)  # the second is overdue, the third is not yet
    officer = staff(city)
    _, queue = await call(city, "GET", "/v1/appeals", officer)
    assert [(a["appeal_id"], a["overdue"]) for a in queue["appeals"]] == [
        (second["appeal_id"], True),
        (third["appeal_id"], False),
    ]
    _, everything = await call(city, "GET", "/v1/appeals?status=all", officer)
    assert [a["appeal_id"] for a in everything["appeals"]] == [
        second["appeal_id"], first["appeal_id"], third["appeal_id"],
    ]  # fmt: skip
    _, overdue = await call(city, "GET", "/v1/appeals?overdue=true", officer)
    assert [a["appeal_id"] for a in overdue["appeals"]] == [second["appeal_id"]]
    _, withdrawn = await call(city, "GET", "/v1/appeals?status=withdrawn", officer)
    assert [a["appeal_id"] for a in withdrawn["appeals"]] == [first["appeal_id"]]

    # The commission sees every district's queue, and may narrow it to one.
    elsewhere = await appeal(city, await city.register(CHANGNING), None, category="other",
                             description="four")  # fmt: skip
    _, all_districts = await call(city, "GET", "/v1/appeals", city.commission)
    assert elsewhere["appeal_id"] in [a["appeal_id"] for a in all_districts["appeals"]]
    _, changning = await call(city, "GET", f"/v1/appeals?district={CHANGNING}", city.commission)
    assert [a["appeal_id"] for a in changning["appeals"]] == [elsewhere["appeal_id"]]
    status, problem = await call(city, "GET", "/v1/appeals?status=pending", city.commission)
    assert status == 422
    assert "status" in problem["errors"]


async def test_a_resolution_failing_at_its_last_step_leaves_no_trace(city, conn):
    """Events, status, history, notification and appeal state commit together or not at all."""
    ref, disputed = await reported_yellow(city)
    filed = await appeal(city, ref, disputed)
    path = f"/v1/appeals/{filed['appeal_id']}"
    officer = staff(city)
    await call(city, "POST", path + "/claim", officer)
    before = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM history) AS rows,
                  (SELECT count(*) FROM notifications) AS told"""
    )
    # The audit entry is the transaction's last write; make the database refuse it.
    await conn.execute(
        "ALTER TABLE audit_log ADD CONSTRAINT refuse CHECK (action <> 'appeal.correct')"
    )
    fix = {"outcome": "corrected", "note": "Wrong origin.", "corrections": {"void": [disputed]}}
    status, _ = await call(city, "POST", path + "/resolve", officer, fix)
    assert status == 500
    after = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM history) AS rows,
                  (SELECT count(*) FROM notifications) AS told"""
    )
    assert dict(after) == dict(before)
    assert (await city.status(ref))["color"] == "yellow"
    _, body = await call(city, "GET", path, officer)
    assert body["status"] == "in_review"

    await conn.execute("ALTER TABLE audit_log DROP CONSTRAINT refuse")
    status, body = await call(city, "POST", path + "/resolve", officer, fix)
    assert (status, body["status"]) == (200, "corrected")
    assert (await city.status(ref))["color"] == "green"
