"""What a `corrected` decision writes: a correction voiding events, and events added.

Each is checked as ingestion checks what a feed sends, carries the appeal as its
provenance, and is taken into the person's facts in the decision's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from codesvc.service import stored_status
from codesvc.service.appeals.rows import Appeal, AppealInvalid, Corrections
from codesvc.service.ingest import Candidate, Rejected, check
from codesvc.state.events import MAX_TEXT, Event, parse_event, parse_event_id
from codesvc.state.person import PersonState, apply
from codesvc.state.rules import Rules
from codesvc.tokens import Principal

#: What an appeal's correction may add: facts, never corrections or overrides.
ADDABLE = frozenset({"travel.arrival", "test.result", "contact.designated", "case.discharged"})

#: Kinds an appeal may not void: an override ends only by another override (four eyes).
UNVOIDABLE = frozenset({"correction", "override"})


async def events_for(
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


async def recompute(
    conn: asyncpg.Connection, appeal: Appeal, events: Sequence[Event], now: datetime, rules: Rules
) -> None:
    """Take the events into the person's facts and store the new status and history."""
    locked = await stored_status.lock(conn, [appeal.person_id])

    def take_in(person_id: int, state: PersonState) -> PersonState:
        for event in events:
            state = apply(state, event)
        return state

    await stored_status.refresh(conn, locked, rules, now, f"appeal:{appeal.appeal_id}", take_in)
