"""``codesvc demo``: a small city to try the service with — people, risk areas, events."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from codesvc.identity import make_id_number
from codesvc.schemas.events import read_item
from codesvc.service.ingest import ingest
from codesvc.service.listings import put_listing
from codesvc.service.sweeper import sweep_all
from codesvc.state.world import Listing
from codesvc.tokens import Principal

DISTRICTS = (
    "310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
    "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151",
)  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
#: Shenzhen Bao'an (medium risk) and Chengdu Wuhou (high risk), as in the spec's examples.
MEDIUM_AREA, HIGH_AREA, CALM_AREA = "440306", "510107", "110101"
#: People whose number ends in this digit tested positive; those ending in 3 are contacts.
CASE_ROLL = 8


@dataclass(frozen=True)
class DemoCity:
    people: int
    sample: dict[str, str]  # colour → a person_ref with that colour


def _event(
    kind: str, at: datetime, person: dict[str, str], data: dict[str, object]
) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "kind": kind,
        "occurred_at": at.isoformat(),
        "person": person,
        "data": data,
    }


async def load(
    pool: asyncpg.Pool, *, people: int, id_secret: bytes, rules: object, seed: int = 2022
) -> DemoCity:
    """Register ``people`` people and give some of them a reason to be yellow or red."""
    from codesvc.state.rules import Rules

    assert isinstance(rules, Rules)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    commission = Principal("commission", "demo", None, now.timestamp() + 3600)
    feed = Principal("feeder", "demo-feed", None, now.timestamp() + 3600)
    async with pool.acquire() as conn:
        for listing in (
            Listing(MEDIUM_AREA, "medium", now - timedelta(days=30), None),
            Listing(HIGH_AREA, "high", now - timedelta(days=30), None),
        ):
            await put_listing(conn, listing, commission, rules, now, dry_run=False)
        # A designation names a stored positive result: each case's id is known up front.
        cases = {n: str(uuid.uuid4()) for n in range(people) if n % 10 == CASE_ROLL}
        events: list[dict[str, object]] = []
        for n in range(people):
            district = DISTRICTS[n % len(DISTRICTS)]
            person = {
                "id_number": make_id_number(
                    district, date(1960 + n % 45, 1 + n % 12, 1 + n % 28), n % 999
                ),
                "name": rng.choice(SURNAMES)
                + rng.choice(GIVEN)
                + rng.choice(("", rng.choice(GIVEN))),
                "district": district,
            }
            events.extend(_story(rng, n, person, now, cases))
        # Designations go last, so that the cases they name are stored before them.
        events.sort(key=lambda e: e["kind"] == "contact.designated")
        for start in range(0, len(events), 1000):
            await ingest(
                conn,
                [read_item(e) for e in events[start : start + 1000]],
                feed,
                id_secret=id_secret,
                rules=rules,
                now=now,
            )
        await sweep_all(pool, rules, lambda: datetime.now(UTC))
        rows = await conn.fetch(
            """SELECT DISTINCT ON (s.color) s.color, p.person_ref
               FROM statuses s JOIN persons p USING (person_id) ORDER BY s.color, p.person_id"""
        )
    return DemoCity(people, {r["color"]: r["person_ref"] for r in rows})


def _story(
    rng: random.Random, n: int, person: dict[str, str], now: datetime, cases: dict[int, str]
) -> list[dict[str, object]]:
    """Most people do nothing of note; some travelled, some tested, a few were cases or
    their contacts."""
    arrived = now - timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 23))
    lab = {"lab_id": "lab-" + str(rng.randint(1, 9))}
    roll = n % 10
    if roll in (0, 1):  # back from a medium-risk area; some have tested since
        out = [
            _event(
                "travel.arrival", arrived, person, {"area_code": MEDIUM_AREA, "source": "itinerary"}
            )
        ]
        if roll == 1:
            for k, hours in enumerate((20, 50)):
                out.append(
                    _event(
                        "test.result",
                        arrived + timedelta(hours=hours),
                        person,
                        {"result": "negative", "sample_id": f"s{n}-{k}", **lab},
                    )
                )
        return out
    if roll == 2:  # back from a high-risk area
        return [
            _event(
                "travel.arrival", arrived, person, {"area_code": HIGH_AREA, "source": "itinerary"}
            )
        ]
    case = cases.get(n + CASE_ROLL - 3) or cases.get(n + CASE_ROLL - 13)
    if roll == 3 and case:  # close contact of a case
        return [_event("contact.designated", arrived, person, {"level": "close", "case_ref": case})]
    if roll == CASE_ROLL:  # a positive result: a case
        tested: dict[str, object] = {"result": "positive", "sample_id": f"c{n}", **lab}
        return [{**_event("test.result", arrived, person, tested), "event_id": cases[n]}]
    if roll == 4:  # travelled from a calm area and did the landing tests
        return [
            _event(
                "travel.arrival", arrived, person, {"area_code": CALM_AREA, "source": "self_report"}
            ),
            _event(
                "test.result",
                arrived + timedelta(hours=6),
                person,
                {"result": "negative", "sample_id": f"l{n}-0", **lab},
            ),
            _event(
                "test.result",
                arrived + timedelta(hours=31),
                person,
                {"result": "negative", "sample_id": f"l{n}-1", **lab},
            ),
        ]
    return [
        _event("test.result", arrived, person, {"result": "negative", "sample_id": f"r{n}", **lab})
    ]
