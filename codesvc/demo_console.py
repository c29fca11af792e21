"""``codesvc demo`` for the console: accounts to sign in with, and appeals in the queues."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from codesvc.service import accounts, appeals, persons
from codesvc.settings import Settings

#: (account, role, district, name): staff of several districts, two commission members.
ACCOUNTS = (
    ("huangpu-wang", "staff", "310101", "王伟"),
    ("huangpu-li", "staff", "310101", "李娜"),
    ("xuhui-zhang", "staff", "310104", "张敏"),
    ("pudong-chen", "staff", "310115", "陈静"),
    ("commissioner-li", "commission", None, "李明"),
    ("commissioner-zhao", "commission", None, "赵芳"),
)
#: Districts whose queues get a few appeals.
QUEUES = ("310101", "310115")
APPEALS_PER_QUEUE = 4


@dataclass(frozen=True)
class DemoAccount:
    sub: str
    role: str
    district: str | None
    name: str
    password: str
    totp_uri: str | None


async def load(
    pool: asyncpg.Pool, seal: accounts.TotpSeal, settings: Settings, now: datetime
) -> tuple[list[DemoAccount], int]:
    """Make (or reset) the demo accounts with fresh passwords, and file a few appeals from
    people of Huangpu and Pudong whose code is not green; returns the accounts and how
    many appeals were filed."""
    made = []
    async with pool.acquire() as conn:
        for sub, role, district, name in ACCOUNTS:
            password = secrets.token_urlsafe(9)
            uri = await accounts.add(
                conn,
                sub=sub,
                role=role,
                district=district,
                name=name,
                password=password,
                totp=False,
                seal=seal,
                now=now,
                replace=True,
            )
            made.append(DemoAccount(sub, role, district, name, password, uri))
        filed = 0
        for district in QUEUES:
            rows = await conn.fetch(
                """SELECT p.person_ref, e.event_id::text AS event_id
                   FROM persons p JOIN statuses s USING (person_id)
                   JOIN LATERAL (SELECT event_id FROM events e
                                 WHERE e.person_id = p.person_id
                                   AND e.kind = 'travel.arrival' LIMIT 1) e ON true
                   WHERE p.district = $1 AND s.color <> 'green'
                     AND NOT EXISTS (SELECT 1 FROM appeals a WHERE a.person_id = p.person_id)
                   ORDER BY p.person_id LIMIT $2""",
                district,
                APPEALS_PER_QUEUE,
            )
            found = await persons.by_refs(conn, [r["person_ref"] for r in rows])
            for n, r in enumerate(rows):
                await appeals.file(
                    conn,
                    found[r["person_ref"]],
                    appeals.Filing(
                        "wrong_travel_record",
                        "我那几天一直在上海，没有去过这个地区，行程记录有误。",
                        r["event_id"],
                    ),
                    # Filed over the last day, so some are nearly due and one is overdue.
                    now=now - timedelta(hours=25 - 7 * n),
                    policy=appeals.policy(settings),
                    rules=settings.rules,
                )
                filed += 1
    return made, filed
