"""Evidence the machine can check: a lab result no one was tied to links itself to its owner."""

from __future__ import annotations

import uuid
from typing import Any

from tests.builders import ago, arrival, event, id_number, negative
from tests.conftest import City

PHONE = "13800138000"


async def person(city: City, name: str = "李娜", phone: str | None = PHONE) -> str:
    body = {"id_number": id_number("310101"), "name": name, "district": "310101"}
    if phone:
        body["phone"] = phone
    resp = await city.client.post("/v1/persons", json=body, headers=city.feeder)
    assert resp.status == 201
    return str((await resp.json())["person_ref"])


def lab_result(sample: str, name: str = "李娜", phone: str = PHONE, hours_ago: float = 24) -> dict:  # type: ignore[type-arg]
    """A negative result the lab could not tie to an id number: only a name and a phone."""
    return event(
        "test.result", ago(hours=hours_ago), None, result="negative", lab_id="lab-9",
        sample_id=sample, name=name, phone=phone,
    )  # fmt: skip


async def yellow_with_one_test(city: City, ref: str) -> None:
    """Back from a medium-risk area three days ago, with one of the two tests linked."""
    await city.list_area("440306", "medium", ago(days=14).isoformat())
    me = {"person_ref": ref}
    await city.send(arrival(ago(days=3), me), negative(ago(hours=50), me))
    status = await city.status(ref)
    assert status["color"] == "yellow"
    [r1] = [r for r in status["reasons"] if r["rule"] == "R1"]
    assert r1["tests_needed"] == 1


async def file_missing(city: City, ref: str, sample: str) -> tuple[int, dict[str, Any]]:
    resp = await city.client.post(
        "/v1/appeals",
        json={
            "category": "missing_test_result",
            "description": "My test yesterday never reached my code.",
            "evidence": {"lab_id": "lab-9", "sample_id": sample},
        },
        headers=city.api.auth("citizen", ref),
    )
    return resp.status, await resp.json()


async def test_a_matching_missing_result_is_linked_and_the_appeal_corrected_at_once(city, conn):
    ref = await person(city)
    await yellow_with_one_test(city, ref)
    unlinked = lab_result("S-77")
    [sent] = await city.send(unlinked)
    assert sent["status"] == "accepted"

    status, body = await file_missing(city, ref, "S-77")
    assert status == 201, body
    assert body["status"] == "corrected"
    assert [t["by"] for t in body["transitions"]] == ["citizen", "automatic check"]
    assert "S-77" in body["outcome_note"]
    assert (await city.status(ref))["color"] == "green"
    owner = await conn.fetchval(
        """SELECT p.person_ref FROM events e JOIN persons p USING (person_id)
           WHERE e.event_id = $1""",
        uuid.UUID(unlinked["event_id"]),
    )
    assert owner == ref
    history = await city.history(ref)
    assert any(i["superseded_by"] == f"appeal:{body['appeal_id']}" for i in history)

    # The lab sending the same result again is a duplicate, not a conflict.
    [again] = await city.send(unlinked)
    assert again["status"] == "duplicate"
    # No staff step: the queue is empty.
    queue = await city.client.get("/v1/appeals", headers=city.api.auth("staff", "s", "310101"))
    assert (await queue.json())["appeals"] == []


async def test_evidence_that_does_not_match_goes_to_the_queue(city, conn):
    ref = await person(city)
    await yellow_with_one_test(city, ref)
    wrong_phone = lab_result("S-78", phone="13900139000")
    await city.send(wrong_phone)

    status, body = await file_missing(city, ref, "S-78")
    assert status == 201
    assert body["status"] == "submitted"
    assert (await city.status(ref))["color"] == "yellow"
    still = await conn.fetchval(
        "SELECT person_id FROM events WHERE event_id = $1", uuid.UUID(wrong_phone["event_id"])
    )
    assert still is None
    queue = await city.client.get("/v1/appeals", headers=city.api.auth("staff", "s", "310101"))
    assert [a["appeal_id"] for a in (await queue.json())["appeals"]] == [body["appeal_id"]]

    # A sample no lab reported, and a person with no phone on record, queue the same way.
    status, body = await file_missing(city, ref, "S-NOPE")
    assert body["status"] == "submitted"
    no_phone = await person(city, name="赵六", phone=None)
    await city.send(lab_result("S-79", name="赵六"))
    status, body = await file_missing(city, no_phone, "S-79")
    assert body["status"] == "submitted"


async def test_district_staff_link_a_queued_result_by_adding_it(city):
    """What the machine could not check, staff can: they add the test to the record."""
    ref = await person(city)
    await yellow_with_one_test(city, ref)
    status, body = await file_missing(city, ref, "S-80")
    assert (status, body["status"]) == (201, "submitted")
    officer = city.api.auth("staff", "hp-officer", "310101")
    path = f"/v1/appeals/{body['appeal_id']}"
    await city.client.post(path + "/claim", headers=officer)
    resp = await city.client.post(
        path + "/resolve",
        json={
            "outcome": "corrected",
            "note": "The lab confirmed sample S-80 by phone.",
            "corrections": {"add": [negative(ago(hours=20), None, sample="S-80")]},
        },
        headers=officer,
    )
    assert resp.status == 200, await resp.text()
    assert (await city.status(ref))["color"] == "green"
