"""Citizens are told when their colour changes or their appeal moves, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.builders import ago, arrival, negative


async def told(city, ref, query: str = "") -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    resp = await city.client.get(
        "/v1/me/notifications" + query, headers=city.api.auth("citizen", ref)
    )
    assert resp.status == 200
    return list((await resp.json())["notifications"])


async def test_a_colour_change_is_told_a_non_change_is_not(city):
    await city.list_area("440306", "medium", ago(days=14).isoformat())
    ref = await city.register()
    me = {"person_ref": ref}
    await city.send(negative(ago(days=5), me))  # green stays green
    assert await told(city, ref) == []
    trip = arrival(ago(days=3), me)
    await city.send(trip)
    [yellow] = await told(city, ref)
    assert yellow["kind"] == "color_changed"
    assert yellow["detail"] == {
        "before": "green",
        "after": "yellow",
        "since": datetime.fromisoformat(trip["occurred_at"]).astimezone(UTC).isoformat(),
        "cause": f"event:{trip['event_id']}",
    }
    assert yellow["read_at"] is None
    await city.send(negative(ago(days=2), me), negative(ago(hours=12), me))
    green, _ = await told(city, ref)
    assert (green["detail"]["before"], green["detail"]["after"]) == ("yellow", "green")
    # Nobody else is told.
    assert await told(city, await city.register()) == []


async def test_time_moving_a_code_is_told_too(city, clock):
    ref = await city.register()
    until = clock() + timedelta(hours=1)
    resp = await city.client.post(
        "/v1/overrides",
        json={"person_ref": ref, "color": "yellow", "reason": "Check.", "until": until.isoformat()},
        headers=city.api.auth("commission", "m1"),
    )
    proposal = await resp.json()
    await city.client.post(
        f"/v1/overrides/{proposal['override_id']}/approve",
        headers=city.api.auth("commission", "m2"),
    )
    [set_by_hand] = await told(city, ref)
    clock.advance(hours=1, seconds=1)
    await city.api.sweep()
    lapsed, _ = await told(city, ref)
    assert set_by_hand["detail"]["cause"] == f"override:{proposal['override_id']}"
    assert (lapsed["detail"]["after"], lapsed["detail"]["cause"]) == ("green", "time")


async def test_appeal_moves_are_told_and_refused_steps_are_not(city):
    ref = await city.register("310104")
    resp = await city.client.post(
        "/v1/appeals",
        json={"category": "other", "description": "My code is wrong."},
        headers=city.api.auth("citizen", ref),
    )
    appeal_id = (await resp.json())["appeal_id"]
    officer = city.api.auth("staff", "xh", "310104")
    await city.client.post(f"/v1/appeals/{appeal_id}/claim", headers=officer)
    refused = await city.client.post(f"/v1/appeals/{appeal_id}/claim", headers=officer)
    assert refused.status == 409
    resp = await city.client.post(
        f"/v1/appeals/{appeal_id}/resolve",
        json={"outcome": "upheld", "note": "Your code follows your records."},
        headers=officer,
    )
    assert resp.status == 200
    notes = await told(city, ref)
    assert [(n["kind"], n["detail"]["from"], n["detail"]["to"]) for n in notes] == [
        ("appeal_changed", "in_review", "upheld"),
        ("appeal_changed", "submitted", "in_review"),
    ]
    assert notes[0]["detail"]["note"] == "Your code follows your records."
    assert notes[0]["detail"]["appeal_id"] == appeal_id


async def test_notifications_can_be_marked_read(city):
    await city.list_area("440306", "medium", ago(days=14).isoformat())
    ref = await city.register()
    me = {"person_ref": ref}
    await city.send(arrival(ago(days=3), me))
    await city.send(negative(ago(days=2), me), negative(ago(hours=12), me))
    newest, oldest = await told(city, ref)
    resp = await city.client.post(
        "/v1/me/notifications/read",
        json={"up_to": oldest["notification_id"]},
        headers=city.api.auth("citizen", ref),
    )
    assert (await resp.json()) == {"marked": 1}
    [unread] = await told(city, ref, "?unread=true")
    assert unread["notification_id"] == newest["notification_id"]
    # Someone else's ids mark nothing of theirs.
    other = await city.register()
    resp = await city.client.post(
        "/v1/me/notifications/read",
        json={"up_to": newest["notification_id"]},
        headers=city.api.auth("citizen", other),
    )
    assert (await resp.json()) == {"marked": 0}
    assert len(await told(city, ref, "?unread=true")) == 1
