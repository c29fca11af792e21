"""The door: what a scanner is shown, what is recorded, and what a scanner is refused."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from codesvc.api.app import create_app
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys
from tests.builders import arrival, id_number
from tests.conftest import Api, Clock
from tests.netproxy import DatabaseLink

ROOT = Path(__file__).resolve().parent.parent
ANSWER_FIELDS = {"color", "name_masked", "as_of", "scan_id"}


@contextlib.asynccontextmanager
async def server(
    settings: Settings, keys: AuthKeys, clock: Clock | None = None, **changes: object
) -> AsyncIterator[Api]:
    app = create_app(dataclasses.replace(settings, **changes), clock or Clock())  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        yield Api(client, keys)


async def register(api: Api, name: str = "张三") -> tuple[str, str]:
    """A new person: their person_ref and id number."""
    number = id_number()
    resp = await api.client.post(
        "/v1/persons",
        json={"id_number": number, "name": name, "district": "310101"},
        headers=api.auth("feeder"),
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["person_ref"]), number


async def code_of(api: Api, person_ref: str) -> str:
    resp = await api.client.get("/v1/me/code", headers=api.auth("citizen", person_ref))
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["code"])


async def scan(api: Api, venue: str = "venue-1", **body: object) -> aiohttp.ClientResponse:
    return await api.client.post("/v1/scans", json=body, headers=api.auth("scanner", venue))


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("John Smith", "J*** S***")],
)
async def test_scanner_sees_colour_and_masked_name_only(api, name, masked):
    ref, number = await register(api, name)
    for body in ({"code": await code_of(api, ref)}, {"id_number": number}):
        resp = await scan(api, **body)
        assert resp.status == 200, await resp.text()
        text = await resp.text()
        answer = await resp.json()
        assert set(answer) == ANSWER_FIELDS
        assert answer["color"] == "green"
        assert answer["name_masked"] == masked
        assert name not in text
        assert number not in text
        assert ref not in text


async def test_every_answered_scan_is_recorded_with_the_colour_shown(api, conn):
    people = [await register(api, f"{surname}三") for surname in "王李张刘陈"]
    bodies = [{"code": await code_of(api, ref)} for ref, _ in people]
    bodies += [{"id_number": number} for _, number in people[:2]]
    scans = [scan(api, f"venue-{n % 10}", **bodies[n % len(bodies)]) for n in range(70)]
    answers = []
    for resp in await asyncio.gather(*scans):
        assert resp.status == 200, await resp.text()
        answers.append(await resp.json())
    rows = await conn.fetch(
        "SELECT scan_id::text, venue, color, method FROM scans ORDER BY scanned_at"
    )
    recorded = {r["scan_id"]: r for r in rows}
    assert len(recorded) == 70
    assert {a["scan_id"] for a in answers} == set(recorded)
    assert all(recorded[a["scan_id"]]["color"] == a["color"] for a in answers)
    assert {r["method"] for r in rows} == {"code", "id_number"}
    # Concurrent scans shared their round trips: fewer groups were committed than scans.
    metrics = await (await api.client.get("/metrics")).text()
    groups = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("codesvc_scan_group_size_count")
    )
    assert 1 <= groups < 70


async def test_unknown_id_number_is_not_found(api):
    resp = await scan(api, id_number=id_number())
    assert resp.status == 404
    assert "No one is registered" in (await resp.json())["detail"]


async def test_a_scan_is_a_code_or_an_id_number(api):
    ref, number = await register(api)
    code = await code_of(api, ref)
    for body, field in (
        ({}, "code"),
        ({"code": code, "id_number": number}, "body"),
        ({"id_number": "310101199001011235"}, "id_number"),
        ({"code": 42}, "code"),
        ({"badge": "x"}, "badge"),
    ):
        resp = await scan(api, **body)
        assert resp.status == 422, body
        problem = await resp.json()
        assert resp.content_type == "application/problem+json"
        assert field in problem["errors"], problem
    resp = await api.client.post(
        "/v1/scans", data=b"{not json", headers=api.auth("scanner", "venue-1")
    )
    assert resp.status == 400


async def test_only_scanners_scan(api):
    ref, _ = await register(api)
    code = await code_of(api, ref)
    resp = await api.client.post("/v1/scans", json={"code": code}, headers=api.auth("citizen", ref))
    assert resp.status == 403
    resp = await api.client.post("/v1/scans", json={"code": code})
    assert resp.status == 401


async def test_scan_never_shows_a_colour_past_its_deadline(settings, keys, clock, conn):
    """R6: an arrival 72 h minus a moment ago turns yellow when the landing window closes,
    with no new event and before the sweeper runs."""
    async with server(settings, keys, clock, sweep_interval=3600.0) as api:
        ref, number = await register(api, "李四")
        deadline = clock() + timedelta(seconds=30)  # within the code's minute
        resp = await api.client.post(
            "/v1/events",
            json={"events": [arrival(deadline - timedelta(hours=72), {"person_ref": ref})]},
            headers=api.auth("feeder"),
        )
        assert (await resp.json())["results"][0]["status"] == "accepted"
        code = await code_of(api, ref)
        before = await scan(api, code=code)
        assert (await before.json())["color"] == "green"
        stored = await conn.fetchrow(
            "SELECT s.color, s.next_change_at FROM statuses s JOIN persons p USING (person_id) "
            "WHERE p.person_ref = $1",
            ref,
        )
        assert stored["color"] == "green"
        assert stored["next_change_at"] <= deadline
        clock.advance(seconds=31)
        for body in ({"code": code}, {"id_number": number}):
            after = await scan(api, **body)
            answer = await after.json()
            assert answer["color"] == "yellow", answer
            recorded = await conn.fetchval(
                "SELECT color FROM scans WHERE scan_id = $1::uuid", answer["scan_id"]
            )
            assert recorded == "yellow"


async def test_a_venue_is_limited_in_scans_per_second(settings, keys, clock):
    async with server(settings, keys, clock, scan_rate=2.0) as api:
        ref, _ = await register(api)
        code = await code_of(api, ref)
        answers = [await scan(api, "busy-door", code=code) for _ in range(3)]
        assert [r.status for r in answers] == [200, 200, 429]
        assert answers[2].headers["Retry-After"] == "1"
        assert "扫码过于频繁" in (await answers[2].json())["detail"]
        # Another venue has its own bucket.
        assert (await scan(api, "quiet-door", code=code)).status == 200
        clock.advance(seconds=0.6)
        assert (await scan(api, "busy-door", code=code)).status == 200


async def test_id_number_scans_are_limited_harder(settings, keys):
    async with server(settings, keys, id_scan_rate=6.0) as api:
        ref, number = await register(api)
        code = await code_of(api, ref)
        assert (await scan(api, "door", id_number=number)).status == 200
        refused = await scan(api, "door", id_number=number)
        assert refused.status == 429
        assert int(refused.headers["Retry-After"]) >= 9
        assert "刷身份证次数过多" in (await refused.json())["detail"]
        # Codes still pass at the same door.
        assert (await scan(api, "door", code=code)).status == 200


async def test_revoked_venue_is_refused_at_once(api, conn):
    ref, _ = await register(api)
    code = await code_of(api, ref)
    assert (await scan(api, "stolen-tablet", code=code)).status == 200
    commission = api.auth("commission", "commissioner-1")
    resp = await api.client.post(
        "/v1/venues/stolen-tablet/revoke", json={"reason": "tablet stolen"}, headers=commission
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["revoked"] is True
    refused = await scan(api, "stolen-tablet", code=code)
    assert refused.status == 401
    assert "revoked" in (await refused.json())["detail"]
    assert (await scan(api, "other-venue", code=code)).status == 200
    resp = await api.client.post("/v1/venues/stolen-tablet/reinstate", headers=commission)
    assert resp.status == 200
    assert (await scan(api, "stolen-tablet", code=code)).status == 200
    resp = await api.client.post("/v1/venues/never-revoked/reinstate", headers=commission)
    assert resp.status == 404
    audited = await conn.fetch(
        "SELECT action, actor_role, actor_sub, detail FROM audit_log WHERE subject = $1 "
        "ORDER BY seq",
        "stolen-tablet",
    )
    assert [(a["action"], a["actor_sub"]) for a in audited] == [
        ("venue.revoke", "commissioner-1"),
        ("venue.reinstate", "commissioner-1"),
    ]
    assert audited[0]["detail"] == {"reason": "tablet stolen"}


async def test_revocation_from_the_command_line_reaches_every_instance(settings, keys, db_url, api):
    ref, _ = await register(api)
    code = await code_of(api, ref)
    async with server(settings, keys) as second:
        for instance in (api, second):
            assert (await scan(instance, "door-7", code=code)).status == 200
        env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
        env |= {"CODESVC_DATABASE_URL": db_url, "CODESVC_SQL_DIR": str(ROOT / "sql")}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "codesvc", "venue", "revoke", "door-7", "--reason", "fraud"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "venue door-7 revoked since" in done.stdout
        for instance in (api, second):
            for _ in range(40):
                if (await scan(instance, "door-7", code=code)).status == 401:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("an instance still accepts the revoked venue after 2 s")


async def test_scans_get_503_with_retry_after_while_the_database_is_down(settings, keys, db_url):
    async with (
        DatabaseLink(db_url) as link,
        server(settings, keys, database_url=link.url) as api,
    ):
        ref, _ = await register(api)
        code = await code_of(api, ref)
        assert (await scan(api, code=code)).status == 200
        await link.cut()
        resp = await scan(api, code=code)
        assert resp.status == 503
        assert resp.content_type == "application/problem+json"
        assert int(resp.headers["Retry-After"]) >= 1
        assert "稍后再试" in (await resp.json())["detail"]  # Chinese unless asked otherwise
        await link.restore()
        for _ in range(50):
            if (await scan(api, code=code)).status == 200:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("scans did not recover when the database came back")


async def test_scans_of_people_a_running_job_has_yet_to_reach_show_the_colour_now(
    settings, keys, conn
):
    """A listing's job that has not started yet leaves the stored colours behind; scans
    arriving together at the door show each person's colour as it is now, and record it."""
    app = create_app(dataclasses.replace(settings, scan_group_ms=200), background=False)
    async with TestClient(TestServer(app)) as client:
        api = Api(client, keys)
        people = [await register(api, name) for name in ("张三", "李四", "王五", "赵六")]
        areas = ["440306", "440306", "440306", "510107"]
        when = datetime.now(UTC) - timedelta(days=10)
        resp = await api.client.post(
            "/v1/events",
            json={
                "events": [
                    arrival(when, {"person_ref": ref}, area=area)
                    for (ref, _), area in zip(people, areas, strict=True)
                ]
            },
            headers=api.auth("feeder"),
        )
        assert {r["status"] for r in (await resp.json())["results"]} == {"accepted"}
        listed = await api.client.put(
            "/v1/risk-areas/440306",
            json={"level": "high", "valid_from": (when - timedelta(days=1)).isoformat()},
            headers=api.auth("commission"),
        )
        assert listed.status == 200, await listed.text()
        # No worker runs here: every stored colour is still the one before the listing.
        assert set(await conn.fetchval("SELECT array_agg(color) FROM statuses")) == {"yellow"}
        codes = [await code_of(api, ref) for ref, _ in people]
        answers = await asyncio.gather(*(scan(api, code=code) for code in codes))
        shown = [(await a.json())["color"] for a in answers]
        assert shown == ["red", "red", "red", "yellow"]
        recorded = await conn.fetch("SELECT color FROM scans ORDER BY scanned_at, scan_id")
        assert sorted(r["color"] for r in recorded) == sorted(shown)
