"""``POST /v1/events``: validate each event, store it once, and move the people it touches.

Each event is answered on its own (accepted, duplicate or rejected with the reason);
the accepted ones are committed, with every affected status and history, before the
answer is sent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from codesvc.identity import (
    normalize_id_number,
    normalize_phone,
    validate_id_number,
    validate_phone,
)
from codesvc.service import stored_status
from codesvc.service.persons import Person, Registration, by_refs, ensure_registered
from codesvc.state.events import (
    Correction,
    Event,
    EventInvalid,
    event_data,
    format_time,
    parse_event,
)
from codesvc.state.person import PersonState, apply
from codesvc.state.rules import Rules
from codesvc.tokens import Principal

#: Which kinds each role may send. Overrides come only from approved proposals.
SENDABLE: Mapping[str, frozenset[str]] = {
    "feeder": frozenset({"travel.arrival", "test.result", "contact.designated", "case.discharged"}),
    "staff": frozenset({"travel.arrival", "contact.designated", "case.discharged"}),
    "commission": frozenset(
        {"travel.arrival", "test.result", "contact.designated", "case.discharged", "correction"}
    ),
}
#: An event may claim to have happened at most this far in the future (clock skew).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: Held by every writer of events; a listing or campaign change takes it exclusively, so
#: it sees every arrival committed before it and every batch after it sees the change.
WORLD_LOCK = 0x636F6465_0002

EVENT_KEYS = frozenset({"event_id", "kind", "occurred_at", "person", "data"})
PERSON_KEYS = frozenset({"person_ref", "id_number", "name", "district", "phone"})
_DISTRICT = re.compile(r"^[0-9]{6}$")


@dataclass
class Outcome:
    event_id: str | None
    status: str = "accepted"
    error: str | None = None
    errors: dict[str, str] | None = None

    def json(self) -> dict[str, object]:
        out: dict[str, object] = {"event_id": self.event_id, "status": self.status}
        if self.error:
            out["error"] = self.error
        if self.errors:
            out["errors"] = self.errors
        return out


@dataclass
class Candidate:
    """A well-formed event waiting for its person to be found and for storage."""

    index: int
    event: Event
    data: dict[str, object]
    digest: bytes
    person_ref: str | None = None
    registration: Registration | None = None
    person: Person | None = None
    unlinked: bool = False


class Rejected(Exception):
    def __init__(self, error: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.errors = dict(errors) if errors else None


def digest(kind: str, occurred_at: datetime, data: Mapping[str, object]) -> bytes:
    """What makes two sendings of one event the same event."""
    canonical = {"kind": kind, "occurred_at": format_time(occurred_at), "data": data}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).digest()


def check(raw: object, index: int, sender: Principal, now: datetime) -> Candidate:
    """Everything that can be said about one event without the database."""
    raw = _shape(raw)
    kind = raw["kind"]
    allowed = SENDABLE.get(sender.role, frozenset())
    if isinstance(kind, str) and kind not in allowed and kind in _all_kinds():
        raise Rejected(_not_allowed(sender.role, kind), {"kind": "not allowed for this sender"})
    data = dict(raw.get("data", {}))
    person = raw.get("person")
    lab_identity = _lab_identity(data) if kind == "test.result" and person is None else {}
    if kind == "travel.arrival" and sender.district:
        reported = data.setdefault("reporting_district", sender.district)
        if reported != sender.district:
            raise Rejected(
                f"a sender of district {sender.district} may report arrivals only for it",
                {"data.reporting_district": f"must be {sender.district}"},
            )
    try:
        event = parse_event(raw["event_id"], kind, raw["occurred_at"], data)
    except EventInvalid as exc:
        raise Rejected("invalid event: " + str(exc), exc.errors) from None
    if event.occurred_at > now + FUTURE_TOLERANCE:
        raise Rejected(
            f"occurred_at {raw['occurred_at']} is in the future; events report what has happened",
            {"occurred_at": "more than 5 minutes in the future"},
        )
    stored = event_data(event) | lab_identity
    candidate = Candidate(index, event, stored, digest(kind, event.occurred_at, stored))
    if lab_identity:
        candidate.unlinked = True
    else:
        _find_person(candidate, person)
    return candidate


def _shape(raw: object) -> dict[str, Any]:
    """The envelope: an object with the known keys, the required ones present."""
    if not isinstance(raw, dict):
        raise Rejected("each event must be a JSON object")
    unknown = sorted(set(raw) - EVENT_KEYS)
    if unknown:
        raise Rejected(
            f"unknown field(s) {', '.join(unknown)}; an event has {', '.join(sorted(EVENT_KEYS))}",
            {k: "unknown field" for k in unknown},
        )
    errors = {key: "required" for key in ("event_id", "kind", "occurred_at") if key not in raw}
    if not isinstance(raw.get("data", {}), dict):
        errors["data"] = "must be an object"
    if errors:
        raise Rejected("missing or malformed field(s): " + ", ".join(errors), errors)
    return raw


def _all_kinds() -> frozenset[str]:
    return frozenset().union(*SENDABLE.values()) | {"override"}


def _not_allowed(role: str, kind: str) -> str:
    if kind == "override":
        return (
            "override events are never sent: a commission member proposes one at "
            "/v1/overrides and another approves it"
        )
    if kind == "correction":
        return "corrections come from resolved appeals and the commission, not from a " + role
    return f"a {role} may not send {kind} events"


def _lab_identity(data: dict[str, object]) -> dict[str, object]:
    """A lab result with no person: keep the name and phone the lab wrote down."""
    name, phone = data.pop("name", None), data.pop("phone", None)
    errors = {}
    if not isinstance(name, str) or not name.strip():
        errors["data.name"] = "required when the result has no person: the name the lab recorded"
    phone_error = validate_phone(phone) if isinstance(phone, str) else "required"
    if phone_error:
        errors["data.phone"] = phone_error
    if errors:
        raise Rejected(
            "a result without a person must carry the name and phone the lab recorded", errors
        )
    return {"name": str(name).strip(), "phone": normalize_phone(str(phone))}


def _find_person(candidate: Candidate, person: object) -> None:
    if not isinstance(person, dict):
        raise Rejected(
            'person is required: {"person_ref": ...} or {"id_number": ...}',
            {"person": "required"},
        )
    unknown = sorted(set(person) - PERSON_KEYS)
    if unknown:
        raise Rejected(f"unknown person field(s) {', '.join(unknown)}")
    ref, id_number = person.get("person_ref"), person.get("id_number")
    if (ref is None) == (id_number is None):
        raise Rejected(
            "person needs exactly one of person_ref and id_number", {"person": "ambiguous"}
        )
    if ref is not None:
        if not isinstance(ref, str):
            raise Rejected("person.person_ref must be a string", {"person.person_ref": "string"})
        candidate.person_ref = ref
        return
    problem = validate_id_number(id_number) if isinstance(id_number, str) else "must be a string"
    if problem:
        raise Rejected(f"person.id_number {problem}", {"person.id_number": problem})
    assert isinstance(id_number, str)
    number = normalize_id_number(id_number)
    district = person.get("district") or number[:6]
    name = person.get("name") or ""
    phone = person.get("phone")
    if not isinstance(district, str) or not _DISTRICT.match(district):
        raise Rejected("person.district must be a 6-digit code", {"person.district": "6 digits"})
    if not isinstance(name, str):
        raise Rejected("person.name must be a string", {"person.name": "string"})
    if phone is not None and (not isinstance(phone, str) or validate_phone(phone)):
        raise Rejected("person.phone is not a mainland mobile number", {"person.phone": "invalid"})
    candidate.registration = Registration(number, name.strip(), district, normalize_phone(phone))


async def ingest(
    conn: asyncpg.Connection,
    raw_events: Sequence[object],
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
    for index, raw in enumerate(raw_events):
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        outcome = Outcome(event_id if isinstance(event_id, str) else None)
        outcomes.append(outcome)
        try:
            candidate = check(raw, index, sender, now)
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
    if not candidates:
        return outcomes
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", WORLD_LOCK)
        await _resolve_people(conn, candidates, outcomes, id_secret, now)
        live = [c for c in candidates if outcomes[c.index].status == "accepted"]
        await _check_corrections(conn, live, outcomes)
        live = [c for c in live if outcomes[c.index].status == "accepted"]
        stored = await _store(conn, live, outcomes, sender)
        await _move_people(conn, stored, outcomes, rules, now)
    return outcomes


def _same_twice(outcome: Outcome, first: Candidate, again: Candidate) -> None:
    if first.digest == again.digest:
        outcome.status = "duplicate"
    else:
        outcome.status = "rejected"
        outcome.error = (
            f"event_id {again.event.event_id} appears twice in this batch with different content"
        )


async def _resolve_people(
    conn: asyncpg.Connection,
    candidates: list[Candidate],
    outcomes: list[Outcome],
    secret: bytes,
    now: datetime,
) -> None:
    refs = {c.person_ref for c in candidates if c.person_ref}
    found = await by_refs(conn, sorted(refs)) if refs else {}
    registrations = [c.registration for c in candidates if c.registration]
    registered, _ = await ensure_registered(conn, registrations, secret, now)
    for c in candidates:
        if c.person_ref is not None:
            c.person = found.get(c.person_ref)
            if c.person is None:
                outcomes[c.index].status = "rejected"
                outcomes[c.index].error = (
                    f"unknown person_ref {c.person_ref}; register the person or send their "
                    "id_number"
                )
        elif c.registration is not None:
            c.person = registered[c.registration.id_number]


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
        [c.data for c in candidates],
        [c.digest for c in candidates],
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
            if bytes(row["digest"]) == c.digest and same_person:
                outcome.status = "duplicate"
            else:
                outcome.status = "rejected"
                outcome.error = (
                    f"event_id {c.event.event_id} was already used for an event with different "
                    "content; events are never edited — send a correction instead"
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
    stored: list[Candidate],
    outcomes: list[Outcome],
    rules: Rules,
    now: datetime,
) -> None:
    by_person: dict[int, list[Event]] = {}
    for c in stored:
        if c.person is not None:
            by_person.setdefault(c.person.person_id, []).append(c.event)
    if not by_person:
        return
    locked = await stored_status.lock(conn, by_person)
    causes = {pid: "event:" + events[0].event_id for pid, events in by_person.items()}

    def take_in(person_id: int, state: PersonState) -> PersonState:
        for event in by_person[person_id]:
            state = apply(state, event)
        return state

    await stored_status.refresh(conn, locked, rules, now, causes, take_in)


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
            outcome.error = (
                f"voids names {', '.join(strangers)}, which is not an event of this person"
            )
            outcome.errors = {"data.voids": "not an event of this person"}
        elif overrides & set(c.event.voids):
            outcome.status = "rejected"
            outcome.error = (
                "an override cannot be voided; it ends at its 'until' or by a later override "
                "that two commission members approve"
            )
            outcome.errors = {"data.voids": "names an override"}
