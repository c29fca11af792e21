"""Stored statuses: lock, recompute from the fold, save with the bitemporal history.

The stored status is a cache of ``evaluate(state, world, now)``; every write path
(events, corrections, listings, campaigns, the sweeper) goes through ``refresh``. A
person's facts are their rows in ``events`` (appended before the refresh that takes
them in), so the status row stays the same few bytes however long a life it describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from codesvc.service import notifications
from codesvc.state.colors import Color
from codesvc.state.events import Event, TravelArrival, from_stored
from codesvc.state.history import Recorded, reconcile
from codesvc.state.person import PersonState, from_facts
from codesvc.state.rules import Rules
from codesvc.state.status import Interval, Status
from codesvc.state.timeline import evaluate
from codesvc.state.world import Campaign, Listing, World


class Newcomer(Protocol):
    """A person just registered, as `create` needs them (a `persons.Person` fits)."""

    @property
    def person_id(self) -> int: ...
    @property
    def district(self) -> str: ...
    @property
    def registered_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Stored:
    """A person's row in ``statuses``."""

    person_id: int
    color: Color
    since: datetime
    next_change_at: datetime | None
    #: the row's version as read (its xmin): a later write to it changes this
    version: int


@dataclass(frozen=True, slots=True)
class Change:
    """What a refresh did to one person."""

    person_id: int
    before: Color
    after: Status


STATUS_COLUMNS = "person_id, color, since, next_change_at, xmin::text::bigint AS version"


def stored(row: asyncpg.Record) -> Stored:
    return Stored(
        row["person_id"], Color(row["color"]), row["since"], row["next_change_at"], row["version"]
    )


async def facts(conn: asyncpg.Connection, person_ids: Iterable[int]) -> dict[int, PersonState]:
    """The facts of these people, from their registration and stored events."""
    rows = await conn.fetch(
        """SELECT p.person_id, p.registered_at, p.district,
                  e.event_id::text, e.kind, e.occurred_at, e.data
           FROM persons p LEFT JOIN events e ON e.person_id = p.person_id
           WHERE p.person_id = ANY($1::bigint[])""",
        list(person_ids),
    )
    people: dict[int, tuple[datetime, str, list[Event]]] = {}
    for r in rows:
        person = people.get(r["person_id"])
        if person is None:
            person = people[r["person_id"]] = (r["registered_at"], r["district"], [])
        if r["event_id"] is not None:
            person[2].append(from_stored(r["event_id"], r["kind"], r["occurred_at"], r["data"]))
    return {pid: from_facts(*person) for pid, person in people.items()}


async def lock(conn: asyncpg.Connection, person_ids: Iterable[int]) -> dict[int, Stored]:
    """Lock the rows in id order (so concurrent writers cannot deadlock) and read them."""
    rows = await conn.fetch(
        f"""SELECT {STATUS_COLUMNS} FROM statuses WHERE person_id = ANY($1::bigint[])
            ORDER BY person_id FOR UPDATE""",
        sorted(set(person_ids)),
    )
    return {r["person_id"]: stored(r) for r in rows}


async def read(conn: asyncpg.Connection, person_ids: Iterable[int]) -> dict[int, Stored]:
    """The rows as they are, without locking them (a job prepares a chunk this way)."""
    rows = await conn.fetch(
        f"SELECT {STATUS_COLUMNS} FROM statuses WHERE person_id = ANY($1::bigint[])",
        sorted(set(person_ids)),
    )
    return {r["person_id"]: stored(r) for r in rows}


async def load_world(
    conn: asyncpg.Connection, states: Iterable[PersonState], rules: Rules
) -> World:
    """The listings and campaigns that can touch these people, and nothing else."""
    areas: set[str] = set()
    districts: set[str] = set()
    for state in states:
        districts.add(state.district)
        areas.update(e.area_code for e in state.events if isinstance(e, TravelArrival))
    # One round trip for both: this runs on every status read and every write.
    row = await conn.fetchrow(
        """SELECT
             ARRAY(SELECT ROW(area_code, level, valid_from, valid_to) FROM risk_listings
                   WHERE area_code = ANY($1::text[])) AS listings,
             ARRAY(SELECT ROW(campaign_id, districts, starts_at, ends_at) FROM campaigns
                   WHERE districts && $2::text[]) AS campaigns""",
        sorted(areas),
        sorted(districts),
    )
    return world_of(row["listings"], row["campaigns"], rules)


def world_of(listings: Iterable[Any], campaigns: Iterable[Any], rules: Rules) -> World:
    """A world from rows of ``(area_code, level, valid_from, valid_to)`` and
    ``(campaign_id, districts, starts_at, ends_at)``, as `load_world` selects them."""
    return World(
        tuple(Listing(*listing) for listing in listings),
        tuple(
            Campaign(campaign_id, frozenset(names), starts_at, ends_at)
            for campaign_id, names, starts_at, ends_at in campaigns
        ),
        rules,
    )


async def current(
    conn: asyncpg.Connection, person_id: int, rules: Rules, now: datetime, *, explained: bool = True
) -> Status | None:
    """A status read: the stored facts evaluated at ``now``, so no passed deadline is ever
    shown; None for a person with no status row. Without ``explained``, no reasons."""
    found = await evaluate_now(conn, [person_id], rules, now, explained=explained)
    return found.get(person_id)


async def evaluate_now(
    conn: asyncpg.Connection,
    person_ids: Sequence[int],
    rules: Rules,
    now: datetime,
    *,
    explained: bool = True,
) -> dict[int, Status]:
    """The statuses of these people at ``now``, from their stored facts: one round trip
    for their facts and one for what of the world can touch them, however many they are."""
    states = await facts(conn, person_ids)
    if not states:
        return {}
    world = await load_world(conn, states.values(), rules)
    return {pid: evaluate(state, world, now, explained=explained) for pid, state in states.items()}


async def create(
    conn: asyncpg.Connection,
    people: Sequence[Newcomer],
    rules: Rules,
    *,
    events: Mapping[int, Sequence[Event]] | None = None,
    now: datetime | None = None,
    causes: Mapping[int, str] | None = None,
) -> None:
    """The first status and history of newly registered people: green since registration,
    and when a campaign of their district will hold them (R8), as any later write says.

    ``events`` are those stored for them in the registering transaction (a lab's result
    that registers its person): their status is then stored as registering and at once
    re-evaluating at ``now`` would leave it, colour-change notification included (named
    by ``causes``), in one evaluation and one write instead of two of each.

    The campaigns are read here, in the registering transaction: a campaign committed
    before it is seen, and one committed after it comes with a job that reaches them.
    """
    if not people:
        return
    events = events or {}
    causes = causes or {}
    states = [
        from_facts(p.registered_at, p.district, events[p.person_id])
        if events.get(p.person_id)
        else PersonState.new(p.registered_at, p.district)
        for p in people
    ]
    world = await load_world(conn, states, rules)
    # Everyone registered in one district at one moment starts with the same status.
    first: dict[tuple[str, datetime], Status] = {}
    writes = Writes()
    for p, state in zip(people, states, strict=True):
        key = (p.district, p.registered_at)
        if key not in first:
            fresh = PersonState.new(p.registered_at, p.district)
            first[key] = evaluate(fresh, world, p.registered_at, explained=False)
        status = first[key]
        if state.events:
            status = evaluate(state, world, now or p.registered_at, explained=False)
            writes.tell(p.person_id, first[key].color, status, causes[p.person_id])
        writes.statuses.append((p.person_id, status))
        writes.inserts.extend((p.person_id, interval) for interval in status.intervals)
    await conn.execute(
        _CREATE_SQL,
        *writes.status_columns(),
        now or people[0].registered_at,
        *writes.insert_columns(),
        *writes.told_columns(),
    )


def _history_inserted(n: int) -> str:
    """A statement's ``inserted`` part: history rows given column by column as
    $n..$n+4 (`Writes.insert_columns`), recorded at $5."""
    return f"""inserted AS (
    INSERT INTO history (person_id, valid_from, valid_to, color, cause, recorded_at)
    SELECT u.*, $5 FROM unnest(${n}::bigint[], ${n + 1}::timestamptz[], ${n + 2}::timestamptz[],
                               ${n + 3}::text[], ${n + 4}::text[]) AS u
    RETURNING 1
)"""


def _told(first: int) -> str:
    """A statement's ``told`` part: colour-change notifications given as $first and
    $first+1 (`Writes.told_columns`), at $5."""
    return f"""told AS (
    INSERT INTO notifications (person_id, at, kind, detail)
    SELECT u.person_id, $5, '{notifications.COLOR_CHANGED}', u.detail
    FROM unnest(${first}::bigint[], ${first + 1}::jsonb[]) AS u(person_id, detail)
    RETURNING 1
)"""


# The first status, history and colour-change notifications of new people, in one round trip.
_CREATE_SQL = f"""
WITH status AS (
    INSERT INTO statuses (person_id, color, since, next_change_at, updated_at)
    SELECT u.*, $5 FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS u
    RETURNING 1
), {_history_inserted(6)}, {_told(11)}
SELECT count(*) FROM status
"""


@dataclass
class Writes:
    """What storing re-evaluated people writes, gathered for one statement."""

    statuses: list[tuple[int, Status]] = field(default_factory=list)
    #: open history rows closed in place: (person_id, row_id, end)
    closes: list[tuple[int, int, datetime | None]] = field(default_factory=list)
    #: history rows superseded: (person_id, row_id, by what)
    supersedes: list[tuple[int, int, str]] = field(default_factory=list)
    inserts: list[tuple[int, Interval]] = field(default_factory=list)
    #: colour-change notifications: (person_id, detail)
    told: list[tuple[int, dict[str, object]]] = field(default_factory=list)

    def tell(self, person_id: int, before: Color, after: Status, cause: str) -> None:
        """A notification for the person if their stored colour moves from ``before``."""
        if before is not after.color:
            moved = notifications.ColorChange(person_id, before, after.color, after.since, cause)
            self.told.append((person_id, notifications.color_detail(moved)))

    def status_columns(self) -> list[list[Any]]:
        """The statuses column by column: person, colour, since, next change."""
        return [
            [pid for pid, _ in self.statuses],
            [st.color.value for _, st in self.statuses],
            [st.since for _, st in self.statuses],
            [st.next_change_at for _, st in self.statuses],
        ]

    def insert_columns(self) -> list[list[Any]]:
        """The history rows to insert column by column: person, start, end, colour, cause."""
        return [
            [pid for pid, _ in self.inserts],
            [i.start for _, i in self.inserts],
            [i.end for _, i in self.inserts],
            [i.color.value for _, i in self.inserts],
            [i.cause for _, i in self.inserts],
        ]

    def told_columns(self) -> list[list[Any]]:
        """The notifications column by column: person, detail."""
        return [[pid for pid, _ in self.told], [detail for _, detail in self.told]]

    def without(self, people: set[int]) -> Writes:
        """These writes less those of ``people``."""
        return Writes(
            [w for w in self.statuses if w[0] not in people],
            [w for w in self.closes if w[0] not in people],
            [w for w in self.supersedes if w[0] not in people],
            [w for w in self.inserts if w[0] not in people],
            [w for w in self.told if w[0] not in people],
        )


async def reevaluate(
    conn: asyncpg.Connection,
    seen: dict[int, Stored],
    rules: Rules,
    now: datetime,
    causes: dict[int, str] | str,
) -> tuple[list[Change], Writes]:
    """Evaluate people from their stored events and plan the writes that store them.

    ``causes`` names what moved them, per person or for all: the history's
    ``superseded_by`` and the notification's ``cause``.
    """
    states = await facts(conn, seen)
    world = await load_world(conn, states.values(), rules)
    changes = [
        Change(pid, seen[pid].color, evaluate(state, world, now, explained=False))
        for pid, state in states.items()
    ]
    current: dict[int, list[Recorded]] = {}
    if changes:
        rows = await conn.fetch(
            """SELECT row_id, person_id, valid_from, valid_to, color, cause, recorded_at
               FROM history WHERE person_id = ANY($1::bigint[]) AND superseded_at IS NULL""",
            [c.person_id for c in changes],
        )
        for r in rows:
            current.setdefault(r["person_id"], []).append(recorded(r))
    writes = Writes()
    for change in changes:
        pid, after = change.person_id, change.after
        why = causes if isinstance(causes, str) else causes.get(pid, "recomputed")
        writes.statuses.append((pid, after))
        # Each history row is named by its person too: the key a table distributed by
        # person needs.
        plan = reconcile(current.get(pid, []), after.intervals, now)
        writes.closes.extend((pid, row_id, end) for row_id, end in plan.close)
        writes.supersedes.extend((pid, row_id, why) for row_id in plan.supersede)
        writes.inserts.extend((pid, interval) for interval in plan.insert)
        writes.tell(pid, change.before, after, why)
    return changes, writes


# Status, history and notifications of many people in one round trip. History rows are
# closed in place or superseded, never both, so no row is written twice.
_WRITE_SQL = f"""
WITH status AS (
    UPDATE statuses AS s SET color = u.color, since = u.since,
           next_change_at = u.next_change_at, updated_at = $5
    FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[])
        AS u(person_id, color, since, next_change_at)
    WHERE s.person_id = u.person_id
    RETURNING s.person_id
), closed AS (
    UPDATE history AS h SET valid_to = u.valid_to
    FROM unnest($6::bigint[], $7::bigint[], $8::timestamptz[]) AS u(person_id, row_id, valid_to)
    WHERE h.person_id = u.person_id AND h.row_id = u.row_id
    RETURNING 1
), superseded AS (
    UPDATE history AS h SET superseded_at = $5, superseded_by = u.cause
    FROM unnest($9::bigint[], $10::bigint[], $11::text[]) AS u(person_id, row_id, cause)
    WHERE h.person_id = u.person_id AND h.row_id = u.row_id
    RETURNING 1
), {_history_inserted(12)}, {_told(17)}
SELECT count(*) FROM status
"""


async def write(conn: asyncpg.Connection, writes: Writes, now: datetime) -> None:
    """Store planned writes; the people's status rows must be locked by the caller."""
    if not writes.statuses:
        return
    await conn.execute(
        _WRITE_SQL,
        *writes.status_columns(),
        now,
        [c[0] for c in writes.closes],
        [c[1] for c in writes.closes],
        [c[2] for c in writes.closes],
        [c[0] for c in writes.supersedes],
        [c[1] for c in writes.supersedes],
        [c[2] for c in writes.supersedes],
        *writes.insert_columns(),
        *writes.told_columns(),
    )


async def refresh(
    conn: asyncpg.Connection,
    locked: dict[int, Stored],
    rules: Rules,
    now: datetime,
    causes: dict[int, str] | str,
) -> list[Change]:
    """Recompute locked people from their stored events; save status and history."""
    changes, writes = await reevaluate(conn, locked, rules, now, causes)
    await write(conn, writes, now)
    return changes


def recorded(row: asyncpg.Record) -> Recorded:
    return Recorded(
        row["row_id"],
        Interval(row["valid_from"], row["valid_to"], Color(row["color"]), row["cause"]),
        row["recorded_at"],
        row.get("superseded_at"),
        row.get("superseded_by"),
    )


async def history(conn: asyncpg.Connection, person_id: int) -> list[Recorded]:
    rows = await conn.fetch(
        """SELECT row_id, valid_from, valid_to, color, cause, recorded_at, superseded_at,
                  superseded_by
           FROM history WHERE person_id = $1 ORDER BY valid_from, recorded_at, row_id""",
        person_id,
    )
    return [recorded(r) for r in rows]
