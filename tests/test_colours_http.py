"""SPEC §3 end to end: each rule moves a colour through HTTP, and every colour explains itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.builders import ago, arrival, event, negative, positive

T = "2022-02-08T10:00:00+08:00"


def iso(t: datetime) -> str:
    return t.isoformat()


async def test_tour_medium_risk_arrival_then_two_tests(city):
    """The README's tour: yellow with a reason, two negative tests, green."""
    await city.list_area("440306", "medium", "2022-02-01T00:00:00+08:00")
    ref = await city.register()
    me = {"person_ref": ref}
    trip = arrival(T, me, reporting_district="310101")
    await city.send(trip)
    status = await city.status(ref, lang="en")
    assert status["color"] == "yellow"
    r1 = next(r for r in status["reasons"] if r["rule"] == "R1")
    assert r1["event_id"] == trip["event_id"]
    assert r1["tests_needed"] == 2
    assert r1["sampled_after"] == "2022-02-08T02:00:00+00:00"
    assert "medium-risk" in r1["text"]
    zh = await city.status(ref)
    assert "中风险" in next(r["text"] for r in zh["reasons"] if r["rule"] == "R1")

    await city.send(
        negative("2022-02-09T09:00:00+08:00", me), negative("2022-02-10T09:00:00+08:00", me)
    )
    status = await city.status(ref)
    assert status["color"] == "green"
    assert status["since"] == "2022-02-10T01:00:00+00:00"
    assert status["reasons"] == []


async def test_high_risk_arrival_is_red_for_fourteen_days_then_monitored(city):
    await city.list_area("510107", "high", "2022-01-01T00:00:00+08:00")
    ref = await city.register()
    me = {"person_ref": ref}
    t = datetime(2022, 3, 1, 10, tzinfo=UTC)
    await city.send(arrival(t, me, area="510107"))
    status = await city.status(ref)
    assert status["color"] == "red"
    r2 = next(r for r in status["reasons"] if r["rule"] == "R2")
    assert r2["ends_at"] == iso(t + timedelta(days=14))
    assert r2["sampled_after"] == iso(t + timedelta(days=10))
    # Tests on day 10 and 11: red ends at day 14, then seven days of yellow, then green.
    await city.send(negative(t + timedelta(days=10), me), negative(t + timedelta(days=11), me))
    intervals = [i for i in await city.history(ref) if i["superseded_at"] is None]
    colours = [(i["from"], i["color"]) for i in intervals if i["from"] >= iso(t)]
    assert colours == [
        (iso(t), "red"),
        (iso(t + timedelta(days=14)), "yellow"),
        (iso(t + timedelta(days=21)), "green"),
    ]


async def test_close_and_secondary_contacts(city):
    close, secondary, case = await city.register(), await city.register(), await city.register()
    result = positive(T, {"person_ref": case})
    sent = await city.send(
        result,
        event("contact.designated", T, {"person_ref": close}, level="close",
              case_ref=result["event_id"]),
        event("contact.designated", T, {"person_ref": secondary}, level="secondary",
              case_ref=result["event_id"]),
    )  # fmt: skip
    assert [r["status"] for r in sent] == ["accepted"] * 3
    assert (await city.status(close))["reasons"][0]["rule"] == "R3"
    assert (await city.status(close))["color"] == "red"
    assert (await city.status(secondary))["color"] == "yellow"
    assert (await city.status(secondary))["reasons"][0]["rule"] == "R4"


async def test_a_positive_test_is_red_until_discharge_then_yellow_for_seven_days(city):
    ref = await city.register()
    me = {"person_ref": ref}
    t = ago(days=30)
    await city.send(
        positive(t, me), negative(t + timedelta(days=2), me), negative(t + timedelta(days=4), me)
    )
    status = await city.status(ref)
    assert status["color"] == "red"
    assert status["reasons"][0]["rule"] == "R5"
    await city.send(event("case.discharged", t + timedelta(days=10), me, case_ref="c-9"))
    status = await city.status(ref)
    assert status["color"] == "green"  # discharged 20 days ago: the 7-day yellow is over
    shown = [i["color"] for i in await city.history(ref) if i["superseded_at"] is None]
    assert shown[-3:] == ["red", "yellow", "green"]


async def test_landing_tests_missed_turn_yellow_after_72_hours(city):
    ref = await city.register()
    me = {"person_ref": ref}
    await city.send(arrival(ago(hours=100), me, area="110101"))
    status = await city.status(ref, lang="en")
    assert status["color"] == "yellow"
    assert status["reasons"][0]["rule"] == "R6"
    assert "landing" in status["reasons"][0]["text"]


async def test_landing_tests_done_in_time_keep_green(city):
    ref = await city.register()
    me = {"person_ref": ref}
    t = ago(hours=100)
    await city.send(
        arrival(t, me, area="110101"),
        negative(t + timedelta(hours=1), me),
        negative(t + timedelta(hours=25), me),
    )
    assert (await city.status(ref))["color"] == "green"


async def test_a_deadline_passing_moves_the_code_with_no_new_event(city, clock, conn):
    """R6 turns yellow at t + 72 h: the read shows it at once, the sweeper stores it."""
    ref = await city.register()
    me = {"person_ref": ref}
    deadline = clock() + timedelta(hours=1)
    await city.send(arrival(deadline - timedelta(hours=72), me, area="110101"))
    status = await city.status(ref)
    assert status["color"] == "green"
    assert status["next_change_at"] == iso(deadline)
    clock.advance(hours=1, seconds=1)
    assert (await city.status(ref))["color"] == "yellow"  # evaluated on read
    stored = "SELECT color FROM statuses JOIN persons USING (person_id) WHERE person_ref = $1"
    await city.api.sweep()
    assert await conn.fetchval(stored, ref) == "yellow"


async def test_a_backdated_listing_reevaluates_exactly_the_people_it_affects(city):
    travelled, stayed = await city.register(), await city.register()
    t = ago(days=2)
    await city.send(
        arrival(t, {"person_ref": travelled}, area="440306"),
        arrival(t, {"person_ref": stayed}, area="110101"),
    )
    assert (await city.status(travelled))["color"] == "green"
    since = iso(t - timedelta(days=7))
    preview = await city.client.put(
        "/v1/risk-areas/440306?dry_run=true",
        json={"level": "medium", "valid_from": since},
        headers=city.commission,
    )
    body = await preview.json()
    assert body["dry_run"] is True
    assert body["affected"] == 1
    assert body["changes"] == [{"before": "green", "after": "yellow", "people": 1}]
    assert (await city.status(travelled))["color"] == "green"  # a dry run changes nothing

    listed = await city.list_area("440306", "medium", since)
    assert listed["affected"] is None  # counted by the job
    assert (await city.status(travelled))["color"] == "yellow"
    assert (await city.status(stayed))["color"] == "green"
    areas = await (await city.client.get("/v1/risk-areas", headers=city.feeder)).json()
    assert [(a["area_code"], a["level"]) for a in areas["listings"]] == [("440306", "medium")]

    # Ending the listing before the arrival clears the code again.
    await city.list_area("440306", "medium", since, valid_to=iso(t - timedelta(days=1)))
    assert (await city.status(travelled))["color"] == "green"


async def test_a_campaign_turns_the_untested_yellow_until_one_negative_test(city, clock):
    tested, untested, elsewhere = (
        await city.register("310104"),
        await city.register("310104"),
        await city.register("310101"),
    )
    start, end = ago(days=3), clock() + timedelta(hours=1)
    await city.send(negative(ago(hours=5), {"person_ref": tested}))
    campaign = {"districts": ["310104"], "starts_at": iso(start), "ends_at": iso(end)}
    dry = await city.client.post(
        "/v1/campaigns?dry_run=true", json=campaign, headers=city.commission
    )
    assert dry.status == 200
    preview = await dry.json()
    assert (preview["affected"], preview["changes"], preview["campaign_id"]) == (1, [], None)
    resp = await city.client.post("/v1/campaigns", json=campaign, headers=city.commission)
    assert resp.status == 201
    assert (await city.status(untested))["next_change_at"] == iso(end)
    clock.advance(hours=1, seconds=1)
    status = await city.status(untested)
    assert status["color"] == "yellow"
    reason = status["reasons"][0]
    assert (reason["rule"], reason["tests_needed"]) == ("R8", 1)
    assert (await city.status(tested))["color"] == "green"
    assert (await city.status(elsewhere))["color"] == "green"
    await city.send(negative(clock(), {"person_ref": untested}))
    assert (await city.status(untested))["color"] == "green"


async def test_invalid_listing_and_campaign_bodies(city):
    resp = await city.client.put(
        "/v1/risk-areas/4403", json={"level": "medium", "valid_from": T}, headers=city.commission
    )
    assert resp.status == 422
    resp = await city.client.put(
        "/v1/risk-areas/440306",
        json={"level": "severe", "valid_from": "2022-02-08T10:00:00"},
        headers=city.commission,
    )
    assert resp.status == 422
    assert set((await resp.json())["errors"]) == {"level", "valid_from"}
    resp = await city.client.post(
        "/v1/campaigns",
        json={"districts": ["310104"], "starts_at": T, "ends_at": T},
        headers=city.commission,
    )
    assert resp.status == 422
    resp = await city.client.put(
        "/v1/risk-areas/440306", json={"level": "medium", "valid_from": T}, headers=city.feeder
    )
    assert resp.status == 403


async def test_staff_see_only_their_districts_people(city):
    ref = await city.register("310104")
    own = city.api.auth("staff", "officer-1", "310104")
    other = city.api.auth("staff", "officer-2", "310101")
    assert (await city.client.get(f"/v1/persons/{ref}/status", headers=own)).status == 200
    resp = await city.client.get(f"/v1/persons/{ref}/history", headers=other)
    assert resp.status == 404
    assert "not one you may see" in (await resp.json())["detail"]
    assert (
        await city.client.get(f"/v1/persons/{ref}/status", headers=city.commission)
    ).status == 200
    resp = await city.client.get(f"/v1/persons/{ref}/status", headers=city.api.auth("citizen", ref))
    assert resp.status == 403


async def test_a_late_result_keeps_what_was_shown(city):
    """Bitemporal: the yellow shown before a late lab result stays readable as shown."""
    await city.list_area("440306", "medium", "2022-01-01T00:00:00+08:00")
    ref = await city.register()
    me = {"person_ref": ref}
    t = ago(days=5)
    await city.send(arrival(t, me))
    await city.send(negative(t + timedelta(hours=2), me), negative(t + timedelta(hours=30), me))
    believed = await city.history(ref)
    superseded = [i for i in believed if i["superseded_at"]]
    assert any(
        i["color"] == "yellow" and i["superseded_by"].startswith("event:") for i in superseded
    )
    current = [i for i in believed if i["superseded_at"] is None]
    assert current[-1]["color"] == "green"
    assert current[-1]["from"] == iso(t + timedelta(hours=30))
    shown = await city.history(ref, as_shown=True)
    assert [i["color"] for i in shown][-2:] == ["yellow", "green"]  # yellow was shown until now
