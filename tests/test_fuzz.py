"""Every answer is what /openapi.json says: schemathesis generates requests for every route,
for every role, and checks that no answer is a 500 and that each answer's status code,
content type and body are ones the document declares for that route."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.builders import id_number
from tests.processes import clean_env, codesvc, codesvc_serve

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


@pytest.mark.timeout(900)
async def test_every_answer_conforms_to_the_served_document(db_url, tmp_path):
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
            ("feeder", "--sub", "fuzz-district-feed", "--district", "310101"),
        ]
        for role, *rest in callers:
            started = time.monotonic()
            bearer = await asyncio.to_thread(token, "--role", role, *rest)
            result = await asyncio.to_thread(
                subprocess.run,
                [
                    str(SCHEMATHESIS), "run", served.base + "/openapi.json",
                    "-H", f"Authorization: Bearer {bearer}",
                    "--checks", CHECKS,
                    "--max-examples", "12", "--workers", "1", "--seed", "2022",
                ],
                cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                pytest.fail(f"as a {role}:\n{result.stdout[-4000:]}")
            # Every operation was exercised, with requests, and every answer checked.
            selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
            tested = re.search(r"Tested: (\d+)", result.stdout)
            cases = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
            assert selected, result.stdout[-2000:]
            assert tested, result.stdout[-2000:]
            assert cases, result.stdout[-2000:]
            assert selected[1] == selected[2] == tested[1], result.stdout[-2000:]
            assert int(cases[1]) == int(cases[2]) > 1000, result.stdout[-2000:]
            # The figures the README quotes: how many requests each role sent, in how long.
            print(f"fuzz as {role}: {cases[1]} requests, {time.monotonic() - started:.0f} s")
