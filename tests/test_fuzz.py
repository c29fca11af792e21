"""Every answer is what /openapi.json says: schemathesis generates requests for every route,
for every role, and checks that no answer is a 500 and that each answer's status code,
content type and body are ones the document declares for that route.

The requests name things that exist (a person, an appeal, an override proposal, a venue
with a scan, a job, a listed area) most of the time, so they reach past the 404 into
the code behind. Each role is fuzzed in depth on the operations it may call; on the
others it gets a few requests each, since a route refuses a role before it reads any
input (`codesvc/api/routing.py`). The public routes are fuzzed in depth once. Two roles
run at a time, one per core, beside the server.

``pytest -s tests/test_fuzz.py`` prints, per role, the requests sent, the 5xx answers
and the conformance failures found, and the wall time of the whole run.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
#: Examples per operation and phase where a role works, and where it is refused.
DEPTH, GLANCE = 12, 3
#: Schemathesis runs at once: the machine has two cores, and the server needs some.
AT_ONCE = 2
#: How often a path parameter names something that exists (else it is generated).
REAL = 0.75


@dataclass
class Run:
    """One schemathesis run: whose token, which operations, how hard."""

    role: str
    bearer: str | None
    operations: list[str]
    examples: int
    phases: str = "examples,coverage,fuzzing,stateful"


@dataclass
class Figures:
    requests: int = 0
    server_errors: int = 0
    conformance_failures: int = 0


# Whole-run budget for a loaded machine; a quiet 2-core one takes about 3 minutes.
@pytest.mark.timeout(1800)
async def test_every_answer_conforms_to_the_served_document(db_url, tmp_path):
    started = time.monotonic()
    env = clean_env(
        CODESVC_DATABASE_URL=db_url,
        CODESVC_HOME=str(tmp_path / "home"),
        CODESVC_LOG_LEVEL="WARNING",
        CODESVC_SCAN_RATE="100000",
        CODESVC_ID_SCAN_RATE="100000",
    )

    def token(role: str, sub: str, district: str | None = None) -> str:
        args = ["token", "--role", role, "--sub", sub]
        args += ["--district", district] if district else []
        return codesvc(*args, env=env, cwd=tmp_path).stdout.strip()

    async with codesvc_serve(env, tmp_path) as served:
        tokens = {
            "commission": await asyncio.to_thread(token, "commission", "fuzz-commissioner"),
            "scanner": await asyncio.to_thread(token, "scanner", "fuzz-venue"),
            "staff": await asyncio.to_thread(token, "staff", "fuzz-officer", "310101"),
            "feeder": await asyncio.to_thread(token, "feeder", "fuzz-district-feed", "310101"),
        }
        real = await _things_that_exist(served.base, token)
        tokens["citizen"] = await asyncio.to_thread(token, "citizen", real["person_ref"][0])
        config = tmp_path / "schemathesis.toml"
        config.write_text(_config(real), encoding="utf-8")
        async with (
            aiohttp.ClientSession() as session,
            session.get(served.base + "/openapi.json") as resp,
        ):
            document = await resp.json()
        runs = _runs(document, tokens)
        lanes = asyncio.Semaphore(AT_ONCE)

        async def run(plan: Run) -> tuple[Run, str]:
            async with lanes:
                return plan, await _schemathesis(served.base, config, plan, tmp_path)

        results = await asyncio.gather(*(run(plan) for plan in runs))

    figures: dict[str, Figures] = {}
    failed = []
    for plan, output in results:
        counted = figures.setdefault(plan.role, Figures())
        cases = re.search(r"(\d+) generated, (\d+) passed", output)
        selected = re.search(r"Selected: (\d+)/(\d+)", output)
        tested = re.search(r"Tested: (\d+)", output)
        assert cases, output[-3000:]
        assert selected, output[-3000:]
        assert tested, output[-3000:]
        counted.requests += int(cases[1])
        counted.server_errors += len(re.findall(r"Server error", output))
        counted.conformance_failures += len(
            re.findall(r"(?:Undocumented|Missing) (?:HTTP status code|Content-Type)|"
                       r"Response violates schema", output)
        )  # fmt: skip
        if int(cases[1]) != int(cases[2]):
            failed.append(f"as {plan.role} ({len(plan.operations)} operations):\n{output[-4000:]}")
        # Every operation chosen was exercised, and with more than a token effort.
        assert int(selected[1]) == len(plan.operations) == int(tested[1]), output[-3000:]
        assert int(cases[1]) >= len(plan.operations), output[-3000:]
    # The figures the README quotes.
    for role, counted in figures.items():
        print(
            f"fuzz as {role}: {counted.requests} requests, {counted.server_errors} 5xx, "
            f"{counted.conformance_failures} conformance failures"
        )
    print(f"fuzz: {sum(f.requests for f in figures.values())} requests in "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    assert not failed, "\n\n".join(failed)
    assert set(figures) == {"commission", "citizen", "scanner", "staff", "feeder", "public"}


async def _things_that_exist(base: str, token: Any) -> dict[str, list[str]]:
    """A citizen with an open appeal, another person with an override proposal, a venue
    that has scanned, a job, a listed area: what the path parameters name."""
    feeder = await asyncio.to_thread(token, "feeder", "fuzz-feed")
    member = await asyncio.to_thread(token, "commission", "fuzz-proposer")
    door = await asyncio.to_thread(token, "scanner", "fuzz-cafe")

    async with aiohttp.ClientSession(base_url=base) as session:

        async def call(method: str, path: str, bearer: str, body: object = None) -> Any:
            headers = {"Authorization": f"Bearer {bearer}"}
            async with session.request(method, path, json=body, headers=headers) as resp:
                assert resp.status < 300, await resp.text()
                return await resp.json()

        people = []
        for name in ("张三", "李四"):
            body = {"id_number": id_number(), "name": name, "district": "310101"}
            people.append((await call("POST", "/v1/persons", feeder, body))["person_ref"])
        citizen = await asyncio.to_thread(token, "citizen", people[0])
        filed = await call("POST", "/v1/appeals", citizen, {
            "category": "missing_test_result", "description": "My test is not on my record.",
            "evidence": {"lab_id": "LAB-1", "sample_id": "S-1"},
        })  # fmt: skip
        proposal = await call("POST", "/v1/overrides", member, {
            "person_ref": people[1], "color": "yellow", "reason": "Linked to a cluster.",
        })  # fmt: skip
        listing = await call("PUT", "/v1/risk-areas/440306", member, {
            "level": "medium", "valid_from": "2022-02-01T00:00:00+08:00",
        })  # fmt: skip
        code = (await call("GET", "/v1/me/code", citizen))["code"]
        await call("POST", "/v1/scans", door, {"code": code})
    return {
        "person_ref": people,
        "appeal_id": [filed["appeal_id"]],
        "override_id": [proposal["override_id"]],
        "venue_id": ["fuzz-cafe"],
        "job_id": [listing["job_id"]],
        "area_code": ["440306", "310101"],
    }


def _config(real: dict[str, list[str]]) -> str:
    """A schemathesis.toml whose path parameters name real things, most of the time."""
    lines = []
    for name, values in real.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for name in real:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {REAL} }}')
    return "\n".join(lines) + "\n"


def _runs(document: dict[str, Any], tokens: dict[str, str]) -> list[Run]:
    """Per role: its own operations in depth, everyone else's at a glance; the public
    operations in depth once, with no token."""
    allowed: dict[str, set[str]] = {}
    public = []
    for operations in document["paths"].values():
        for op in operations.values():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            if not op.get("security"):
                public.append(op["operationId"])
                continue
            roles = re.search(r"Roles: ([a-z, ]+)\.", op.get("description", ""))
            assert roles, f"{op['operationId']} does not say who may call it"
            for role in roles[1].split(", "):
                allowed.setdefault(role, set()).add(op["operationId"])
    everyone = set().union(*allowed.values())
    runs = [Run("public", None, sorted(public), DEPTH)]
    for role, bearer in tokens.items():
        runs.append(Run(role, bearer, sorted(allowed[role]), DEPTH))
        refused = sorted(everyone - allowed[role])
        if refused:
            runs.append(Run(role, bearer, refused, GLANCE, phases="examples,fuzzing"))
    # The longest first, so the two lanes finish together.
    return sorted(runs, key=lambda r: -len(r.operations) * r.examples)


async def _schemathesis(base: str, config: Path, plan: Run, cwd: Path) -> str:
    args = [str(SCHEMATHESIS), "--config-file", str(config), "run", base + "/openapi.json"]
    args += ["-H", f"Authorization: Bearer {plan.bearer}"] if plan.bearer else []
    for operation in plan.operations:
        args += ["--include-operation-id", operation]
    args += ["--checks", CHECKS, "--phases", plan.phases, "--max-examples", str(plan.examples)]
    args += ["--workers", "1", "--seed", "2022"]
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=1200)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return output.decode(errors="replace")
