"""Figures for the commission: colours as shown at the time, appeals per district."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from codesvc import db
from codesvc.api.app import create_app
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys
from tests.builders import arrival
from tests.conftest import Api, City, Clock


@pytest.fixture
async def town(
    settings: Settings, keys: AuthKeys, clock: Clock
) -> AsyncIterator[tuple[City, Clock]]:
    async with TestClient(TestServer(create_app(settings, clock))) as client:
        yield City(Api(client, keys)), clock


async def figures(city: City, query: str, headers: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    resp = await city.client.get(f"/v1/stats/colors?{query}", headers=headers or city.commission)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_colours_per_day_are_as_shown_at_the_time_and_a_late_correction_keeps_them(
    town, db_url
):
    city, clock = town
    start = clock()
    clock.offset = timedelta(days=-3)
    await city.list_area("440306", "medium", (start - timedelta(days=10)).isoformat())
    ref = await city.register("310101")
    await city.register("310115", "李四")
    clock.offset = timedelta(days=-2)
    (sent,) = await city.send(
        arrival(
            start - timedelta(days=2, hours=1), {"person_ref": ref}, reporting_district="310101"
        )
    )
    clock.offset = timedelta()
    window = {
        "from": (start - timedelta(days=3) + timedelta(hours=1)).isoformat(),
        "to": start.isoformat(),
        "step": "day",
    }
    query = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in window.items())
    city_wide = await figures(city, query)
    colours = [(s["green"], s["yellow"], s["red"]) for s in city_wide["steps"]]
    # Day by day: both green; then one yellow; and still yellow now.
    assert colours[0] == (2, 0, 0)
    assert colours[1] == (1, 1, 0)
    assert colours[-1] == (1, 1, 0)
    huangpu = await figures(city, query + "&district=310101")
    assert [s["yellow"] for s in huangpu["steps"]] == [0, 1, 1, 1]

    # A correction today makes him green now, and yesterday's figure stays what was shown.
    await city.send(
        {
            "event_id": "7d1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e81",
            "kind": "correction",
            "occurred_at": clock().isoformat(),
            "person": {"person_ref": ref},
            "data": {"voids": [sent["event_id"]], "reason": "wrong report"},
        },
        headers=city.commission,
    )
    later = query.replace(f"&to={window['to'].replace('+', '%2B')}", "")
    again = await figures(city, later + "&district=310101")
    assert [s["yellow"] for s in again["steps"]][:3] == [0, 1, 1]
    assert again["steps"][-1]["yellow"] == 0
    assert again["steps"][-1]["green"] == 1
    async with db.connect(db_url) as conn:
        stored = await conn.fetchval("SELECT count(*) FROM color_count_steps")
    assert stored == 3  # the past days are counted once and kept; now is counted live

    by = await figures(city, query + "&by=district")
    assert {d["district"] for d in by["districts"]} == {"310101", "310115"}


async def test_staff_get_their_own_districts_figures_only(town):
    city, _ = town
    await city.register("310101")
    pudong = city.api.auth("staff", "pudong-chen", "310115")
    own = await figures(city, "", headers=pudong)
    assert own["district"] == "310115"
    assert own["steps"][-1] == {**own["steps"][-1], "green": 0, "yellow": 0, "red": 0}
    for query in ("district=310101", "by=district"):
        resp = await city.client.get(f"/v1/stats/colors?{query}", headers=pudong)
        assert resp.status == 403
        resp = await city.client.get(f"/v1/stats/appeals?{query}", headers=pudong)
        assert resp.status == 403
    for bad in ("step=week", "from=yesterday", "from=2020-01-01T00:00:00%2B08:00&step=hour"):
        resp = await city.client.get(f"/v1/stats/colors?{bad}", headers=city.commission)
        assert resp.status == 422, bad


async def test_appeal_figures_count_decisions_overdue_and_the_median_hours(town):
    city, clock = town
    appeals = []
    for name in ("甲", "乙", "丙"):
        ref = await city.register("310101", name)
        resp = await city.client.post(
            "/v1/appeals",
            json={"category": "other", "description": "颜色不对"},
            headers=city.api.auth("citizen", ref),
        )
        appeals.append((await resp.json())["appeal_id"])
    officer = city.api.auth("staff", "huangpu-wang", "310101")
    clock.offset = timedelta(hours=2)
    await city.client.post(f"/v1/appeals/{appeals[0]}/claim", headers=officer)
    resp = await city.client.post(
        f"/v1/appeals/{appeals[0]}/resolve",
        json={"outcome": "upheld", "note": "核实无误"},
        headers=officer,
    )
    assert resp.status == 200, await resp.text()
    clock.offset = timedelta(hours=25)
    resp = await city.client.get("/v1/stats/appeals?district=310101", headers=officer)
    body = await resp.json()
    assert body == {
        "district": "310101",
        "filed": 3,
        "decided": 1,
        "open": 2,
        "overdue": 2,
        "median_hours_to_decision": 2.0,
    }
    city_wide = await (
        await city.client.get("/v1/stats/appeals?by=district", headers=city.commission)
    ).json()
    assert city_wide["district"] is None
    assert city_wide["filed"] == 3
    assert [d["district"] for d in city_wide["districts"]] == ["310101"]


async def test_the_chart_is_an_svg_drawn_by_the_service(town):
    city, _ = town
    await city.register("310101")
    resp = await city.client.get(
        "/v1/stats/colors.svg", headers={**city.commission, "Accept-Language": "en"}
    )
    assert resp.status == 200
    assert resp.content_type == "image/svg+xml"
    svg = await resp.text()
    assert svg.startswith("<svg")
    assert "<title" in svg
    assert "People by colour, the city" in svg
    assert svg.count("<polyline") == 3
    assert "green 1" in svg
