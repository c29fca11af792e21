"""Appeals in the database: filing, the district's work, and corrections written into history.

Every step is one transaction holding the appeal's row: the state change, its recorded
transition, the citizen's notification and the audit entry commit together or not at
all. The rules (who may do what, from which state) are `codesvc.appeals`; this module
only stores what they decide.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from codesvc.appeals import rules as appeal_rules
from codesvc.appeals.machine import (
    OPEN,
    SYSTEM,
    TERMINAL,
    Actor,
    AppealConflict,
    AppealError,
    AppealForbidden,
    AppealState,
    advance,
    can_view,
)
from codesvc.appeals.rules import AppealPolicy, Category
from codesvc.service import audit_log, notifications
from codesvc.service import status as status_store
from codesvc.service.ingest import WORLD_LOCK, Candidate, Rejected, append_for, check
from codesvc.service.persons import Person
from codesvc.settings import Settings
from codesvc.state.events import (
    MAX_TEXT,
    Correction,
    Event,
    format_time,
    parse_event,
    parse_event_id,
)
from codesvc.state.person import PersonState, apply
from codesvc.state.rules import Rules
from codesvc.tokens import Principal

#: What an appeal's correction may add: facts, never corrections or overrides.
ADDABLE = frozenset({"travel.arrival", "test.result", "contact.designated", "case.discharged"})
#: Kinds an appeal may not void: an override ends only by another override (four eyes).
UNVOIDABLE = frozenset({"correction", "override"})
#: Most appeals one queue page shows.
QUEUE_MAX = 500

_OPEN_VALUES = sorted(s.value for s in OPEN)
NOT_FOUND = (
    "No such appeal, or not one you may see; check the appeal_id against /v1/me/appeals "
    "or your district's queue at /v1/appeals."
)


class AppealNotFound(AppealError):
    """No such appeal, or one the caller may not see (HTTP 404, never a hint)."""


class AppealInvalid(AppealError):
    """The request cannot be carried out as given; `errors` names each field (HTTP 422)."""

    def __init__(self, detail: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.errors = dict(errors or {})


class TooManyAppeals(AppealError):
    """The citizen filed as many appeals as a day allows (HTTP 429)."""

    def __init__(self, detail: str, retry_after: timedelta) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def policy(settings: Settings) -> AppealPolicy:
    """The configured appeal policy."""
    return AppealPolicy(
        due_after=timedelta(hours=settings.appeal_due_hours),
        daily_limit=settings.appeal_daily_limit,
    )


def actor_of(caller: Principal) -> Actor:
    return Actor(caller.role, caller.sub, caller.district)


@dataclass(frozen=True, slots=True)
class Appeal:
    appeal_id: str
    person_id: int
    person_ref: str
    district: str
    category: str
    description: str
    evidence: Mapping[str, object]
    disputed_event_id: str | None
    state: AppealState
    claimed_by: str | None
    filed_at: datetime
    due_at: datetime
    decided_at: datetime | None
    outcome_note: str | None
    version: int


@dataclass(frozen=True, slots=True)
class Note:
    note_id: int
    author_role: str
    author_sub: str
    visibility: str
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime
    actor_role: str
    actor_sub: str
    from_state: str | None
    to_state: str
    why: str | None


@dataclass(frozen=True, slots=True)
class Dossier:
    """An appeal with its notes and its transitions, oldest first."""

    appeal: Appeal
    notes: tuple[Note, ...] = ()
    transitions: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True)
class Filing:
    category: str
    description: str
    disputed_event_id: str | None = None
    evidence: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Corrections:
    """What a `corrected` decision changes: events to void, events (API shape) to add."""

    void: Sequence[object] = ()
    add: Sequence[object] = ()


APPEAL_COLUMNS = """a.appeal_id, a.person_id, p.person_ref, a.district, a.category,
    a.description, a.evidence, a.disputed_event_id::text, a.status, a.claimed_by, a.filed_at,
    a.due_at, a.decided_at, a.outcome_note, a.version"""


def _appeal(row: asyncpg.Record) -> Appeal:
    return Appeal(
        row["appeal_id"],
        row["person_id"],
        row["person_ref"],
        row["district"],
        row["category"],
        row["description"],
        row["evidence"],
        row["disputed_event_id"],
        AppealState(row["status"]),
        row["claimed_by"],
        row["filed_at"],
        row["due_at"],
        row["decided_at"],
        row["outcome_note"],
        row["version"],
    )


# --- filing -----------------------------------------------------------------------------


async def file(
    conn: asyncpg.Connection,
    person: Person,
    filing: Filing,
    *,
    now: datetime,
    policy: AppealPolicy,
    rules: Rules,
) -> Appeal:
    """File an appeal for ``person``; one whose evidence the machine can check resolves now."""
    errors = appeal_rules.validate_filing(
        filing.category, filing.description, filing.evidence, filing.disputed_event_id, policy
    )
    if errors:
        raise AppealInvalid("The appeal cannot be filed as it is; fix the fields named.", errors)
    citizen = Actor("citizen", person.person_ref)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", WORLD_LOCK)
        # The person's status row serialises their filings, so the limits hold under races.
        await status_store.lock(conn, [person.person_id])
        await _check_limit(conn, person, now, policy)
        disputed = parse_event_id(filing.disputed_event_id) if filing.disputed_event_id else None
        reported_by = await _disputed(conn, person, disputed) if disputed else None
        appeal_id = "a_" + secrets.token_hex(6)
        try:
            row = await conn.fetchrow(
                f"""WITH a AS (
                        INSERT INTO appeals (appeal_id, person_id, district, category,
                            description, evidence, disputed_event_id, status, filed_at, due_at)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitted', $8, $9)
                        RETURNING *)
                    SELECT {APPEAL_COLUMNS} FROM a JOIN persons p USING (person_id)""",
                appeal_id,
                person.person_id,
                appeal_rules.route(reported_by, person.district),
                filing.category,
                filing.description.strip(),
                dict(filing.evidence),
                disputed,
                now,
                appeal_rules.due_at(now, policy),
            )
        except asyncpg.UniqueViolationError:
            raise AppealConflict(_already_open(disputed)) from None
        appeal = _appeal(row)
        await _transition(conn, appeal, None, citizen, now, None)
        await audit_log.append(
            conn, citizen, now, [_audit("appeal.file", appeal, {"to": appeal.state.value})]
        )
        if appeal.category == Category.MISSING_TEST_RESULT.value:
            appeal = await _try_link(conn, appeal, person, now, rules)
        return appeal


async def _check_limit(
    conn: asyncpg.Connection, person: Person, now: datetime, policy: AppealPolicy
) -> None:
    filed = await conn.fetch(
        "SELECT filed_at FROM appeals WHERE person_id = $1 AND filed_at > $2 ORDER BY filed_at",
        person.person_id,
        now - policy.daily_window,
    )
    times = [r["filed_at"] for r in filed]
    if appeal_rules.limit_reached(times, now, policy):
        wait = times[len(times) - policy.daily_limit] + policy.daily_window - now
        raise TooManyAppeals(
            f"You have filed {len(times)} appeals in the last "
            f"{_hours(policy.daily_window)} hours, the most allowed; you can file another "
            f"after {format_time(now + wait)}. Your open appeals are still being worked.",
            wait,
        )


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}"


async def _disputed(conn: asyncpg.Connection, person: Person, event_id: str) -> str | None:
    """The district that reported the disputed event (None: the person's own works it)."""
    row = await conn.fetchrow(
        "SELECT person_id, data ->> 'reporting_district' AS reported_by FROM events "
        "WHERE event_id = $1",
        uuid.UUID(event_id),
    )
    if row is None or row["person_id"] != person.person_id:
        raise AppealInvalid(
            "The disputed event is not on your record; give the event_id shown with the "
            "reason for your colour.",
            {"disputed_event_id": "not an event on your record"},
        )
    open_one = await conn.fetchval(
        """SELECT appeal_id FROM appeals WHERE person_id = $1 AND disputed_event_id = $2
           AND status = ANY($3::text[])""",
        person.person_id,
        uuid.UUID(event_id),
        _OPEN_VALUES,
    )
    if open_one is not None:
        raise AppealConflict(_already_open(event_id, open_one))
    reported_by: str | None = row["reported_by"]
    return reported_by


def _already_open(event_id: str | None, appeal_id: str | None = None) -> str:
    which = f" ({appeal_id})" if appeal_id else ""
    return (
        f"You already have an open appeal{which} about event {event_id}; follow it at "
        "/v1/me/appeals, or withdraw it before filing again."
    )


async def _try_link(
    conn: asyncpg.Connection, appeal: Appeal, person: Person, now: datetime, rules: Rules
) -> Appeal:
    """Link a lab result no one was tied to, when the evidence names it and the name and
    phone the lab wrote down are the appellant's; then the appeal is corrected at once."""
    lab_id = str(appeal.evidence.get("lab_id", "")).strip()
    sample_id = str(appeal.evidence.get("sample_id", "")).strip()
    rows = await conn.fetch(
        """SELECT event_id::text, kind, occurred_at, data FROM events
           WHERE kind = 'test.result' AND person_id IS NULL
             AND data ->> 'lab_id' = $1 AND data ->> 'sample_id' = $2
           ORDER BY event_id FOR UPDATE""",
        lab_id,
        sample_id,
    )
    found = [
        r
        for r in rows
        if appeal_rules.evidence_matches(
            r["data"].get("name"), r["data"].get("phone"), person.name, person.phone
        )
    ]
    if not found:
        return appeal
    await conn.execute(
        "UPDATE events SET person_id = $1 WHERE event_id = ANY($2::uuid[])",
        person.person_id,
        [r["event_id"] for r in found],
    )
    events = [
        parse_event(
            r["event_id"],
            r["kind"],
            r["occurred_at"],
            {k: v for k, v in r["data"].items() if k not in ("name", "phone")},
        )
        for r in found
    ]
    await _recompute(conn, appeal, events, now, rules)
    note = (
        f"已找到您在检测机构 {lab_id} 的检测结果（样本 {sample_id}）并计入您的记录。"
        f"Your test result from lab {lab_id} (sample {sample_id}) was found and added to "
        "your record."
    )
    linked = [e.event_id for e in events]
    return await _move(
        conn,
        appeal,
        "auto_correct",
        SYSTEM,
        now,
        why=f"linked lab result(s) {', '.join(linked)}",
        outcome_note=note,
        detail={"linked": linked},
    )


# --- reading ----------------------------------------------------------------------------


async def get(conn: asyncpg.Connection, appeal_id: str, actor: Actor, now: datetime) -> Dossier:
    """One appeal for someone who may see it; staff and commission reads are audited."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""SELECT {APPEAL_COLUMNS} FROM appeals a JOIN persons p USING (person_id)
                WHERE a.appeal_id = $1""",
            appeal_id,
        )
        appeal = _visible(row, actor)
        if actor.role in ("staff", "commission"):
            await audit_log.append(conn, actor, now, [_audit("appeal.read", appeal)])
        return (await dossiers(conn, [appeal]))[0]


async def of_person(conn: asyncpg.Connection, person_id: int) -> list[Dossier]:
    """A citizen's own appeals, newest first."""
    rows = await conn.fetch(
        f"""SELECT {APPEAL_COLUMNS} FROM appeals a JOIN persons p USING (person_id)
            WHERE a.person_id = $1 ORDER BY a.filed_at DESC, a.appeal_id""",
        person_id,
    )
    return await dossiers(conn, [_appeal(r) for r in rows])


@dataclass(frozen=True, slots=True)
class QueueQuery:
    states: frozenset[AppealState] = OPEN
    overdue: bool | None = None
    district: str | None = None
    limit: int = 100


async def queue(
    conn: asyncpg.Connection, actor: Actor, query: QueueQuery, now: datetime
) -> list[Appeal]:
    """The appeals to work, overdue first, then by due time; staff see their district's only.

    Each appeal shown is a read of its person's data, so each is audited (one append).
    """
    district = query.district
    if actor.role == "staff":
        if district is not None and district != actor.district:
            raise AppealNotFound(
                f"Staff see only their own district's queue ({actor.district}); "
                "leave out district or give yours."
            )
        district = actor.district
    overdue_sql = "(a.status = ANY($4::text[]) AND a.due_at < $5)"
    async with conn.transaction():
        rows = await conn.fetch(
            f"""SELECT {APPEAL_COLUMNS} FROM appeals a JOIN persons p USING (person_id)
                WHERE ($1::text IS NULL OR a.district = $1) AND a.status = ANY($2::text[])
                  AND ($3::boolean IS NULL OR {overdue_sql} = $3)
                ORDER BY {overdue_sql} DESC, a.due_at, a.filed_at, a.appeal_id
                LIMIT $6""",
            district,
            sorted(s.value for s in query.states),
            query.overdue,
            _OPEN_VALUES,
            now,
            min(query.limit, QUEUE_MAX),
        )
        appeals = appeal_rules.queue_order([_appeal(r) for r in rows], now)
        await audit_log.append(
            conn, actor, now, [_audit("appeal.list", a, {"status": a.state.value}) for a in appeals]
        )
    return appeals


def _visible(row: asyncpg.Record | None, actor: Actor) -> Appeal:
    if row is None:
        raise AppealNotFound(NOT_FOUND)
    appeal = _appeal(row)
    if not can_view(actor, appeal_district=appeal.district, appeal_person_ref=appeal.person_ref):
        raise AppealNotFound(NOT_FOUND)
    return appeal


async def dossiers(conn: asyncpg.Connection, appeals: Sequence[Appeal]) -> list[Dossier]:
    ids = [a.appeal_id for a in appeals]
    notes = await conn.fetch(
        """SELECT appeal_id, note_id, author_role, author_sub, visibility, text, at
           FROM appeal_notes WHERE appeal_id = ANY($1::text[]) ORDER BY note_id""",
        ids,
    )
    moves = await conn.fetch(
        """SELECT appeal_id, at, actor_role, actor_sub, from_status, to_status, why
           FROM appeal_transitions WHERE appeal_id = ANY($1::text[]) ORDER BY transition_id""",
        ids,
    )
    notes_of: dict[str, list[Note]] = {}
    for n in notes:
        notes_of.setdefault(n["appeal_id"], []).append(
            Note(
                n["note_id"], n["author_role"], n["author_sub"], n["visibility"], n["text"], n["at"]
            )
        )
    moves_of: dict[str, list[Transition]] = {}
    for m in moves:
        moves_of.setdefault(m["appeal_id"], []).append(
            Transition(
                m["at"], m["actor_role"], m["actor_sub"], m["from_status"], m["to_status"], m["why"]
            )
        )
    return [
        Dossier(a, tuple(notes_of.get(a.appeal_id, ())), tuple(moves_of.get(a.appeal_id, ())))
        for a in appeals
    ]


# --- working an appeal ------------------------------------------------------------------


async def claim(conn: asyncpg.Connection, appeal_id: str, actor: Actor, now: datetime) -> Appeal:
    """Take the appeal into review; of two officers claiming at once, exactly one wins."""
    async with conn.transaction():
        appeal = await _locked(conn, appeal_id, actor)
        return await _move(conn, appeal, "claim", actor, now, why=None)


async def escalate(
    conn: asyncpg.Connection, appeal_id: str, actor: Actor, now: datetime, why: str
) -> Appeal:
    """Pass the appeal to the commission, which then decides it."""
    async with conn.transaction():
        appeal = await _locked(conn, appeal_id, actor)
        return await _move(conn, appeal, "escalate", actor, now, why=why)


async def withdraw(
    conn: asyncpg.Connection, appeal_id: str, actor: Actor, now: datetime, why: str | None
) -> Appeal:
    """The citizen takes the appeal back before a decision."""
    async with conn.transaction():
        appeal = await _locked(conn, appeal_id, actor)
        return await _move(conn, appeal, "withdraw", actor, now, why=why)


async def add_note(
    conn: asyncpg.Connection,
    appeal_id: str,
    actor: Actor,
    now: datetime,
    text: str,
    visibility: str,
) -> Appeal:
    """A verification note: internal to staff and commission, or meant for the citizen."""
    if actor.role not in ("staff", "commission"):
        raise AppealForbidden("only staff and the commission write notes on an appeal")
    async with conn.transaction():
        appeal = await _locked(conn, appeal_id, actor)
        row = await conn.fetchrow(
            """INSERT INTO appeal_notes (appeal_id, author_role, author_sub, visibility, text, at)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING note_id""",
            appeal.appeal_id,
            actor.role,
            actor.sub,
            visibility,
            text,
            now,
        )
        await audit_log.append(
            conn,
            actor,
            now,
            [_audit("appeal.note", appeal, {"visibility": visibility, "note_id": row["note_id"]})],
        )
        return appeal


async def resolve(
    conn: asyncpg.Connection,
    appeal_id: str,
    actor: Actor,
    *,
    outcome: str,
    note: str,
    corrections: Corrections,
    now: datetime,
    rules: Rules,
) -> Appeal:
    """Decide the appeal. ``corrected`` writes its corrections (a correction event voiding
    events, and events added) with the appeal as provenance and recomputes the person's
    status and history, in the transaction that changes the appeal's state."""
    action = {"corrected": "correct", "upheld": "uphold"}[outcome]
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", WORLD_LOCK)
        appeal = await _locked(conn, appeal_id, actor)
        _advance(appeal, action, actor)  # refused before the corrections are looked at
        detail: dict[str, object] = {}
        if outcome == "upheld":
            if corrections.void or corrections.add:
                raise AppealInvalid(
                    "An upheld appeal changes no record; leave out corrections, or resolve "
                    "it as corrected.",
                    {"corrections": "not allowed when upheld"},
                )
        else:
            events = await _corrections(conn, appeal, corrections, note, now)
            await append_for(conn, appeal.person_id, events, f"appeal:{appeal.appeal_id}")
            await _recompute(conn, appeal, events, now, rules)
            detail = {
                "voided": [v for e in events if isinstance(e, Correction) for v in e.voids],
                "added": [e.event_id for e in events if not isinstance(e, Correction)],
            }
        return await _move(
            conn, appeal, action, actor, now, why=note, outcome_note=note, detail=detail
        )


async def _locked(conn: asyncpg.Connection, appeal_id: str, actor: Actor) -> Appeal:
    row = await conn.fetchrow(
        f"""SELECT {APPEAL_COLUMNS} FROM appeals a JOIN persons p USING (person_id)
            WHERE a.appeal_id = $1 FOR UPDATE OF a""",
        appeal_id,
    )
    return _visible(row, actor)


def _advance(appeal: Appeal, action: str, actor: Actor) -> AppealState:
    return advance(
        appeal.state,
        action,
        actor,
        appeal_district=appeal.district,
        appeal_person_ref=appeal.person_ref,
        claimed_by=appeal.claimed_by,
    )


async def _move(
    conn: asyncpg.Connection,
    appeal: Appeal,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    why: str | None,
    outcome_note: str | None = None,
    detail: Mapping[str, object] | None = None,
) -> Appeal:
    """Take ``action``: store the new state and its transition, tell the citizen, audit it."""
    target = _advance(appeal, action, actor)
    claimed_by = actor.sub if action == "claim" else appeal.claimed_by
    decided_at = now if target in TERMINAL else None
    row = await conn.fetchrow(
        f"""WITH a AS (
                UPDATE appeals SET status = $3, claimed_by = $4, decided_at = $5,
                       outcome_note = COALESCE($6, outcome_note), version = version + 1
                WHERE appeal_id = $1 AND version = $2
                RETURNING *)
            SELECT {APPEAL_COLUMNS} FROM a JOIN persons p USING (person_id)""",
        appeal.appeal_id,
        appeal.version,
        target.value,
        claimed_by,
        decided_at,
        outcome_note,
    )
    if row is None:  # the row is locked by the caller; a lost race here is a bug, not a 409
        raise RuntimeError(f"appeal {appeal.appeal_id} changed under its lock")
    moved = _appeal(row)
    await _transition(conn, moved, appeal.state, actor, now, why)
    await notifications.appeal_changed(
        conn,
        moved.person_id,
        now,
        {
            "appeal_id": moved.appeal_id,
            "from": appeal.state.value,
            "to": moved.state.value,
            "note": outcome_note,
        },
    )
    audited = {"from": appeal.state.value, "to": moved.state.value, **(detail or {})}
    await audit_log.append(conn, actor, now, [_audit(f"appeal.{action}", moved, audited)])
    return moved


async def _transition(
    conn: asyncpg.Connection,
    appeal: Appeal,
    before: AppealState | None,
    actor: Actor,
    now: datetime,
    why: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO appeal_transitions (appeal_id, at, actor_role, actor_sub, from_status,
                                           to_status, why)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        appeal.appeal_id,
        now,
        actor.role,
        actor.sub,
        before.value if before else None,
        appeal.state.value,
        why,
    )


def _audit(
    action: str, appeal: Appeal, detail: Mapping[str, object] | None = None
) -> audit_log.Record:
    return audit_log.Record(
        action, appeal.person_ref, appeal.appeal_id, {"district": appeal.district, **(detail or {})}
    )


# --- corrections ------------------------------------------------------------------------


async def _corrections(
    conn: asyncpg.Connection, appeal: Appeal, corrections: Corrections, note: str, now: datetime
) -> list[Event]:
    """The events a correction writes, each checked as ingestion would; 422 naming each bad one."""
    if not corrections.void and not corrections.add:
        raise AppealInvalid(
            "A corrected appeal needs corrections: event ids to void, events to add, or both.",
            {"corrections": "give void, add or both"},
        )
    errors: dict[str, str] = {}
    voids = await _voids(conn, appeal, corrections.void, errors)
    added = await _additions(conn, appeal, corrections.add, now, errors)
    if errors:
        summary = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:3])
        raise AppealInvalid(f"The corrections cannot be written — {summary}.", errors)
    events: list[Event] = [c.event for c in added]
    if voids:
        reason = note.strip()
        if len(reason) > MAX_TEXT:
            reason = reason[: MAX_TEXT - 1] + "…"
        events.append(
            parse_event(
                str(uuid.uuid4()),
                "correction",
                now,
                {"voids": voids, "reason": reason, "appeal_id": appeal.appeal_id},
            )
        )
    return events


async def _voids(
    conn: asyncpg.Connection, appeal: Appeal, raw: Sequence[object], errors: dict[str, str]
) -> list[str]:
    ids: dict[str, int] = {}
    for index, value in enumerate(raw):
        try:
            ids.setdefault(parse_event_id(value), index)
        except ValueError as exc:
            errors[f"corrections.void.{index}"] = str(exc)
    rows = await conn.fetch(
        "SELECT event_id::text, person_id, kind FROM events WHERE event_id = ANY($1::uuid[])",
        list(ids),
    )
    found = {r["event_id"]: r for r in rows}
    for event_id, index in ids.items():
        row = found.get(event_id)
        if row is None or row["person_id"] != appeal.person_id:
            errors[f"corrections.void.{index}"] = "not an event of the appellant"
        elif row["kind"] in UNVOIDABLE:
            errors[f"corrections.void.{index}"] = (
                "an override ends only by another approved override"
                if row["kind"] == "override"
                else "a correction cannot be voided; add the event again instead"
            )
    return list(ids)


async def _additions(
    conn: asyncpg.Connection,
    appeal: Appeal,
    raw: Sequence[object],
    now: datetime,
    errors: dict[str, str],
) -> list[Candidate]:
    """Added events in the POST /v1/events shape, checked by ingestion's own rules."""
    # Checked as the commission's would be (any kind of fact), then limited to ADDABLE.
    checker = Principal("commission", f"appeal:{appeal.appeal_id}", None, 0.0)
    added: list[Candidate] = []
    for index, item in enumerate(raw):
        where = f"corrections.add.{index}"
        if isinstance(item, dict) and item.get("person") is None:
            item = {**item, "person": {"person_ref": appeal.person_ref}}
        try:
            candidate = check(item, index, checker, now)
        except Rejected as exc:
            errors[where] = exc.error
            errors.update({f"{where}.{k}": v for k, v in (exc.errors or {}).items()})
            continue
        if candidate.event.kind not in ADDABLE:
            errors[f"{where}.kind"] = (
                "add facts only; to remove an event, list it in corrections.void"
            )
        elif candidate.person_ref != appeal.person_ref:
            errors[f"{where}.person"] = "an added event is the appellant's; leave person out"
        else:
            added.append(candidate)
    ids = [c.event.event_id for c in added]
    if len(set(ids)) != len(ids):
        errors["corrections.add"] = "each added event needs its own event_id"
    taken = await conn.fetch(
        "SELECT event_id::text FROM events WHERE event_id = ANY($1::uuid[])", ids
    )
    for row in taken:
        index = next(c.index for c in added if c.event.event_id == row["event_id"])
        errors[f"corrections.add.{index}.event_id"] = "already used; choose a new UUID"
    return added


async def _recompute(
    conn: asyncpg.Connection, appeal: Appeal, events: Sequence[Event], now: datetime, rules: Rules
) -> None:
    """Take the events into the person's facts and store the new status and history."""
    locked = await status_store.lock(conn, [appeal.person_id])

    def take_in(person_id: int, state: PersonState) -> PersonState:
        for event in events:
            state = apply(state, event)
        return state

    await status_store.refresh(conn, locked, rules, now, f"appeal:{appeal.appeal_id}", take_in)
