"""No input gives a 500: schemathesis generates requests for every route in /openapi.json."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.builders import id_number
from tests.processes import clean_env, codesvc, codesvc_serve

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.mark.timeout(600)  # five roles, every route: minutes on a busy 2-core machine
async def test_no_generated_request_gets_a_server_error(db_url, tmp_path):
    env = clean_env(
        CODESVC_DATABASE_URL=db_url,
        CODESVC_HOME=str(tmp_path / "home"),
        CODESVC_LOG_LEVEL="WARNING",
        CODESVC_SCAN_RATE="100000",
        CODESVC_ID_SCAN_RATE="100000",
    )

    def token(*args: str) -> str:
        return codesvc("token", *args, env=env, cwd=tmp_path).stdout.strip()

    async with codesvc_serve(env, tmp_path) as served:
        feeder = await asyncio.to_thread(token, "--role", "feeder", "--sub", "fuzz-feed")
        async with aiohttp.ClientSession() as session:
            body = {"id_number": id_number(), "name": "张三", "district": "310101"}
            async with session.post(
                served.base + "/v1/persons",
                json=body,
                headers={"Authorization": f"Bearer {feeder}"},
            ) as resp:
                ref = (await resp.json())["person_ref"]
        callers = [
            ("commission", "--sub", "fuzz-commissioner"),
            ("citizen", "--sub", ref),
            ("scanner", "--sub", "fuzz-venue"),
            ("staff", "--sub", "fuzz-officer", "--district", "310101"),
        ]
        for role, *rest in callers:
            bearer = await asyncio.to_thread(token, "--role", role, *rest)
            result = await asyncio.to_thread(
                subprocess.run,
                [
                    str(SCHEMATHESIS), "run", served.base + "/openapi.json",
                    "-H", f"Authorization: Bearer {bearer}",
                    "--checks", "not_a_server_error",
                    "--max-examples", "12", "--workers", "1", "--seed", "2022",
                ],
                cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                pytest.fail(f"as a {role}:\n{result.stdout[-4000:]}")
