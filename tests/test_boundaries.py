"""District boundaries on writes, and designations that name a real case (SPEC §9)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.builders import ago, arrival, event, id_number, negative, positive
from tests.conftest import City

HUANGPU, PUDONG = "310101", "310115"
NOT_YOURS = "person not in your district"


async def a_case(city: City, district: str = HUANGPU) -> str:
    """The event id of a stored positive result of a person of ``district``."""
    ref = await city.register(district, "病例")
    result = positive(ago(days=2), {"person_ref": ref})
    [sent] = await city.send(result)
    assert sent["status"] == "accepted"
    return str(result["event_id"])


def designation(ref: str, case: str, level: str = "close") -> dict[str, Any]:
    return event("contact.designated", ago(days=1), {"person_ref": ref}, level=level, case_ref=case)


async def test_district_staff_move_codes_only_of_their_own_people(city):
    case = await a_case(city)
    stranger, own = await city.register(HUANGPU), await city.register(PUDONG)
    pudong_staff = city.api.auth("staff", "pd-officer", PUDONG)
    results = await city.send(
        designation(stranger, case),
        event("case.discharged", ago(hours=1), {"person_ref": stranger}, case_ref="c-1"),
        designation(own, case),
        headers=pudong_staff,
    )
    assert [r["status"] for r in results] == ["rejected", "rejected", "accepted"]
    assert results[0]["error"] == NOT_YOURS
    assert results[1]["error"] == NOT_YOURS
    assert (await city.status(stranger))["color"] == "green"
    assert (await city.status(own))["color"] == "red"


async def test_a_district_feed_sends_results_only_for_its_people(city):
    stranger, own = await city.register(HUANGPU), await city.register(PUDONG)
    pudong_lab = city.api.auth("feeder", "pd-lab", PUDONG)
    results = await city.send(
        positive(ago(hours=3), {"person_ref": stranger}),
        positive(ago(hours=3), {"person_ref": own}),
        headers=pudong_lab,
    )
    assert [(r["status"], r.get("error")) for r in results] == [
        ("rejected", NOT_YOURS),
        ("accepted", None),
    ]
    assert (await city.status(stranger))["color"] == "green"


async def test_a_rejected_event_registers_nobody_from_another_district(city, conn):
    pudong_lab = city.api.auth("feeder", "pd-lab", PUDONG)
    [result] = await city.send(
        positive(ago(hours=3), {"id_number": id_number(HUANGPU)}), headers=pudong_lab
    )
    assert (result["status"], result.get("error")) == ("rejected", NOT_YOURS)
    assert await conn.fetchval("SELECT count(*) FROM persons") == 0


async def test_a_district_reports_arrivals_of_anyone_under_its_own_name(city, conn):
    stranger = await city.register(HUANGPU)
    pudong_staff = city.api.auth("staff", "pd-officer", PUDONG)
    found = arrival(ago(hours=5), {"person_ref": stranger}, source="district_report")
    named_other = arrival(
        ago(hours=5), {"person_ref": stranger}, area="510107", reporting_district=HUANGPU
    )
    results = await city.send(found, named_other, headers=pudong_staff)
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    stored = await conn.fetchval(
        "SELECT data->>'reporting_district' FROM events WHERE event_id = $1", found["event_id"]
    )
    assert stored == PUDONG


async def test_city_wide_feeds_and_the_commission_send_for_anyone(city):
    case = await a_case(city, PUDONG)
    first, second = await city.register(HUANGPU), await city.register(PUDONG)
    assert [r["status"] for r in await city.send(designation(first, case))] == ["accepted"]
    results = await city.send(designation(second, case, "secondary"), headers=city.commission)
    assert [r["status"] for r in results] == ["accepted"]


async def test_an_appeal_routed_to_a_district_lets_it_correct_the_appellant(city):
    """Pudong reported a Huangpu resident's arrival; the appeal goes to Pudong, which may
    correct that person although they are registered in Huangpu."""
    await city.list_area("440306", "medium", ago(days=14).isoformat())
    ref = await city.register(HUANGPU)
    pudong_staff = city.api.auth("staff", "pd-officer", PUDONG)
    report = arrival(ago(hours=30), {"person_ref": ref}, source="district_report")
    [sent] = await city.send(report, headers=pudong_staff)
    assert sent["status"] == "accepted"
    resp = await city.client.post(
        "/v1/appeals",
        json={
            "category": "wrong_travel_record",
            "description": "I was never there.",
            "disputed_event_id": report["event_id"],
        },
        headers=city.api.auth("citizen", ref),
    )
    filed = await resp.json()
    assert filed["district"] == PUDONG
    path = f"/v1/appeals/{filed['appeal_id']}"
    assert (await city.client.post(path + "/claim", headers=pudong_staff)).status == 200
    resp = await city.client.post(
        path + "/resolve",
        json={
            "outcome": "corrected",
            "note": "The report named the wrong person.",
            "corrections": {
                "void": [report["event_id"]],
                "add": [negative(ago(hours=2), None)],
            },
        },
        headers=pudong_staff,
    )
    assert resp.status == 200, await resp.text()
    assert (await city.status(ref))["color"] == "green"


async def test_a_designation_needs_a_stored_positive_result_of_someone_else(city):
    ref, other = await city.register(), await city.register()
    [own_positive] = [positive(ago(days=3), {"person_ref": ref})]
    negative_result = negative(ago(days=3), {"person_ref": other})
    await city.send(own_positive, negative_result)
    results = await city.send(
        designation(ref, "case-9"),
        designation(ref, "6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"),
        designation(ref, negative_result["event_id"]),
        designation(other, negative_result["event_id"]),
        designation(ref, own_positive["event_id"]),
        headers=city.commission,
    )
    assert [(r["status"], r.get("error")) for r in results] == [("rejected", "unknown case")] * 5
    assert (await city.status(other))["color"] == "green"


async def test_a_case_sent_in_the_same_batch_can_be_named(city):
    case_person, contact = await city.register(), await city.register()
    result = positive(ago(days=2), {"person_ref": case_person})
    results = await city.send(result, designation(contact, result["event_id"]))
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    status = await city.status(contact)
    assert status["color"] == "red"
    assert status["reasons"][0]["rule"] == "R3"


async def test_a_voided_case_is_no_case(city):
    case_person, contact = await city.register(), await city.register()
    result = positive(ago(days=2), {"person_ref": case_person})
    await city.send(result)
    void = event(
        "correction",
        ago(days=1),
        {"person_ref": case_person},
        voids=[result["event_id"]],
        reason="sample mixed up",
    )
    assert [r["status"] for r in await city.send(void, headers=city.commission)] == ["accepted"]
    [late] = await city.send(designation(contact, result["event_id"]))
    assert (late["status"], late.get("error")) == ("rejected", "unknown case")


async def test_an_appeal_cannot_add_a_designation_without_a_case(city):
    await city.list_area("440306", "medium", ago(days=14).isoformat())
    ref = await city.register(HUANGPU)
    report = arrival(ago(hours=30), {"person_ref": ref}, source="district_report")
    await city.send(report)
    resp = await city.client.post(
        "/v1/appeals",
        json={"category": "other", "description": "wrong", "disputed_event_id": report["event_id"]},
        headers=city.api.auth("citizen", ref),
    )
    filed = await resp.json()
    officer = city.api.auth("staff", "hp-officer", filed["district"])
    path = f"/v1/appeals/{filed['appeal_id']}"
    await city.client.post(path + "/claim", headers=officer)
    bogus = event(
        "contact.designated", ago(days=1) - timedelta(hours=1), None, level="close", case_ref="x"
    )
    resp = await city.client.post(
        path + "/resolve",
        json={"outcome": "corrected", "note": "n", "corrections": {"add": [bogus]}},
        headers=officer,
    )
    assert resp.status == 422
    assert "unknown case" in (await resp.text())


async def test_the_demo_city_designates_contacts_of_real_cases(conn, db_url, settings):
    from codesvc import db, demo

    pool = await db.create_pool(db_url, settings)
    try:
        city = await demo.load(
            pool, people=30, id_secret=b"demo-id-secret-0123456789", rules=settings.rules
        )
    finally:
        await pool.close()
    designations = await conn.fetchval(
        "SELECT count(*) FROM events WHERE kind = 'contact.designated'"
    )
    assert designations == 3
    assert "red" in city.sample
