"""A crash loses no answered scan: ``kill -9`` the server mid-load, restart it, count records."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import asyncpg

from codesvc.settings import Settings
from codesvc.tokens import AuthKeys
from tests.builders import id_number
from tests.processes import clean_env, codesvc_serve

SECRET = "durability-test-secret-" + "x" * 20


async def test_every_answered_scan_has_its_record_after_kill_9(db_url, tmp_path):
    env = clean_env(
        CODESVC_DATABASE_URL=db_url,
        CODESVC_HOME=str(tmp_path / "home"),
        CODESVC_AUTH_SECRET=SECRET,
        CODESVC_SCAN_RATE="100000",
        CODESVC_LOG_LEVEL="WARNING",
    )
    keys = AuthKeys.from_settings(Settings(auth_secret=SECRET))

    def auth(role: str, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys.sign(role, sub)}"}

    answered: list[str] = []
    refused: list[int] = []
    enough = asyncio.Event()
    async with codesvc_serve(env, tmp_path) as served, aiohttp.ClientSession() as session:
        base = served.base
        codes = []
        for n in range(8):
            async with session.post(
                base + "/v1/persons",
                json={"id_number": id_number(), "name": f"王{n}", "district": "310101"},
                headers=auth("feeder", "registry"),
            ) as resp:
                ref = (await resp.json())["person_ref"]
            async with session.get(base + "/v1/me/code", headers=auth("citizen", ref)) as resp:
                codes.append((await resp.json())["code"])

        async def door(n: int) -> None:
            headers = auth("scanner", f"gate-{n}")
            with contextlib.suppress(aiohttp.ClientError):
                while True:
                    async with session.post(
                        base + "/v1/scans", json={"code": codes[n % len(codes)]}, headers=headers
                    ) as resp:
                        if resp.status == 200:
                            answered.append((await resp.json())["scan_id"])
                            if len(answered) >= 400:
                                enough.set()
                        else:
                            refused.append(resp.status)

        doors = [asyncio.create_task(door(n)) for n in range(32)]
        await asyncio.wait_for(enough.wait(), 60)
        served.kill()  # SIGKILL to every process mid-load: 32 doors are waiting for answers
        await asyncio.wait_for(asyncio.gather(*doors), 30)

    assert len(answered) >= 400
    assert refused == []
    async with codesvc_serve(env, tmp_path) as served, aiohttp.ClientSession() as session:
        base = served.base
        conn = await asyncpg.connect(db_url)
        try:
            recorded = {str(r[0]) for r in await conn.fetch("SELECT scan_id FROM scans")}
        finally:
            await conn.close()
        assert set(answered) <= recorded
        # At most one scan per door was recorded but never answered: the kill came first.
        assert len(recorded) - len(answered) <= 32
        async with session.post(
            base + "/v1/scans", json={"code": codes[0]}, headers=auth("scanner", "gate-0")
        ) as resp:
            assert resp.status == 200
