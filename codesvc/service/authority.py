"""The service's half of the write rules: look up what `codesvc.boundaries` decides on.

Every writer of events asks here, with the sender's district and each event's person:
``POST /v1/events``, the staff console and an appeal's corrections.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from codesvc.boundaries import CaseFacts, case_refusal, district_refusal
from codesvc.messages import Text
from codesvc.state.events import ContactDesignated, Event


@dataclass(frozen=True, slots=True)
class Write:
    """One event about to be stored for a person registered in ``person_district``."""

    event: Event
    person_id: int
    person_district: str


async def refusals(
    conn: asyncpg.Connection,
    sender_district: str | None,
    writes: Sequence[Write],
    *,
    routed_district: str | None = None,
    pending: Mapping[str, CaseFacts] | None = None,
) -> list[Text | None]:
    """Per write, why it may not be stored (`codesvc.boundaries` words), or None.

    ``pending`` are cases written in the same transaction just before these events (a
    positive result earlier in the same batch), keyed by event id.
    """
    answers: list[Text | None] = [
        district_refusal(
            sender_district, w.event.kind, w.person_district, routed_district=routed_district
        )
        for w in writes
    ]
    named = {
        i: _as_event_id(w.event.case_ref)
        for i, w in enumerate(writes)
        if answers[i] is None and isinstance(w.event, ContactDesignated)
    }
    if not named:
        return answers
    cases = dict(pending or {})
    cases |= await stored_cases(conn, sorted({ref for ref in named.values() if ref}))
    for i, ref in named.items():
        answers[i] = case_refusal(cases.get(ref) if ref else None, writes[i].person_id)
    return answers


async def stored_cases(conn: asyncpg.Connection, event_ids: Sequence[str]) -> dict[str, CaseFacts]:
    """What is stored about each named event, and whether a correction voided it."""
    if not event_ids:
        return {}
    rows = await conn.fetch(
        """SELECT e.event_id::text, e.kind, e.person_id, e.data ->> 'result' = 'positive' AS pos,
                  EXISTS (SELECT 1 FROM events c
                          WHERE c.person_id = e.person_id AND c.kind = 'correction'
                            AND c.data -> 'voids' ? e.event_id::text) AS voided
           FROM events e WHERE e.event_id = ANY($1::uuid[])""",
        list(event_ids),
    )
    return {
        r["event_id"]: CaseFacts(r["kind"], bool(r["pos"]), r["person_id"], r["voided"])
        for r in rows
    }


def _as_event_id(case_ref: str) -> str | None:
    try:
        return str(uuid.UUID(case_ref))
    except ValueError:
        return None
