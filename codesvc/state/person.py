"""A person's accumulated facts: the accumulator of the fold `replay = reduce(apply)`.

`apply` is commutative and idempotent, so the state (and so the colour) depends on the
set of events received, never on the order they arrived in.
"""

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import reduce

from codesvc.state.events import (
    Correction,
    Event,
    parse_time,
    sort_key,
)


class EventConflict(ValueError):
    """An event reuses the id of a different event the person already has."""


@dataclass(frozen=True, slots=True)
class PersonState:
    """The non-voided facts of one person, sorted by `sort_key`, unique by event id."""

    registered_at: datetime
    district: str
    events: tuple[Event, ...] = ()
    #: ids voided by a correction, kept so that a voided event arriving late stays void
    voided: frozenset[str] = frozenset()

    @classmethod
    def new(cls, registered_at: datetime, district: str) -> "PersonState":
        """A person with no facts yet."""
        return cls(registered_at=parse_time(registered_at), district=district)


def apply(state: PersonState, event: Event) -> PersonState:
    """`state` with `event` taken in; any order of the same events gives the same state.

    A correction removes the facts it voids and remembers their ids. Corrections
    themselves cannot be voided: such ids are ignored, whichever arrives first.
    Raises `EventConflict` for an id already held by a different event.
    """
    for held in state.events:
        if held.event_id == event.event_id:
            if held != event:
                raise EventConflict(f"event {event.event_id} differs from the one received")
            return state
    voided = state.voided
    if isinstance(event, Correction):
        voided = voided - {event.event_id}
    elif event.event_id in voided:
        return state
    events = list(state.events)
    events.insert(bisect_left(events, sort_key(event), key=sort_key), event)
    if isinstance(event, Correction):
        corrections = {e.event_id for e in events if isinstance(e, Correction)}
        voids = set(event.voids) - corrections
        voided = voided | voids
        events = [e for e in events if e.event_id not in voids]
    return replace(state, events=tuple(events), voided=voided)


def replay(registered_at: datetime, district: str, events: Iterable[Event]) -> PersonState:
    """The state of a person from all their events, in any order."""
    return reduce(apply, events, PersonState.new(registered_at, district))


def from_facts(registered_at: datetime, district: str, events: Iterable[Event]) -> PersonState:
    """The state of a person from all their stored events at once: `replay` without the
    fold's step-by-step bookkeeping (this runs for every person a write touches).

    Equal to `replay` for the same events in any order, which a property test checks: a
    correction voids what it names except corrections, and everything else stays.
    """
    unique = {e.event_id: e for e in events}
    corrections = {i for i, e in unique.items() if isinstance(e, Correction)}
    voided = {v for e in unique.values() if isinstance(e, Correction) for v in e.voids}
    voided -= corrections
    kept = sorted((e for i, e in unique.items() if i not in voided), key=sort_key)
    return PersonState(parse_time(registered_at), district, tuple(kept), frozenset(voided))
