"""POST /v1/persons and /v1/events: every event answered, bad ones rejected with a reason."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta

from codesvc.service.verify import verify
from tests.builders import arrival, event, id_number, negative


async def test_registration_is_idempotent_on_the_id_number(city):
    body = {"id_number": id_number(), "name": "李四", "district": "310104"}
    first = await city.client.post("/v1/persons", json=body, headers=city.feeder)
    again = await city.client.post("/v1/persons", json=body, headers=city.feeder)
    assert first.status == 201
    assert again.status == 200
    assert (await first.json())["person_ref"] == (await again.json())["person_ref"]


async def test_registration_names_each_bad_field(city):
    resp = await city.client.post(
        "/v1/persons",
        json={"id_number": "310101199001011235", "name": "", "district": "31"},
        headers=city.feeder,
    )
    assert resp.status == 422
    body = await resp.json()
    assert set(body["errors"]) == {"id_number", "name", "district"}
    assert "check digit" in body["errors"]["id_number"]


async def test_id_numbers_are_never_stored_or_returned(city, conn):
    number = id_number()
    resp = await city.client.post(
        "/v1/persons",
        json={"id_number": number, "name": "王五", "district": "310101"},
        headers=city.feeder,
    )
    assert number not in await resp.text()
    dump = await conn.fetchval("SELECT string_agg(p::text, ' ') FROM persons p")
    assert number not in dump


async def test_each_event_gets_its_own_answer(city):
    ref = await city.register()
    person = {"person_ref": ref}
    good = arrival("2022-02-08T10:00:00+08:00", person)
    future = negative(datetime.now(UTC) + timedelta(hours=1), person)
    results = await city.send(
        good,
        good,
        {**good, "data": {**good["data"], "area_code": "510107"}},
        event("travel.departure", "2022-02-08T10:00:00+08:00", person),
        {k: v for k, v in negative("2022-02-09T10:00:00+08:00", person).items() if k != "kind"},
        event(
            "test.result",
            "2022-02-09T10:00:00+08:00",
            person,
            result="maybe",
            lab_id="l",
            sample_id="s",
        ),
        event("test.result", "yesterday", person, result="negative", lab_id="l", sample_id="s"),
        future,
        arrival("2022-02-08T10:00:00+08:00", {"person_ref": "p_NOSUCHPERSON"}),
        event(
            "correction",
            "2022-02-10T10:00:00+08:00",
            person,
            voids=[good["event_id"]],
            reason="wrong",
        ),
    )
    statuses = [r["status"] for r in results]
    assert statuses == ["accepted", "duplicate", "rejected"] + ["rejected"] * 7
    errors = [r.get("error", "") for r in results]
    assert "different content" in errors[2]
    assert "unknown kind 'travel.departure'" in errors[3]
    assert results[4]["errors"] == {"kind": "is required"}
    assert "negative, positive" in results[5]["errors"]["data.result"]
    assert "RFC 3339" in results[6]["errors"]["occurred_at"]
    assert "future" in errors[7]
    assert "unknown person_ref" in errors[8]
    assert "corrections come from" in errors[9]
    # An operator's counters say the same, by kind and outcome.
    metrics = await (await city.client.get("/metrics")).text()
    for labels, count in {
        'kind="travel.arrival",status="accepted"': 1,
        'kind="travel.arrival",status="duplicate"': 1,
        'kind="travel.arrival",status="rejected"': 2,
        'kind="test.result",status="rejected"': 1,  # the one from the future
        'kind="other",status="rejected"': 4,  # not an event of any kind
        'kind="correction",status="rejected"': 1,
    }.items():
        assert f"codesvc_events_total{{{labels}}} {float(count)}" in metrics


async def test_resending_an_accepted_event_later_is_a_duplicate(city):
    ref = await city.register()
    e = arrival("2022-02-08T10:00:00+08:00", {"person_ref": ref})
    assert (await city.send(e))[0]["status"] == "accepted"
    assert (await city.send(e))[0]["status"] == "duplicate"
    changed = {**e, "occurred_at": "2022-02-08T11:00:00+08:00"}
    assert (await city.send(changed))[0]["status"] == "rejected"


async def test_a_rejected_event_changes_nothing(city):
    ref = await city.register()
    before = await city.status(ref)
    results = await city.send(
        event(
            "travel.arrival",
            "2022-02-08T10:00:00+08:00",
            {"person_ref": ref},
            area_code="44030X",
            source="itinerary",
        )
    )
    assert results[0]["status"] == "rejected"
    assert results[0]["errors"]["data.area_code"]
    after = await city.status(ref)
    assert after["color"] == before["color"] == "green"
    assert after["since"] == before["since"]


async def test_an_unknown_id_number_registers_the_person(city):
    number = id_number("310115")
    results = await city.send(arrival("2022-02-08T10:00:00+08:00", {"id_number": number}))
    assert results[0]["status"] == "accepted"
    resp = await city.client.post(
        "/v1/persons",
        json={"id_number": number, "name": "赵六", "district": "310115"},
        headers=city.feeder,
    )
    assert resp.status == 200  # already registered by the event


async def test_batch_limits_and_malformed_bodies(city):
    too_many = {"events": [arrival("2022-02-08T10:00:00+08:00", {"person_ref": "x"})] * 1001}
    resp = await city.client.post("/v1/events", json=too_many, headers=city.feeder)
    assert resp.status == 422
    assert "events" in (await resp.json())["errors"]
    resp = await city.client.post("/v1/events", data=b"{not json", headers=city.feeder)
    assert resp.status == 400
    assert "not valid JSON" in (await resp.json())["detail"]
    resp = await city.client.post("/v1/events", json=[1, 2], headers=city.feeder)
    assert resp.status == 422
    resp = await city.client.post(
        "/v1/events", data=io.BytesIO(b"x" * (5 * 1024 * 1024)), headers=city.feeder
    )
    assert resp.status == 413
    assert resp.content_type == "application/problem+json"


async def test_roles_that_may_not_send_events(city):
    for role in ("citizen", "scanner"):
        resp = await city.client.post(
            "/v1/events",
            json={"events": [arrival("2022-02-08T10:00:00+08:00", {"person_ref": "x"})]},
            headers=city.api.auth(role, "someone"),
        )
        assert resp.status == 403
        assert "feeder" in (await resp.json())["detail"]


async def test_district_staff_report_arrivals_for_their_own_district_only(city):
    ref = await city.register()
    staff = city.api.auth("staff", "officer-1", "310104")
    own = arrival("2022-02-08T10:00:00+08:00", {"person_ref": ref})
    other = arrival("2022-02-09T10:00:00+08:00", {"person_ref": ref}, reporting_district="310101")
    results = await city.send(own, other, headers=staff)
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert "310104" in results[1]["error"]


async def test_concurrent_batches_for_one_person_lose_nothing(city, conn, settings):
    ref = await city.register()
    person = {"person_ref": ref}
    start = datetime(2022, 2, 1, tzinfo=UTC)
    batches = [
        [negative(start + timedelta(hours=i * 10 + j), person) for j in range(5)] for i in range(8)
    ]
    batches[3].append(arrival(start - timedelta(days=1), person))  # yellow until two tests
    answers = await asyncio.gather(*(city.send(*batch) for batch in batches))
    assert all(r["status"] == "accepted" for results in answers for r in results)
    stored = await conn.fetchval(
        "SELECT count(*) FROM events e JOIN persons p USING (person_id) WHERE p.person_ref = $1",
        ref,
    )
    assert stored == 41
    # Whichever batch committed last, the stored status and history took in every event.
    report = await verify(conn, settings.rules, datetime.now(UTC))
    assert report.differences == []


async def test_a_result_the_lab_could_not_tie_to_anyone_is_kept(city, conn):
    unlinked = event(
        "test.result",
        "2022-02-09T10:00:00+08:00",
        None,
        result="negative",
        lab_id="lab-7",
        sample_id="S-123",
        name="张三",
        phone="13800138000",
    )
    missing_phone = event(
        "test.result",
        "2022-02-09T10:00:00+08:00",
        None,
        result="negative",
        lab_id="lab-7",
        sample_id="S-124",
        name="张三",
    )
    results = await city.send(unlinked, missing_phone)
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert "data.phone" in results[1]["errors"]
    row = await conn.fetchrow(
        "SELECT person_id, data FROM events WHERE event_id = $1", uuid.UUID(unlinked["event_id"])
    )
    assert row["person_id"] is None
    assert row["data"]["sample_id"] == "S-123"


async def test_fields_of_the_wrong_json_type_are_rejected_not_crashed_on(city):
    """Found by fuzzing the OpenAPI document: a kind that is an object once gave a 500."""
    results = await city.send(
        {"event_id": "", "kind": {}, "occurred_at": "", "person": None, "data": {}},
        {"event_id": [], "kind": "test.result", "occurred_at": 5, "person": [], "data": {}},
    )
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert "kind" in results[0]["errors"]
    assert {"event_id", "occurred_at"} <= set(results[1]["errors"])
