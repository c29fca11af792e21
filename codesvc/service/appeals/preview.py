"""A dry run of an appeal's decision: the real ``resolve``, in a transaction rolled back.

The preview is the decision itself — the same checks, the same correction events, the
same engine and history writes — read back before the rollback, so what an officer
confirms is what they saw. Only the preview's own audit entry is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from codesvc.appeals.machine import Actor
from codesvc.service import audit_log, stored_status
from codesvc.service.appeals.moves import resolve
from codesvc.service.appeals.reading import dossiers
from codesvc.service.appeals.rows import Corrections, Dossier
from codesvc.state.history import Recorded
from codesvc.state.rules import Rules
from codesvc.state.status import Status


@dataclass(frozen=True, slots=True)
class ResolvePreview:
    """The appeal, the person's status and their history as they would be."""

    dossier: Dossier
    status: Status | None
    history: list[Recorded]


async def preview_resolve(
    conn: asyncpg.Connection,
    appeal_id: str,
    actor: Actor,
    *,
    outcome: str,
    note: str,
    corrections: Corrections,
    now: datetime,
    rules: Rules,
) -> ResolvePreview:
    """What ``appeals.resolve`` would do, without doing it; refused exactly as it would be."""
    trial = conn.transaction()
    await trial.start()
    try:
        appeal = await resolve(
            conn,
            appeal_id,
            actor,
            outcome=outcome,
            note=note,
            corrections=corrections,
            now=now,
            rules=rules,
        )
        status = await stored_status.current(conn, appeal.person_id, rules, now)
        history = await stored_status.history(conn, appeal.person_id)
        (dossier,) = await dossiers(conn, [appeal])
    finally:
        await trial.rollback()
    async with conn.transaction():
        await audit_log.append(
            conn,
            actor,
            now,
            [
                audit_log.Record(
                    "appeal.preview",
                    appeal.person_ref,
                    appeal.appeal_id,
                    {
                        "district": appeal.district,
                        "outcome": outcome,
                        "void": len(corrections.void),
                        "add": len(corrections.add),
                    },
                )
            ],
        )
    return ResolvePreview(dossier, status, history)
