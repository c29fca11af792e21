"""Drills on a real Patroni cluster: the primary dies, the standby dies, a backup is restored.

Two ``codesvc serve`` processes (as behind a load balancer) take events, scans, appeal
steps and audited reads from concurrent callers while a server is killed. Afterwards
every request that was answered 200/201 is looked up on the primary of the day: nothing
answered is lost, nothing re-sent is stored twice, and ``codesvc verify`` is clean.

Marked ``drill``: they run in ``scripts/test.sh``; ``-m 'not drill'`` leaves them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from codesvc.settings import Settings
from codesvc.tokens import AuthKeys
from tests.builders import arrival, id_number, negative
from tests.cluster import Cluster, running_cluster
from tests.processes import clean_env, codesvc, codesvc_serve, free_port

pytestmark = [pytest.mark.drill, pytest.mark.timeout(300)]

SECRET = "drill-secret-" + "x" * 32
DISTRICT = "310101"
#: Concurrent callers of each kind.
FEEDS, DOORS, CITIZENS, AUDITORS = 3, 4, 2, 2
#: Seconds of traffic before the kill, and after the first write that succeeds again.
BEFORE, AFTER = 3.0, 4.0
#: People whose landing-test deadline (R6, 72 h after arrival) falls during the drill,
#: one every ``SPACING`` seconds from the start of the traffic on.
DEADLINES, SPACING = 12, 0.75


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with running_cluster() as started:
        yield started


@dataclass
class Answered:
    """What callers were told, to be found in the database afterwards."""

    events: set[str] = field(default_factory=set)
    scans: set[str] = field(default_factory=set)
    appeal_steps: list[tuple[str, str]] = field(default_factory=list)
    reads: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    resent: int = 0
    duplicates_answered: int = 0
    #: Monotonic time of the first write that started after the kill and succeeded.
    first_write: float | None = None

    @property
    def count(self) -> int:
        return len(self.events) + len(self.scans) + len(self.appeal_steps) + len(self.reads)


def once() -> dict[str, str]:
    """A fresh Idempotency-Key, sent with every attempt of one creating request."""
    return {"Idempotency-Key": str(uuid.uuid4())}


class Traffic:
    """Concurrent callers against several servers, each keeping what it was answered."""

    def __init__(self, bases: list[str], session: aiohttp.ClientSession) -> None:
        self.bases = itertools.cycle(bases)
        self.session = session
        self.keys = AuthKeys.from_settings(Settings(auth_secret=SECRET))
        self.answered = Answered()
        self.killed_at: float | None = None
        self.stopping = asyncio.Event()
        self.serial = itertools.count()

    def auth(self, role: str, sub: str, district: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.sign(role, sub, district, ttl=3600)}"}

    async def call(
        self, method: str, path: str, headers: dict[str, str], body: object = None
    ) -> tuple[int, Any]:
        """One request to the next server; status 0 when no answer came at all."""
        started = time.monotonic()
        try:
            async with self.session.request(
                method, next(self.bases) + path, json=body, headers=headers,
                timeout=aiohttp.ClientTimeout(total=30),
            ) as resp:  # fmt: skip
                status, answer = resp.status, await resp.json()
        except (aiohttp.ClientError, TimeoutError):
            status, answer = 0, None
        self.answered.statuses[status] += 1
        wrote = method == "POST" and status in (200, 201)
        after_kill = self.killed_at is not None and started > self.killed_at
        if wrote and after_kill and self.answered.first_write is None:
            self.answered.first_write = time.monotonic()
        if status == 503:
            await asyncio.sleep(0.1)  # a real client honours Retry-After; a drill is impatient
        return status, answer

    async def until_answered(
        self, method: str, path: str, headers: dict[str, str], body: object = None
    ) -> tuple[int, Any]:
        """Send until an answer other than 503 (or no answer) comes, as a client would."""
        while True:
            status, answer = await self.call(method, path, headers, body)
            if status not in (0, 503):
                return status, answer
            self.answered.resent += 1

    async def person(self) -> tuple[str, str]:
        """Register someone with an arrival; returns their reference and the arrival's id."""
        # A registration re-sent after a lost answer is answered 201 again, by its key.
        status, body = await self.until_answered(
            "POST", "/v1/persons", {**self.auth("feeder", "registry"), **once()},
            {"id_number": id_number(DISTRICT), "name": "张三", "district": DISTRICT},
        )  # fmt: skip
        assert status == 201, body
        ref = body["person_ref"]
        came = arrival(datetime.now(UTC) - timedelta(days=1), {"person_ref": ref})
        status, body = await self.until_answered(
            "POST", "/v1/events", self.auth("feeder", "registry"), {"events": [came]}
        )
        assert status == 200, body
        self.answered.events.add(came["event_id"])
        return ref, came["event_id"]

    async def feed(self, n: int) -> None:
        """A lab feed: batches of new people's results, each batch re-sent until answered."""
        headers = self.auth("feeder", f"lab-{n}")
        while not self.stopping.is_set():
            batch = [
                negative(datetime.now(UTC) - timedelta(hours=1), {"id_number": id_number()})
                for _ in range(5)
            ]
            status, body = await self.until_answered(
                "POST", "/v1/events", headers, {"events": batch}
            )
            assert status == 200, body
            for result in body["results"]:
                assert result["status"] in ("accepted", "duplicate"), result
                self.answered.events.add(result["event_id"])
                self.answered.duplicates_answered += result["status"] == "duplicate"

    async def door(self, n: int, codes: list[str]) -> None:
        headers = self.auth("scanner", f"gate-{n}")
        for code in itertools.cycle(codes):
            if self.stopping.is_set():
                return
            status, body = await self.call("POST", "/v1/scans", headers, {"code": code})
            assert status in (0, 200, 503), body
            if status == 200:
                self.answered.scans.add(body["scan_id"])

    async def citizen(self) -> None:
        """File an appeal about one's arrival; a district officer claims and upholds it."""
        officer = self.auth("staff", "officer-1", DISTRICT)
        while not self.stopping.is_set():
            ref, arrived = await self.person()
            filed = {"category": "wrong_travel_record", "description": "I was never there.",
                     "disputed_event_id": arrived}  # fmt: skip
            # An attempt filed though unanswered is answered by its key when re-sent.
            status, body = await self.until_answered(
                "POST", "/v1/appeals", {**self.auth("citizen", ref), **once()}, filed
            )
            assert status == 201, body
            appeal = body["appeal_id"]
            self.answered.appeal_steps.append((appeal, "submitted"))
            path = f"/v1/appeals/{appeal}"
            status, body = await self.until_answered("POST", path + "/claim", officer)
            if status != 200:
                assert status == 409, body
                continue
            self.answered.appeal_steps.append((appeal, "in_review"))
            status, body = await self.until_answered(
                "POST", path + "/resolve", officer,
                {"outcome": "upheld", "note": "The itinerary record stands."},
            )  # fmt: skip
            if status == 200:
                self.answered.appeal_steps.append((appeal, "upheld"))
            else:
                assert status == 409, body

    async def auditor(self, refs: list[str]) -> None:
        """The commission reads people's status; each read is audited under its own name."""
        for ref in itertools.cycle(refs):
            if self.stopping.is_set():
                return
            sub = f"auditor-{next(self.serial)}"
            status, body = await self.call(
                "GET", f"/v1/persons/{ref}/status", self.auth("commission", sub)
            )
            assert status in (0, 200, 503), body
            if status == 200:
                self.answered.reads.add(sub)


@dataclass
class Drill:
    cluster: Cluster
    database: str
    env: dict[str, str]
    home: Path
    logs: list[Path]
    bases: list[str] = field(default_factory=list)

    def primary_url(self) -> str:
        return self.cluster.node_url(self.cluster.primary(), self.database)


@contextlib.asynccontextmanager
async def drill(cluster: Cluster, tmp_path: Path) -> AsyncIterator[Drill]:
    """A fresh database on the cluster and two servers on its multi-host URL."""
    database = f"codesvc_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(cluster.url())
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    env = clean_env(
        CODESVC_DATABASE_URL=cluster.url(database),
        CODESVC_HOME=str(tmp_path / "home"),
        CODESVC_AUTH_SECRET=SECRET,
        CODESVC_ID_SECRET="drill-id-secret-0123456789",
        CODESVC_CODE_SECRET="drill-code-secret-0123456789",
        CODESVC_CODE_TTL="900",
        CODESVC_SCAN_RATE="100000",
        CODESVC_SWEEP_INTERVAL="1",
        CODESVC_LOG_FORMAT="text",
        CODESVC_LOG_LEVEL="WARNING",
    )
    done = await asyncio.to_thread(codesvc, "migrate", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    logs = [tmp_path / f"serve-{n}.log" for n in (1, 2)]
    found = Drill(cluster, database, env, tmp_path / "home", logs)
    async with contextlib.AsyncExitStack() as stack:
        for log in logs:
            served = await stack.enter_async_context(codesvc_serve(env, tmp_path, log=log))
            found.bases.append(served.base)
        try:
            yield found
        except BaseException:
            print(cluster.describe())
            for log in logs:
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")
            raise


async def prepare(traffic: Traffic) -> tuple[list[str], list[str], list[str]]:
    """People to scan and read, and people whose landing deadline passes during the drill."""
    refs = [(await traffic.person())[0] for _ in range(6)]
    codes = []
    for ref in refs:
        status, body = await traffic.until_answered(
            "GET", "/v1/me/code", traffic.auth("citizen", ref)
        )
        assert status == 200, body
        codes.append(body["code"])
    landing = []
    for k in range(DEADLINES):
        status, body = await traffic.until_answered(
            "POST", "/v1/persons", traffic.auth("feeder", "registry"),
            {"id_number": id_number(DISTRICT), "name": "王五", "district": DISTRICT},
        )  # fmt: skip
        ref = body["person_ref"]
        due = datetime.now(UTC) + timedelta(seconds=1 + SPACING * k)
        came = arrival(due - timedelta(hours=72), {"person_ref": ref})
        status, body = await traffic.until_answered(
            "POST", "/v1/events", traffic.auth("feeder", "registry"), {"events": [came]}
        )
        assert status == 200, body
        traffic.answered.events.add(came["event_id"])
        landing.append(ref)
    return refs, codes, landing


async def run_drill(
    found: Drill, session: aiohttp.ClientSession, kill: Callable[[], None]
) -> tuple[Traffic, float, list[str]]:
    """Traffic, the kill, traffic until writes succeed again and a while after."""
    traffic = Traffic(found.bases, session)
    refs, codes, landing = await prepare(traffic)
    callers = [asyncio.create_task(traffic.feed(n)) for n in range(FEEDS)]
    callers += [asyncio.create_task(traffic.door(n, codes)) for n in range(DOORS)]
    callers += [asyncio.create_task(traffic.citizen()) for _ in range(CITIZENS)]
    callers += [asyncio.create_task(traffic.auditor(refs)) for _ in range(AUDITORS)]
    try:
        await asyncio.sleep(BEFORE)
        await asyncio.to_thread(kill)
        # Gone once the kill returns: killing a whole machine's processes takes a moment,
        # in which its PostgreSQL still answers.
        traffic.killed_at = time.monotonic()
        while traffic.answered.first_write is None:
            assert time.monotonic() - traffic.killed_at < 120, "no write succeeded after the kill"
            for task in callers:
                if task.done():
                    task.result()  # a caller that failed an assertion says why
            await asyncio.sleep(0.05)
        await asyncio.sleep(AFTER)
    finally:
        traffic.stopping.set()
        await asyncio.gather(*callers)
    return traffic, traffic.answered.first_write - traffic.killed_at, landing


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``check`` holds, for a minute at most, then fail naming ``what``."""
    deadline = time.monotonic() + 60
    while not await check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.2)


async def assert_all_there(found: Drill, traffic: Traffic, landing: list[str]) -> int:
    """Every answered request is in the primary's database, once; returns records found."""
    answered = traffic.answered
    assert answered.statuses[500] == 0, answered.statuses
    conn = await asyncpg.connect(found.primary_url())
    try:
        events = await conn.fetchval(
            "SELECT count(*) FROM events WHERE event_id = ANY($1::uuid[])", list(answered.events)
        )
        scans = await conn.fetchval(
            "SELECT count(*) FROM scans WHERE scan_id = ANY($1::uuid[])", list(answered.scans)
        )
        steps = Counter(
            (r["appeal_id"], r["to_status"])
            for r in await conn.fetch(
                "SELECT appeal_id, to_status FROM appeal_transitions WHERE appeal_id = ANY($1)",
                list({appeal for appeal, _ in answered.appeal_steps}),
            )
        )
        reads = Counter(
            r["actor_sub"]
            for r in await conn.fetch(
                "SELECT actor_sub FROM audit_log WHERE actor_sub = ANY($1)", list(answered.reads)
            )
        )
        appeals_per_person = await conn.fetchval(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM appeals "
            "GROUP BY person_id, disputed_event_id) AS per"
        )
        landed = await conn.fetch(
            "SELECT s.color FROM statuses s JOIN persons p USING (person_id) "
            "WHERE p.person_ref = ANY($1)",
            landing,
        )
    finally:
        await conn.close()
    lost = (len(answered.events) - events) + (len(answered.scans) - scans)
    lost += sum(1 for step in answered.appeal_steps if steps[step] == 0)
    lost += sum(1 for sub in answered.reads if reads[sub] == 0)
    duplicated = sum(n - 1 for n in steps.values() if n > 1)
    duplicated += sum(n - 1 for n in reads.values() if n > 1) + (appeals_per_person > 1)
    assert lost == 0, f"{lost} answered requests are missing"
    assert duplicated == 0, f"{duplicated} records are stored twice"
    assert len(landed) == DEADLINES
    located = sum(1 for step in answered.appeal_steps if steps[step]) + len(reads)
    return events + scans + located


async def assert_time_moves_codes(found: Drill, landing: list[str]) -> None:
    """Every landing deadline that passed during the drill is stored, by the sweeper alone
    (the last ones pass after the traffic stops: waiting for them is part of the check)."""

    async def all_yellow() -> bool:
        conn = await asyncpg.connect(found.primary_url())
        try:
            colours = await conn.fetch(
                "SELECT s.color FROM statuses s JOIN persons p USING (person_id) "
                "WHERE p.person_ref = ANY($1)",
                landing,
            )
        finally:
            await conn.close()
        return [r["color"] for r in colours] == ["yellow"] * DEADLINES

    await eventually(all_yellow, "the sweeper stored every colour the deadlines brought")


async def assert_revocation_reaches_every_server(found: Drill, traffic: Traffic) -> None:
    """A venue revoked on the new primary is refused by both servers."""
    done = await asyncio.to_thread(
        codesvc, "venue", "revoke", "gate-stolen", env=found.env, cwd=found.home.parent
    )
    assert done.returncode == 0, done.stderr
    headers = traffic.auth("scanner", "gate-stolen")
    for base in found.bases:

        async def refused(base: str = base) -> bool:
            async with traffic.session.post(
                base + "/v1/scans", json={"id_number": id_number()}, headers=headers
            ) as resp:
                return resp.status == 401

        await eventually(refused, f"{base} refuses the revoked venue")


async def assert_nothing_lost(
    found: Drill, traffic: Traffic, landing: list[str]
) -> tuple[int, str]:
    """What every drill checks once the service writes again: each answered request stored
    once, the deadlines that passed stored by the sweeper, and ``codesvc verify`` clean.
    Returns the records found and what verify said."""
    records = await assert_all_there(found, traffic, landing)
    await assert_time_moves_codes(found, landing)
    return records, await asyncio.to_thread(verify, found)


def verify(found: Drill) -> str:
    done = codesvc("verify", env=found.env, cwd=found.home.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def report(name: str, traffic: Traffic, records: int, recovered: float, checked: str) -> None:
    a = traffic.answered
    print(
        f"\n{name}: requests answered {a.count} (events {len(a.events)}, scans {len(a.scans)}, "
        f"appeal steps {len(a.appeal_steps)}, audited reads {len(a.reads)}); "
        f"records found {records}; lost 0; duplicated 0; "
        f"re-sent after 503 or no answer {a.resent} (answered duplicate {a.duplicates_answered}); "
        f"503s {a.statuses[503]}; seconds from kill to first successful write {recovered:.2f}; "
        f"verify: {checked}"
    )


async def test_the_primary_dies(cluster, tmp_path):
    """kill -9 of the primary's postmaster: Patroni promotes the synchronous standby."""
    cluster.wait_healthy()
    old_primary = cluster.primary()
    async with drill(cluster, tmp_path) as found, aiohttp.ClientSession() as session:
        traffic, recovered, landing = await run_drill(
            found, session, lambda: cluster.kill_postmaster(old_primary)
        )
        assert cluster.primary().name != old_primary.name, "the standby was not promoted"
        await assert_revocation_reaches_every_server(found, traffic)
        records, checked = await assert_nothing_lost(found, traffic, landing)
    report("primary killed", traffic, records, recovered, checked)


async def test_the_standby_dies(cluster, tmp_path):
    """The synchronous standby's machine is gone: writes go on (see the README), nothing
    answered is lost, and the standby catches up when it is back."""
    primary, standby = cluster.wait_healthy()
    async with drill(cluster, tmp_path) as found, aiohttp.ClientSession() as session:
        traffic, recovered, landing = await run_drill(
            found, session, lambda: cluster.kill_node(standby)
        )
        assert cluster.primary().name == primary.name
        records, checked = await assert_nothing_lost(found, traffic, landing)
        cluster.start_node(standby)
        await asyncio.to_thread(cluster.wait_healthy)
    report("standby killed", traffic, records, recovered, checked)


async def test_the_primarys_machine_dies(cluster, tmp_path):
    """The primary's whole machine is gone, Patroni with it: no one gives the leader key up,
    so the synchronous standby is promoted once the key expires (``ttl``), and nothing
    answered is lost meanwhile."""
    old_primary, _ = cluster.wait_healthy()
    async with drill(cluster, tmp_path) as found, aiohttp.ClientSession() as session:
        traffic, recovered, landing = await run_drill(
            found, session, lambda: cluster.kill_node(old_primary)
        )
        assert cluster.primary().name != old_primary.name, "the standby was not promoted"
        records, checked = await assert_nothing_lost(found, traffic, landing)
        cluster.start_node(old_primary)
        await asyncio.to_thread(cluster.wait_healthy)
    report("primary's machine lost", traffic, records, recovered, checked)


async def test_a_backup_restores_to_a_point_in_time(cluster, tmp_path):
    """A base backup and the archived WAL bring a fresh cluster to a chosen moment."""
    cluster.wait_healthy()
    backup = cluster.root / f"backup-{secrets.token_hex(3)}"
    restored = cluster.root / f"restored-{secrets.token_hex(3)}"
    primary = cluster.primary()
    async with drill(cluster, tmp_path) as found, aiohttp.ClientSession() as session:
        traffic = Traffic(found.bases, session)
        taken = cluster.account.run(
            str(cluster.tools.bin_dir / "pg_basebackup"), "-d", cluster.node_url(primary),
            "-D", str(backup), "--checkpoint=fast", "--no-sync",
        )  # fmt: skip
        assert taken.returncode == 0, taken.stderr
        kept = [(await traffic.person())[1] for _ in range(5)]
        conn = await asyncpg.connect(found.primary_url())
        try:
            target = await conn.fetchval("SELECT clock_timestamp()")
            await asyncio.sleep(0.5)
            after = [(await traffic.person())[1] for _ in range(5)]
            # The segment holding the target is finished now, so it is archived.
            segment = await conn.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        finally:
            await conn.close()
        await eventually(
            lambda: _archived_past(cluster, segment), "the WAL up to the target is archived"
        )
        port = restore(cluster, backup, restored, target)
        url = f"postgresql://postgres@127.0.0.1:{port}/{found.database}"
        env = {**found.env, "CODESVC_DATABASE_URL": url}
        try:
            conn = await asyncpg.connect(url)
            try:
                there = {str(r[0]) for r in await conn.fetch("SELECT event_id FROM events")}
            finally:
                await conn.close()
            assert set(kept) <= there, "an event before the target is missing"
            assert not set(after) & there, "an event after the target was restored"
            checked = codesvc("verify", env=env, cwd=tmp_path)
            assert checked.returncode == 0, checked.stdout + checked.stderr
        finally:
            cluster.account.run(str(cluster.tools.bin_dir / "pg_ctl"), "-D", str(restored),
                                "stop", "-m", "immediate")  # fmt: skip
    print(f"\nrestored to {target.isoformat()}: {checked.stdout.strip().splitlines()[-1]}")


async def _archived_past(cluster: Cluster, segment: str) -> bool:
    return any(f.name >= segment and len(f.name) == 24 for f in cluster.archive.iterdir())


def restore(cluster: Cluster, backup: Path, into: Path, target: datetime) -> int:
    """Start the backup as a new server that replays the archive up to ``target``."""
    backup.rename(into)
    (into / "recovery.signal").touch()
    port = free_port()
    settings = {
        "port": port,
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(cluster.root),
        "hba_file": str(into / "pg_hba.conf"),
        "ident_file": str(into / "pg_ident.conf"),
        "archive_mode": "off",
        "synchronous_standby_names": "",
        "restore_command": f"cp {cluster.archive}/%f %p",
        "recovery_target_time": target.isoformat(),
        "recovery_target_action": "promote",
    }
    with (into / "postgresql.auto.conf").open("a") as conf:
        for name, value in settings.items():
            conf.write(f"{name} = '{value}'\n")
    cluster.account.own(into)
    os.chmod(into, 0o700)
    started = cluster.account.run(
        str(cluster.tools.bin_dir / "pg_ctl"), "-D", str(into), "-l", str(into / "restore.log"),
        "-w", "-t", "60", "start",
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + (into / "restore.log").read_text()
    deadline = time.monotonic() + 60
    while True:
        done = cluster.account.run(
            str(cluster.tools.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port),
            "-U", "postgres", "-Atc", "SELECT pg_is_in_recovery()",
        )  # fmt: skip
        if done.stdout.strip() == "f":
            return port
        assert time.monotonic() < deadline, (into / "restore.log").read_text()[-3000:]
        time.sleep(0.2)
