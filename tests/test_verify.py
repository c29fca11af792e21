"""``codesvc verify`` proves the stored statuses and histories are the replay of the events."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from codesvc.service import jobs
from codesvc.service.sweeper import sweep_all
from codesvc.service.verify import verify
from tests.builders import arrival, event, negative, positive

ROOT = Path(__file__).resolve().parent.parent
AREAS = ("440306", "510107", "110101")


def random_events(rng: random.Random, refs: list[str], count: int, case: str) -> list[dict]:  # type: ignore[type-arg]
    base = datetime.now(UTC) - timedelta(days=40)
    events = []
    for _ in range(count):
        me = {"person_ref": rng.choice(refs)}
        t = base + timedelta(minutes=rng.randint(0, 40 * 24 * 60))
        kind = rng.random()
        if kind < 0.3:
            events.append(arrival(t, me, area=rng.choice(AREAS)))
        elif kind < 0.75:
            events.append(negative(t, me))
        elif kind < 0.82:
            events.append(positive(t, me))
        elif kind < 0.9:
            events.append(event("case.discharged", t, me, case_ref="c"))
        else:
            level = rng.choice(("close", "secondary"))
            events.append(event("contact.designated", t, me, level=level, case_ref=case))
    return events


async def test_verify_is_clean_after_a_randomised_out_of_order_load(city, conn, api, settings):
    rng = random.Random(7)
    await city.list_area("440306", "medium", (datetime.now(UTC) - timedelta(days=30)).isoformat())
    refs = [await city.register(rng.choice(("310101", "310104"))) for _ in range(25)]
    case = positive(datetime.now(UTC) - timedelta(days=41), {"person_ref": await city.register()})
    assert (await city.send(case))[0]["status"] == "accepted"
    events = random_events(rng, refs, 400, case["event_id"])
    sendings = events + rng.sample(events, 120)  # duplicates
    rng.shuffle(sendings)
    batches = [sendings[i : i + rng.randint(5, 60)] for i in range(0, len(sendings), 40)]
    half = len(batches) // 2
    await asyncio.gather(*(city.send(*b) for b in batches[:half]))
    # A listing backdated mid-load, and ended again, re-evaluates people under the load.
    await city.list_area("510107", "high", (datetime.now(UTC) - timedelta(days=35)).isoformat())
    await asyncio.gather(*(city.send(*b) for b in batches[half:]))
    await city.list_area(
        "440306",
        "medium",
        (datetime.now(UTC) - timedelta(days=30)).isoformat(),
        valid_to=(datetime.now(UTC) - timedelta(days=10)).isoformat(),
    )
    from codesvc.api.keys import POOL

    await jobs.work_all(api.app[POOL], settings.rules, lambda: datetime.now(UTC))
    await sweep_all(api.app[POOL], settings.rules, lambda: datetime.now(UTC))
    report = await verify(conn, settings.rules, datetime.now(UTC))
    assert report.persons == 26
    assert report.differences == []
    colours = await conn.fetch("SELECT DISTINCT color FROM statuses")
    assert len(colours) > 1  # the load really moved people


async def test_verify_reports_a_tampered_status_and_exits_non_zero(
    city, conn, db_url, settings, tmp_path
):
    ref = await city.register()
    await city.send(arrival(datetime.now(UTC) - timedelta(days=1), {"person_ref": ref}))
    clean = await verify(conn, settings.rules, datetime.now(UTC))
    assert clean.differences == []
    await conn.execute(
        "UPDATE statuses SET color = 'red' FROM persons p "
        "WHERE statuses.person_id = p.person_id AND p.person_ref = $1",
        ref,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODESVC_")}
    env |= {"CODESVC_DATABASE_URL": db_url, "CODESVC_SQL_DIR": str(ROOT / "sql")}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "codesvc", "verify"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{ref}: stored red" in result.stdout
    assert "1 difference(s)" in result.stdout
