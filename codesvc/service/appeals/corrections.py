"""What a `corrected` decision writes: a correction voiding events, and events added.

Added events are facts about the appellant, validated by the same models and checked by
the same rule (`codesvc.service.events.check`) as what a feed sends; each carries the
appeal as its provenance and is taken into the person's facts in the decision's
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import asyncpg

from codesvc.appeals.machine import Actor
from codesvc.messages import Text, t
from codesvc.schemas.errors import summary
from codesvc.schemas.events import Fact
from codesvc.schemas.fields import MAX_TEXT
from codesvc.service import authority, stored_status
from codesvc.service.appeals.rows import Appeal, AppealInvalid, Corrections
from codesvc.service.events import Checked, Rejected, check
from codesvc.state.events import Correction, Event
from codesvc.state.rules import Rules

#: Kinds an appeal may not void: an override ends only by another override (four eyes).
UNVOIDABLE = frozenset({"correction", "override"})


async def events_for(
    conn: asyncpg.Connection,
    appeal: Appeal,
    actor: Actor,
    corrections: Corrections,
    note: str,
    now: datetime,
) -> list[Event]:
    """The events a correction writes, each checked as ingestion would; 422 naming each bad one.

    The district boundary is the one every writer keeps, with the appeal's routing as the
    authority: its district may correct its person wherever they are registered.
    """
    if not corrections.void and not corrections.add:
        raise AppealInvalid(
            t("A corrected appeal needs corrections: event ids to void, events to add, or both."),
            {"corrections": t("give void, add or both")},
        )
    errors: dict[str, Text] = {}
    voids = await _voids(conn, appeal, corrections.void, errors)
    added = await _additions(conn, corrections.add, now, errors)
    if not errors:
        await _within_authority(conn, appeal, actor, added, errors)
    if errors:
        raise AppealInvalid(
            t("The corrections cannot be written — {fields}.", fields=summary(errors)), errors
        )
    events: list[Event] = [c.event for c in added.values()]
    if voids:
        reason = note.strip()
        if len(reason) > MAX_TEXT:
            reason = reason[: MAX_TEXT - 1] + "…"
        at = now.astimezone(UTC)
        events.append(Correction(str(uuid.uuid4()), at, tuple(voids), reason, appeal.appeal_id))
    return events


async def _voids(
    conn: asyncpg.Connection, appeal: Appeal, given: Sequence[str], errors: dict[str, Text]
) -> list[str]:
    ids: dict[str, int] = {}
    for index, event_id in enumerate(given):
        ids.setdefault(event_id, index)
    rows = await conn.fetch(
        "SELECT event_id::text, person_id, kind FROM events WHERE event_id = ANY($1::uuid[])",
        list(ids),
    )
    found = {r["event_id"]: r for r in rows}
    for event_id, index in ids.items():
        row = found.get(event_id)
        if row is None or row["person_id"] != appeal.person_id:
            errors[f"corrections.void.{index}"] = t("not an event of the appellant")
        elif row["kind"] in UNVOIDABLE:
            errors[f"corrections.void.{index}"] = (
                t("an override ends only by another approved override")
                if row["kind"] == "override"
                else t("a correction cannot be voided; add the event again instead")
            )
    return list(ids)


async def _additions(
    conn: asyncpg.Connection, facts: Sequence[Fact], now: datetime, errors: dict[str, Text]
) -> dict[int, Checked]:
    """The added facts by their place in ``add``, each checked as any sender's event is."""
    added: dict[int, Checked] = {}
    for index, fact in enumerate(facts):
        try:
            added[index] = check(fact.fact(), now)
        except Rejected as exc:
            where = f"corrections.add.{index}"
            errors[where] = exc.error
            errors.update({f"{where}.{k}": v for k, v in (exc.errors or {}).items()})
    ids = [c.event.event_id for c in added.values()]
    if len(set(ids)) != len(ids):
        errors["corrections.add"] = t("each added event needs its own event_id")
    taken = await conn.fetch(
        "SELECT event_id::text FROM events WHERE event_id = ANY($1::uuid[])", ids
    )
    for row in taken:
        index = next(i for i, c in added.items() if c.event.event_id == row["event_id"])
        errors[f"corrections.add.{index}.event_id"] = t("already used; choose a new UUID")
    return added


async def _within_authority(
    conn: asyncpg.Connection,
    appeal: Appeal,
    actor: Actor,
    added: Mapping[int, Checked],
    errors: dict[str, Text],
) -> None:
    district = await conn.fetchval(
        "SELECT district FROM persons WHERE person_id = $1", appeal.person_id
    )
    writes = [authority.Write(c.event, appeal.person_id, district) for c in added.values()]
    answers = await authority.refusals(
        conn, actor.district, writes, routed_district=appeal.district
    )
    for index, why in zip(added, answers, strict=True):
        if why:
            errors[f"corrections.add.{index}"] = why


async def recompute(conn: asyncpg.Connection, appeal: Appeal, now: datetime, rules: Rules) -> None:
    """Store the person's new status and history once the appeal's events are stored."""
    locked = await stored_status.lock(conn, [appeal.person_id])
    await stored_status.refresh(conn, locked, rules, now, f"appeal:{appeal.appeal_id}")
