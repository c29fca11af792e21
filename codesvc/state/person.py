"""A person's accumulated facts: the accumulator of the fold `replay = reduce(apply)`.

`apply` is commutative and idempotent, so the state (and so the colour) depends on the
set of events received, never on the order they arrived in.
"""

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import reduce
from typing import Any

from codesvc.state.events import (
    Correction,
    Event,
    event_data,
    format_time,
    from_stored,
    parse_time,
    sort_key,
)

#: version of the `to_json` layout, so a stored cache from an older layout is recognised
JSON_VERSION = 1


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


def to_json(state: PersonState) -> dict[str, object]:
    """The state as plain JSON values: the stored cache of the fold."""
    return {
        "version": JSON_VERSION,
        "registered_at": format_time(state.registered_at),
        "district": state.district,
        "events": [
            {
                "event_id": e.event_id,
                "kind": e.kind,
                "occurred_at": format_time(e.occurred_at),
                "data": event_data(e),
            }
            for e in state.events
        ],
        "voided": sorted(state.voided),
    }


def from_json(value: Mapping[str, object]) -> PersonState:
    """The state `to_json` wrote.

    The stored cache was validated when each event was accepted and is written only by
    `to_json`, so it is rebuilt directly rather than parsed again: this runs for every
    person an ingested batch touches.
    """
    if value.get("version") != JSON_VERSION:
        raise ValueError(f"unsupported person state version {value.get('version')!r}")
    events = value["events"]
    voided = value["voided"]
    district = value["district"]
    if not isinstance(events, list) or not isinstance(voided, list):
        raise ValueError("events and voided must be lists")
    if not isinstance(district, str):
        raise ValueError("district must be a string")
    return PersonState(
        registered_at=parse_time(value["registered_at"]),
        district=district,
        events=tuple(sorted((_event_from_json(e) for e in events), key=sort_key)),
        voided=frozenset(str(v) for v in voided),
    )


def _event_from_json(item: Mapping[str, Any]) -> Event:
    return from_stored(item["event_id"], item["kind"], item["occurred_at"], item["data"])
