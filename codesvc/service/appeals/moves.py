"""Working an appeal: each step one transaction holding the appeal's row.

The state change, its recorded transition, the citizen's notification and the audit
entry commit together or not at all. Who may do what, from which state, is decided by
`codesvc.appeals.machine`; this module stores what it decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import asyncpg

from codesvc.appeals.machine import TERMINAL, Actor, AppealForbidden, AppealState, advance
from codesvc.messages import t
from codesvc.service import audit_log, notifications
from codesvc.service.appeals.corrections import events_for, recompute
from codesvc.service.appeals.rows import (
    APPEAL_COLUMNS,
    Appeal,
    AppealInvalid,
    Corrections,
    appeal_from_row,
    audit_record,
    visible,
)
from codesvc.service.ingest import append_for
from codesvc.state.events import Correction
from codesvc.state.rules import Rules


async def claim(conn: asyncpg.Connection, appeal_id: str, actor: Actor, now: datetime) -> Appeal:
    """Take the appeal into review; of two officers claiming at once, exactly one wins."""
    async with conn.transaction():
        appeal = await locked(conn, appeal_id, actor)
        return await move(conn, appeal, "claim", actor, now, why=None)


async def escalate(
    conn: asyncpg.Connection, appeal_id: str, actor: Actor, now: datetime, why: str
) -> Appeal:
    """Pass the appeal to the commission, which then decides it."""
    async with conn.transaction():
        appeal = await locked(conn, appeal_id, actor)
        return await move(conn, appeal, "escalate", actor, now, why=why)


async def withdraw(
    conn: asyncpg.Connection, appeal_id: str, actor: Actor, now: datetime, why: str | None
) -> Appeal:
    """The citizen takes the appeal back before a decision."""
    async with conn.transaction():
        appeal = await locked(conn, appeal_id, actor)
        return await move(conn, appeal, "withdraw", actor, now, why=why)


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
        raise AppealForbidden(t("only staff and the commission write notes on an appeal"))
    async with conn.transaction():
        appeal = await locked(conn, appeal_id, actor)
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
            [
                audit_record(
                    "appeal.note", appeal, {"visibility": visibility, "note_id": row["note_id"]}
                )
            ],
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
        appeal = await locked(conn, appeal_id, actor)
        advance_to(appeal, action, actor)  # refused before the corrections are looked at
        detail: dict[str, object] = {}
        if outcome == "upheld":
            if corrections.void or corrections.add:
                raise AppealInvalid(
                    t(
                        "An upheld appeal changes no record; leave out corrections, or "
                        "resolve it as corrected."
                    ),
                    {"corrections": t("not allowed when upheld")},
                )
        else:
            events = await events_for(conn, appeal, actor, corrections, note, now)
            await append_for(conn, appeal.person_id, events, f"appeal:{appeal.appeal_id}")
            await recompute(conn, appeal, now, rules)
            detail = {
                "voided": [v for e in events if isinstance(e, Correction) for v in e.voids],
                "added": [e.event_id for e in events if not isinstance(e, Correction)],
            }
        return await move(
            conn, appeal, action, actor, now, why=note, outcome_note=note, detail=detail
        )


async def locked(conn: asyncpg.Connection, appeal_id: str, actor: Actor) -> Appeal:
    row = await conn.fetchrow(
        f"""SELECT {APPEAL_COLUMNS} FROM appeals a JOIN persons p USING (person_id)
            WHERE a.appeal_id = $1 FOR UPDATE OF a""",
        appeal_id,
    )
    return visible(row, actor)


def advance_to(appeal: Appeal, action: str, actor: Actor) -> AppealState:
    return advance(
        appeal.state,
        action,
        actor,
        appeal_district=appeal.district,
        appeal_person_ref=appeal.person_ref,
        claimed_by=appeal.claimed_by,
    )


async def move(
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
    target = advance_to(appeal, action, actor)
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
    moved = appeal_from_row(row)
    await record_transition(conn, moved, appeal.state, actor, now, why)
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
    await audit_log.append(conn, actor, now, [audit_record(f"appeal.{action}", moved, audited)])
    return moved


async def record_transition(
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
