"""The door's routes: offline scans uploaded once each, enrolment codes, the CLI's enrol."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from codesvc.service import enrolments
from tests.conftest import Api, City
from tests.processes import clean_env, codesvc


async def code_of(api: Api, ref: str) -> str:
    resp = await api.client.get("/v1/me/code", headers=api.auth("citizen", ref))
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["code"])


async def upload(api: Api, scans: list[dict], venue: str = "venue-1"):  # type: ignore[no-untyped-def,type-arg]
    return await api.client.post(
        "/v1/scans/offline", json={"scans": scans}, headers=api.auth("scanner", venue)
    )


async def test_offline_scans_are_recorded_once_with_the_time_they_happened(city, api, conn):
    ref = await city.register()
    code = await code_of(api, ref)
    when = datetime.now(UTC) - timedelta(seconds=20)
    first = {"scan_id": str(uuid.uuid4()), "code": code, "scanned_at": when.isoformat()}
    second = {**first, "scan_id": str(uuid.uuid4())}
    resp = await upload(api, [first, second, first])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert [r["status"] for r in body["results"]] == ["recorded", "recorded"]
    # The answer was lost; the door sends it all again: nothing is recorded twice.
    again = await (await upload(api, [first, second])).json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    rows = await conn.fetch(
        "SELECT scan_id::text, scanned_at, uploaded_at, color, method FROM scans "
        "WHERE venue = 'venue-1' ORDER BY scan_id"
    )
    assert sorted(r["scan_id"] for r in rows) == sorted([first["scan_id"], second["scan_id"]])
    for row in rows:
        assert abs((row["scanned_at"] - when).total_seconds()) < 0.001
        assert row["uploaded_at"] > row["scanned_at"]
        assert (row["color"], row["method"]) == ("green", "code")
    # Another venue cannot claim those scan ids.
    other = await (await upload(api, [first], venue="venue-2")).json()
    assert other["results"][0]["status"] == "rejected"


async def test_offline_scans_the_door_should_have_refused_are_refused(city, api, conn):
    ref = await city.register()
    code = await code_of(api, ref)
    now = datetime.now(UTC)
    header, claims, signature = code.split(".")
    altered = f"{header}.{claims[:-2]}AA.{signature}"
    cases = {
        "expired when scanned": (code, now + timedelta(minutes=2)),
        "in the future": (code, now + timedelta(hours=1)),
        "before it was issued": (code, now - timedelta(hours=1)),
        "altered": (altered, now),
        "not a code": ("hello", now),
    }
    scans = [
        {"scan_id": str(uuid.uuid4()), "code": c, "scanned_at": at.isoformat()}
        for c, at in cases.values()
    ]
    resp = await upload(api, scans)
    assert resp.status == 200, await resp.text()
    results = (await resp.json())["results"]
    assert [r["status"] for r in results] == ["rejected"] * len(cases)
    assert all(r["error"] for r in results)
    assert await conn.fetchval("SELECT count(*) FROM scans") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"scans": []},
        {"scans": [{"scan_id": "nope", "code": "x", "scanned_at": "2026-01-01T00:00:00+08:00"}]},
        {"scans": [{"scan_id": str(uuid.uuid4()), "code": "x", "scanned_at": "2026-01-01T00:00"}]},
        {"scans": [{"scan_id": str(uuid.uuid4()), "code": "x\u0000", "scanned_at": "x"}]},
    ],
)
async def test_a_malformed_upload_is_a_problem_and_records_nothing(api, conn, body):
    resp = await api.client.post("/v1/scans/offline", json=body, headers=api.auth("scanner", "v"))
    assert resp.status == 422, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert await conn.fetchval("SELECT count(*) FROM scans") == 0


async def test_only_a_scanner_uploads_scans(api):
    for role in ("citizen", "feeder", "commission"):
        resp = await api.client.post(
            "/v1/scans/offline", json={"scans": []}, headers=api.auth(role, "x")
        )
        assert resp.status == 403


async def test_an_enrolment_code_gives_one_device_its_scanner_token(api: Api, city: City):
    resp = await api.client.post(
        "/v1/venues/venue-7/enrolments", headers=api.auth("commission", "c-1")
    )
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert made["venue"] == "venue-7"
    code = made["enrolment_code"]
    resp = await api.client.post("/v1/scanner/enrol", json={"enrolment_code": code.lower()})
    assert resp.status == 200, await resp.text()
    token = (await resp.json())["token"]
    principal = api.keys.verify(token)
    assert (principal.role, principal.sub) == ("scanner", "venue-7")
    # Used once; a guess is refused the same way.
    for guess in (code, "0000-0000-0000"):
        resp = await api.client.post("/v1/scanner/enrol", json={"enrolment_code": guess})
        assert resp.status == 403
    # The device scans with it; revoking the venue refuses it.
    ref = await city.register()
    headers = {"Authorization": f"Bearer {token}"}
    resp = await api.client.post(
        "/v1/scans", json={"code": await code_of(api, ref)}, headers=headers
    )
    assert resp.status == 200
    await api.client.post(
        "/v1/venues/venue-7/revoke", json={"reason": "closed"}, headers=api.auth("commission", "c")
    )
    resp = await api.client.post(
        "/v1/scans", json={"code": await code_of(api, ref)}, headers=headers
    )
    assert resp.status == 401
    # And a revoked venue gets no new enrolment code.
    resp = await api.client.post(
        "/v1/venues/venue-7/enrolments", headers=api.auth("commission", "c-1")
    )
    assert resp.status == 409


async def test_enrolment_is_for_the_commission_and_guessing_is_slowed(api: Api):
    for role in ("scanner", "feeder", "staff", "citizen"):
        resp = await api.client.post("/v1/venues/v/enrolments", headers=api.auth(role, "x"))
        assert resp.status == 403
    statuses = []
    for _ in range(8):
        resp = await api.client.post("/v1/scanner/enrol", json={"enrolment_code": "ABCD-EFGH-JKMN"})
        statuses.append(resp.status)
    assert statuses[:5] == [403] * 5
    assert statuses[-1] == 429


async def test_an_expired_enrolment_code_is_refused(conn):
    now = datetime.now(UTC)

    class Operator:
        role, sub = "operator", "test"

    made = await enrolments.create(conn, "venue-9", Operator(), now - timedelta(days=2))
    assert made is not None
    assert await enrolments.redeem(conn, made[0], now) is None
    fresh = await enrolments.create(conn, "venue-9", Operator(), now)
    assert fresh is not None
    assert await enrolments.redeem(conn, fresh[0].replace("-", " "), now) == "venue-9"


def test_the_cli_prints_an_enrolment_code(db_url, tmp_path):
    env = clean_env(CODESVC_DATABASE_URL=db_url, CODESVC_HOME=str(tmp_path))
    out = codesvc("venue", "enroll", "venue-cli-1", env=env, cwd=tmp_path).stdout
    code = out.split()[0]
    assert len(enrolments.normalize(code)) == enrolments.LENGTH
    assert "venue-cli-1" in out
