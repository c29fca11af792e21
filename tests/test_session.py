"""Staff sign-in (SPEC §9): the cookie, CSRF, the lockout and every way a session ends."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from codesvc import db
from codesvc.api.app import create_app
from codesvc.service import accounts, sessions
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys, Principal
from tests.conftest import Api, City, Clock
from tests.staff import PASSWORD, add_account, sign_in


@dataclasses.dataclass
class Desk:
    """A server with a movable clock, and a second client for another browser."""

    api: Api
    city: City
    clock: Clock
    other: TestClient


@pytest.fixture
async def desk(settings: Settings, keys: AuthKeys, clock: Clock) -> AsyncIterator[Desk]:
    server = TestServer(create_app(settings, clock))
    async with (
        TestClient(server) as client,
        TestClient(TestServer(create_app(settings, clock))) as other,
    ):
        api = Api(client, keys)
        yield Desk(api, City(api), clock, other)


async def appeal_in_huangpu(city: City) -> str:
    ref = await city.register("310101")
    resp = await city.client.post(
        "/v1/appeals",
        json={"category": "other", "description": "我的颜色不对"},
        headers=city.api.auth("citizen", ref),
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["appeal_id"])


async def audit_actions(settings: Settings, sub: str) -> list[str]:
    async with db.connect(settings.database_url) as conn:
        rows = await conn.fetch("SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq", sub)
    return [r["action"] for r in rows]


async def test_a_session_acts_exactly_as_a_token_with_its_role_sub_and_district(desk, settings):
    await add_account(settings, "huangpu-wang", district="310101")
    await add_account(settings, "pudong-chen", district="310115", name="陈静")
    appeal = await appeal_in_huangpu(desk.city)
    client = desk.api.client

    resp = await client.post("/v1/session", json={"sub": "huangpu-wang", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["sub"] == "huangpu-wang"
    assert body["role"] == "staff"
    assert body["district"] == "310101"
    assert body["csrf_token"]
    assert body["expires_at"]
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("codesvc_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    # A browser session's cookie: gone when the browser closes.
    assert "Max-Age" not in cookie
    assert "expires" not in cookie.lower()

    whoami = await (await client.get("/v1/whoami")).json()
    assert (whoami["role"], whoami["sub"], whoami["district"]) == (
        "staff",
        "huangpu-wang",
        "310101",
    )
    assert (await client.get(f"/v1/appeals/{appeal}")).status == 200
    # The same route with a token of the same claims gives the same answer, and so does
    # a Pudong officer, by session or by token: not found.
    again = await desk.other.get(
        f"/v1/appeals/{appeal}", headers=desk.api.auth("staff", "huangpu-wang", "310101")
    )
    assert again.status == 200
    await sign_in(desk.other, "pudong-chen")
    by_session = await desk.other.get(f"/v1/appeals/{appeal}")
    by_token = await desk.api.client.get(
        f"/v1/appeals/{appeal}",
        headers=desk.api.auth("staff", "pudong-chen", "310115"),
    )
    assert by_session.status == by_token.status == 404
    # A staff session may not call a commission route, exactly as a staff token may not.
    refused = await desk.other.get("/v1/overrides")
    assert refused.status == 403
    assert "staff 无权调用 GET /v1/overrides" in (await refused.json())["detail"]


async def test_the_cookie_is_secure_when_the_service_is_reached_over_https(desk, settings):
    await add_account(settings, "huangpu-wang")
    resp = await desk.api.client.post(
        "/v1/session",
        json={"sub": "huangpu-wang", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert resp.status == 200
    assert "Secure" in resp.headers["Set-Cookie"]


async def test_a_change_needs_the_csrf_token_and_a_cross_site_form_changes_nothing(desk, settings):
    await add_account(settings, "huangpu-wang")
    appeal = await appeal_in_huangpu(desk.city)
    client = desk.api.client
    csrf = (await sign_in(client, "huangpu-wang"))["csrf_token"]

    async def state() -> str:
        resp = await client.get(f"/v1/appeals/{appeal}")
        return str((await resp.json())["status"])

    missing = await client.post(f"/v1/appeals/{appeal}/claim")
    assert missing.status == 403
    assert missing.content_type == "application/problem+json"
    assert "X-CSRF-Token" in (await missing.json())["detail"]
    wrong = await client.post(f"/v1/appeals/{appeal}/claim", headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status == 403
    # What a form on another site would send: the cookie (were SameSite not Strict), a
    # form body, its own origin, no CSRF header.
    forged = await client.post(
        f"/v1/appeals/{appeal}/claim",
        data={"anything": "1"},
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status == 403
    # Even with the right token, another origin is refused.
    elsewhere = await client.post(
        f"/v1/appeals/{appeal}/claim",
        headers={"X-CSRF-Token": str(csrf), "Origin": "http://evil.example"},
    )
    assert elsewhere.status == 403
    assert await state() == "submitted"

    claimed = await client.post(f"/v1/appeals/{appeal}/claim", headers={"X-CSRF-Token": str(csrf)})
    assert claimed.status == 200, await claimed.text()
    assert await state() == "in_review"
    # Reading needs no token, and the page can ask for it again after a reload.
    session = await (await client.get("/v1/session")).json()
    assert session["csrf_token"] == csrf


async def test_wrong_password_and_unknown_account_get_the_same_answer(desk, settings):
    await add_account(settings, "huangpu-wang")
    client = desk.api.client
    wrong = await client.post("/v1/session", json={"sub": "huangpu-wang", "password": "nope"})
    unknown = await client.post("/v1/session", json={"sub": "nobody-here", "password": "nope"})
    assert wrong.status == unknown.status == 401
    assert (await wrong.json())["detail"] == (await unknown.json())["detail"]
    assert "Set-Cookie" not in wrong.headers
    assert (await client.get("/v1/whoami")).status == 401
    assert await audit_actions(settings, "huangpu-wang") == ["session.refused"]
    assert await audit_actions(settings, "nobody-here") == ["session.refused"]
    malformed = await client.post("/v1/session", json={"sub": "a\u0000b", "password": "x"})
    assert malformed.status == 422


async def test_the_sixth_failure_in_fifteen_minutes_is_refused_in_every_process(desk, settings):
    await add_account(settings, "huangpu-wang")
    wrong = {"sub": "huangpu-wang", "password": "not the password"}
    for _ in range(5):
        resp = await desk.api.client.post("/v1/session", json=wrong)
        assert resp.status == 401
    # The other server process (another app on the same database) knows.
    locked = await desk.other.post("/v1/session", json=wrong)
    assert locked.status == 429
    retry = int(locked.headers["Retry-After"])
    assert 60 * 14 < retry <= 60 * 15
    assert "15 分钟" in (await locked.json())["detail"]
    # The right password does not get through either: the lockout does not tell.
    right = await desk.other.post("/v1/session", json={"sub": "huangpu-wang", "password": PASSWORD})
    assert right.status == 429
    actions = await audit_actions(settings, "huangpu-wang")
    assert actions.count("session.refused") == 5
    assert actions.count("session.locked") == 1

    desk.clock.offset = timedelta(seconds=retry + 1)
    await sign_in(desk.other, "huangpu-wang")
    assert (await audit_actions(settings, "huangpu-wang"))[-1] == "session.start"


async def test_a_commission_member_needs_a_valid_one_time_code(desk, settings):
    member = await add_account(settings, "commissioner-li", role="commission", name="李明")
    client = desk.api.client
    body = {"sub": "commissioner-li", "password": PASSWORD}
    without = await client.post("/v1/session", json=body)
    assert without.status == 401
    assert (await without.json())["otp_required"] is True
    wrong = await client.post("/v1/session", json={**body, "otp": "000000"})
    assert wrong.status == 401
    code = member.otp(desk.clock())
    ok = await client.post("/v1/session", json={**body, "otp": code})
    assert ok.status == 200, await ok.text()
    assert (await ok.json())["role"] == "commission"
    # A code works once: seen over a shoulder, it is already spent.
    replayed = await desk.other.post("/v1/session", json={**body, "otp": code})
    assert replayed.status == 401
    # Wrong codes count toward the lockout like wrong passwords (the replay was the first).
    for _ in range(4):
        await desk.other.post("/v1/session", json={**body, "otp": "123456"})
    locked = await desk.other.post("/v1/session", json={**body, "otp": "123456"})
    assert locked.status == 429


async def test_a_session_ends_after_thirty_idle_minutes(desk, settings):
    await add_account(settings, "huangpu-wang")
    client = desk.api.client
    await sign_in(client, "huangpu-wang")
    desk.clock.offset = timedelta(minutes=29)
    assert (await client.get("/v1/whoami")).status == 200  # activity restarts the idle clock
    desk.clock.offset = timedelta(minutes=58)
    assert (await client.get("/v1/whoami")).status == 200
    desk.clock.offset = timedelta(minutes=58 + 31)
    ended = await client.get("/v1/whoami")
    assert ended.status == 401
    problem = await ended.json()
    assert problem["session_ended"] == "idle"
    assert "30 分钟" in problem["detail"]


async def test_a_session_ends_after_twelve_hours_however_busy(desk, settings):
    await add_account(settings, "huangpu-wang")
    client = desk.api.client
    await sign_in(client, "huangpu-wang")
    for minutes in range(20, 12 * 60, 20):
        desk.clock.offset = timedelta(minutes=minutes)
        assert (await client.get("/v1/whoami")).status == 200, minutes
    desk.clock.offset = timedelta(hours=12)
    ended = await client.get("/v1/whoami")
    assert ended.status == 401
    assert (await ended.json())["session_ended"] == "expired"


async def test_signing_out_ends_the_session(desk, settings):
    await add_account(settings, "huangpu-wang")
    client = desk.api.client
    csrf = (await sign_in(client, "huangpu-wang"))["csrf_token"]
    assert (await client.delete("/v1/session")).status == 403  # sign-out is a change too
    resp = await client.delete("/v1/session", headers={"X-CSRF-Token": str(csrf)})
    assert resp.status == 204
    assert (
        "codesvc_session=;" in resp.headers["Set-Cookie"]
        or "Max-Age=0" in resp.headers["Set-Cookie"]
    )
    assert await audit_actions(settings, "huangpu-wang") == ["session.start", "session.end"]


async def test_a_copied_cookie_is_dead_after_sign_out(desk, settings):
    await add_account(settings, "huangpu-wang")
    client = desk.api.client
    signed = await client.post("/v1/session", json={"sub": "huangpu-wang", "password": PASSWORD})
    cookie = signed.cookies["codesvc_session"].value
    csrf = (await signed.json())["csrf_token"]
    await client.delete("/v1/session", headers={"X-CSRF-Token": csrf})
    copied = await desk.other.get("/v1/whoami", headers={"Cookie": f"codesvc_session={cookie}"})
    assert copied.status == 401
    assert (await copied.json())["session_ended"] == "signed_out"


async def test_disabling_an_account_ends_its_open_session_at_once(desk, settings):
    await add_account(settings, "huangpu-wang")
    client = desk.api.client
    await sign_in(client, "huangpu-wang")
    assert (await client.get("/v1/whoami")).status == 200
    async with db.connect(settings.database_url) as conn:
        ended = await accounts.disable(
            conn, "huangpu-wang", desk.clock(), Principal("operator", "cli:root", None, 0.0)
        )
    assert ended == 1
    resp = await client.get("/v1/whoami")
    assert resp.status == 401
    assert (await resp.json())["session_ended"] == "disabled"
    again = await desk.other.post("/v1/session", json={"sub": "huangpu-wang", "password": PASSWORD})
    assert again.status == 401


async def test_a_password_hashed_with_old_parameters_is_rehashed_at_sign_in(desk, settings):
    await add_account(settings, "huangpu-wang")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with db.connect(settings.database_url) as conn:
        await conn.execute("UPDATE accounts SET password_hash = $1", weak)
        await sign_in(desk.api.client, "huangpu-wang")
        stored = await conn.fetchval("SELECT password_hash FROM accounts")
    assert stored.startswith("$argon2id$")
    assert stored != weak
    assert not accounts.PASSWORDS.check_needs_rehash(stored)


async def test_the_database_keeps_no_usable_session_id(desk, settings):
    await add_account(settings, "huangpu-wang")
    resp = await desk.api.client.post(
        "/v1/session", json={"sub": "huangpu-wang", "password": PASSWORD}
    )
    cookie = resp.cookies["codesvc_session"].value
    async with db.connect(settings.database_url) as conn:
        stored = await conn.fetchval("SELECT id_hash FROM sessions")
    assert cookie.encode() not in bytes(stored)
    assert bytes(stored) == sessions.digest(cookie)


async def test_a_form_on_another_site_cannot_sign_the_browser_in(desk, settings):
    await add_account(settings, "huangpu-wang")
    # A text/plain form can smuggle a JSON body; the browser still says where it came from.
    body = '{"sub": "huangpu-wang", "password": "' + PASSWORD + '", "otp": "="}'
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        resp = await desk.api.client.post(
            "/v1/session", data=body, headers={**headers, "Content-Type": "text/plain"}
        )
        assert resp.status == 403
        assert "Set-Cookie" not in resp.headers
    assert await audit_actions(settings, "huangpu-wang") == []
