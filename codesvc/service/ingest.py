"""``POST /v1/events``: validate each event, store it once, and move the people it touches.

Each event is answered on its own (accepted, duplicate or rejected with the reason);
the accepted ones are committed, with every affected status and history, before the
answer is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import asyncpg

from codesvc.boundaries import CaseFacts, district_refusal
from codesvc.messages import Text, t
from codesvc.schemas.events import Item, LabRecordEvent, PersonByRef
from codesvc.service import audit_log, authority, stored_status
from codesvc.service.events import Checked, Rejected, as_sent_by, digest
from codesvc.service.events import check as check_event
from codesvc.service.persons import Person, Registration, by_refs, ensure_registered
from codesvc.state.events import Correction, Event, TestResult, event_data
from codesvc.state.rules import Rules
from codesvc.tokens import Principal

#: Roles whose events are manual changes, each written to the audit log (SPEC §9).
MANUAL_SENDERS = frozenset({"staff", "commission"})


@dataclass
class Outcome:
    event_id: str | None
    status: Literal["accepted", "duplicate", "rejected"] = "accepted"
    error: Text | None = None
    errors: Mapping[str, Text] | None = None


@dataclass
class Candidate:
    """A well-formed event waiting for its person to be found and for storage."""

    index: int
    checked: Checked
    person_ref: str | None = None
    registration: Registration | None = None
    person: Person | None = None
    unlinked: bool = False
    #: the person was registered by this batch, and has no status stored yet
    newcomer: bool = False
    #: ``checked.event``, read a dozen times per event on the way to storage
    event: Event = field(init=False)

    def __post_init__(self) -> None:
        self.event = self.checked.event


def accept(item: Item, index: int, sender: Principal, now: datetime) -> Candidate:
    """Everything that can be said about one validated event without the database."""
    sent = item.sent
    if sent is None:
        raise Rejected(item.error or t("invalid event"), item.errors)
    event = as_sent_by(sender, sent.fact())
    if isinstance(sent, LabRecordEvent):
        lab = {"name": sent.data.name, "phone": sent.data.phone}
        return Candidate(index, check_event(event, now, lab), unlinked=True)
    candidate = Candidate(index, check_event(event, now))
    person = sent.person
    if isinstance(person, PersonByRef):
        candidate.person_ref = person.person_ref
    else:
        number = person.id_number
        candidate.registration = Registration(
            number, person.name or "", person.district or number[:6], person.phone
        )
    return candidate


async def ingest(
    conn: asyncpg.Connection,
    items: Sequence[Item],
    sender: Principal,
    *,
    id_secret: bytes,
    rules: Rules,
    now: datetime,
) -> list[Outcome]:
    """Store what can be stored and answer for every event, in the order sent."""
    outcomes: list[Outcome] = []
    candidates: list[Candidate] = []
    seen: dict[str, Candidate] = {}
    for index, item in enumerate(items):
        outcome = Outcome(item.event_id)
        outcomes.append(outcome)
        try:
            candidate = accept(item, index, sender, now)
        except Rejected as exc:
            outcome.status, outcome.error, outcome.errors = "rejected", exc.error, exc.errors
            continue
        outcome.event_id = candidate.event.event_id
        first = seen.get(candidate.event.event_id)
        if first is not None:
            _same_twice(outcome, first, candidate)
            continue
        seen[candidate.event.event_id] = candidate
        candidates.append(candidate)
    candidates = _within_district(candidates, outcomes, sender)
    if not candidates:
        return outcomes
    async with conn.transaction():
        await _resolve_people(conn, candidates, outcomes, id_secret, now, rules)
        live = [c for c in candidates if outcomes[c.index].status == "accepted"]
        await _check_authority(conn, live, outcomes, sender)
        live = [c for c in live if outcomes[c.index].status == "accepted"]
        await _check_corrections(conn, live, outcomes)
        live = [c for c in live if outcomes[c.index].status == "accepted"]
        stored = await _store(conn, live, outcomes, sender)
        await _move_people(conn, candidates, stored, rules, now)
        await _audit(conn, stored, sender, now)
    return outcomes


def _within_district(
    candidates: list[Candidate], outcomes: list[Outcome], sender: Principal
) -> list[Candidate]:
    """Refuse, before anyone is registered, events for a newcomer of another district."""
    kept = []
    for c in candidates:
        why = c.registration and district_refusal(
            sender.district, c.event.kind, c.registration.district
        )
        if why:
            _reject(outcomes[c.index], why)
        else:
            kept.append(c)
    return kept


def _reject(outcome: Outcome, error: Text) -> None:
    outcome.status, outcome.error = "rejected", error


async def _check_authority(
    conn: asyncpg.Connection, live: list[Candidate], outcomes: list[Outcome], sender: Principal
) -> None:
    """The district boundary and a designation's case, as every writer checks them."""
    writes = [
        (c, authority.Write(c.event, c.person.person_id, c.person.district))
        for c in live
        if c.person is not None
    ]
    pending = {
        c.event.event_id: CaseFacts(c.event.kind, True, w.person_id)
        for c, w in writes
        if isinstance(c.event, TestResult) and c.event.result == "positive"
    }
    answers = await authority.refusals(
        conn, sender.district, [w for _, w in writes], pending=pending
    )
    for (c, _), why in zip(writes, answers, strict=True):
        if why:
            _reject(outcomes[c.index], why)


async def _audit(
    conn: asyncpg.Connection, stored: list[Candidate], sender: Principal, now: datetime
) -> None:
    """Events sent by hand (staff, the commission) are manual changes: one entry per person."""
    if sender.role not in MANUAL_SENDERS:
        return
    by_person: dict[str, list[dict[str, object]]] = {}
    for c in sorted(stored, key=lambda c: c.index):
        if c.person is not None:
            by_person.setdefault(c.person.person_ref, []).append(
                {"event_id": c.event.event_id, "kind": c.event.kind}
            )
    records = [
        audit_log.Record("events.sent", ref, None, {"events": sent})
        for ref, sent in by_person.items()
    ]
    await audit_log.append(conn, sender, now, records)


def _same_twice(outcome: Outcome, first: Candidate, again: Candidate) -> None:
    if first.checked.digest == again.checked.digest:
        outcome.status = "duplicate"
    else:
        outcome.status = "rejected"
        outcome.error = t(
            "event_id {event_id} appears twice in this batch with different content",
            event_id=again.event.event_id,
        )


async def _resolve_people(
    conn: asyncpg.Connection,
    candidates: list[Candidate],
    outcomes: list[Outcome],
    secret: bytes,
    now: datetime,
    rules: Rules,
) -> None:
    refs = {c.person_ref for c in candidates if c.person_ref}
    found = await by_refs(conn, sorted(refs)) if refs else {}
    registrations = [c.registration for c in candidates if c.registration]
    registered, created = await ensure_registered(
        conn, registrations, secret, now, rules, statuses=False
    )
    for c in candidates:
        if c.person_ref is not None:
            c.person = found.get(c.person_ref)
            if c.person is None:
                outcomes[c.index].status = "rejected"
                outcomes[c.index].error = t(
                    "unknown person_ref {ref}; register the person or send their id_number",
                    ref=c.person_ref,
                )
        elif c.registration is not None:
            c.person = registered[c.registration.id_number]
            c.newcomer = c.person.person_ref in created


async def _store(
    conn: asyncpg.Connection,
    candidates: list[Candidate],
    outcomes: list[Outcome],
    sender: Principal,
) -> list[Candidate]:
    """Insert in id order; an id already stored is a duplicate if the content is the same."""
    if not candidates:
        return []
    candidates = sorted(candidates, key=lambda c: c.event.event_id)
    inserted = await conn.fetch(
        """INSERT INTO events (event_id, person_id, kind, occurred_at, data, digest, sender)
           SELECT u.*, $7 FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::timestamptz[],
                                      $5::jsonb[], $6::bytea[]) AS u
           ON CONFLICT (event_id) DO NOTHING
           RETURNING event_id::text""",
        [c.event.event_id for c in candidates],
        [c.person.person_id if c.person else None for c in candidates],
        [c.event.kind for c in candidates],
        [c.event.occurred_at for c in candidates],
        [c.checked.data for c in candidates],
        [c.checked.digest for c in candidates],
        f"{sender.role}:{sender.sub}",
    )
    fresh = {r["event_id"] for r in inserted}
    repeated = [c for c in candidates if c.event.event_id not in fresh]
    if repeated:
        rows = await conn.fetch(
            "SELECT event_id::text, person_id, digest FROM events WHERE event_id = ANY($1::uuid[])",
            [c.event.event_id for c in repeated],
        )
        earlier = {r["event_id"]: r for r in rows}
        for c in repeated:
            row = earlier[c.event.event_id]
            # A lab's result sent with no person may since have been linked by an appeal.
            same_person = c.unlinked or row["person_id"] == (
                c.person.person_id if c.person else None
            )
            outcome = outcomes[c.index]
            if bytes(row["digest"]) == c.checked.digest and same_person:
                outcome.status = "duplicate"
            else:
                outcome.status = "rejected"
                outcome.error = t(
                    "event_id {event_id} was already used for an event with different "
                    "content; events are never edited — send a correction instead",
                    event_id=c.event.event_id,
                )
    return [c for c in candidates if c.event.event_id in fresh]


async def append_for(
    conn: asyncpg.Connection, person_id: int, events: Sequence[Event], sender: str
) -> None:
    """Store events the service itself made for one person (an appeal's corrections, an
    approved override); ``sender`` names their provenance."""
    data = [event_data(e) for e in events]
    await conn.execute(
        """INSERT INTO events (event_id, person_id, kind, occurred_at, data, digest, sender)
           SELECT u.event_id, $6, u.kind, u.occurred_at, u.data, u.digest, $7
           FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::bytea[])
               AS u(event_id, kind, occurred_at, data, digest)""",
        [e.event_id for e in events],
        [e.kind for e in events],
        [e.occurred_at for e in events],
        data,
        [digest(e.kind, e.occurred_at, d) for e, d in zip(events, data, strict=True)],
        person_id,
        sender,
    )


async def _move_people(
    conn: asyncpg.Connection,
    candidates: list[Candidate],
    stored: list[Candidate],
    rules: Rules,
    now: datetime,
) -> None:
    """Store the status of everyone an accepted event moved, and the first status of
    everyone this batch registered (with what of theirs was accepted: one evaluation)."""
    by_person: dict[int, list[Event]] = {}
    for c in stored:
        if c.person is not None:
            by_person.setdefault(c.person.person_id, []).append(c.event)
    causes = {pid: "event:" + events[0].event_id for pid, events in by_person.items()}
    newcomers = {c.person.person_id: c.person for c in candidates if c.newcomer and c.person}
    await stored_status.create(
        conn,
        sorted(newcomers.values(), key=lambda p: p.person_id),
        rules,
        events={pid: by_person.pop(pid) for pid in newcomers if pid in by_person},
        now=now,
        causes=causes,
    )
    if not by_person:
        return
    locked = await stored_status.lock(conn, by_person)
    await stored_status.refresh(conn, locked, rules, now, causes)


async def _check_corrections(
    conn: asyncpg.Connection, candidates: list[Candidate], outcomes: list[Outcome]
) -> None:
    """A correction may void only its own person's events, and never an override.

    An override took two commission members to make; voiding it would let one person
    undo it, so an override ends only by a later approved override.
    """
    corrections = [c for c in candidates if isinstance(c.event, Correction) and c.person]
    if not corrections:
        return
    named = sorted({v for c in corrections for v in c.event.voids})  # type: ignore[union-attr]
    rows = await conn.fetch(
        "SELECT event_id::text, person_id, kind FROM events WHERE event_id = ANY($1::uuid[])",
        named,
    )
    owner = {r["event_id"]: r["person_id"] for r in rows}
    overrides = {r["event_id"] for r in rows if r["kind"] == "override"}
    for c in candidates:
        if c.person is not None:
            owner.setdefault(c.event.event_id, c.person.person_id)
    for c in corrections:
        assert isinstance(c.event, Correction)
        assert c.person is not None
        strangers = sorted(v for v in c.event.voids if owner.get(v) != c.person.person_id)
        outcome = outcomes[c.index]
        if strangers:
            outcome.status = "rejected"
            outcome.error = t(
                "voids names {events}, which is not an event of this person",
                events=", ".join(strangers),
            )
            outcome.errors = {"data.voids": t("not an event of this person")}
        elif overrides & set(c.event.voids):
            outcome.status = "rejected"
            outcome.error = t(
                "an override cannot be voided; it ends at its 'until' or by a later override "
                "that two commission members approve"
            )
            outcome.errors = {"data.voids": t("names an override")}
