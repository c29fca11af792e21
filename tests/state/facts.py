"""Builders for the facts and world the rule tests speak in; times are offsets from T."""

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from codesvc.state import (
    Campaign,
    CaseDischarged,
    Color,
    ContactDesignated,
    Correction,
    Event,
    Listing,
    Override,
    PersonState,
    Status,
    TestResult,
    TravelArrival,
    World,
    evaluate,
    replay,
)

#: 8 Feb 2022 10:00 in Shanghai
T = datetime(2022, 2, 8, 2, 0, tzinfo=UTC)
MEDIUM_AREA = "440306"
HIGH_AREA = "510107"
UNLISTED_AREA = "320106"
DISTRICT = "310101"

WORLD = World(
    listings=(
        Listing(MEDIUM_AREA, "medium", T - timedelta(days=30)),
        Listing(HIGH_AREA, "high", T - timedelta(days=30)),
    )
)


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """T plus an offset."""
    return T + timedelta(days=days, hours=hours, minutes=minutes)


def new_id() -> str:
    return str(uuid.uuid4())


def arrival(when: datetime, area: str = MEDIUM_AREA) -> TravelArrival:
    return TravelArrival(new_id(), when, area, "itinerary")


def negative(when: datetime) -> TestResult:
    return TestResult(new_id(), when, "negative", "lab-1", f"s-{new_id()}")


def positive(when: datetime) -> TestResult:
    return TestResult(new_id(), when, "positive", "lab-1", f"s-{new_id()}")


def contact(when: datetime, level: str = "close") -> ContactDesignated:
    return ContactDesignated(new_id(), when, "close" if level == "close" else "secondary", "c-1")


def discharge(when: datetime) -> CaseDischarged:
    return CaseDischarged(new_id(), when, "c-1")


def override(
    when: datetime, color: Color, until: datetime | None = None, override_id: str = "ov-1"
) -> Override:
    return Override(
        new_id(), when, color, "protest at the bank", "Huangpu health office", override_id, until
    )


def correction(when: datetime, *voided: Event) -> Correction:
    return Correction(new_id(), when, tuple(e.event_id for e in voided), "wrong record", "ap-1")


def campaign(starts: datetime, ends: datetime, districts: Iterable[str] = (DISTRICT,)) -> Campaign:
    return Campaign("camp-1", frozenset(districts), starts, ends)


def person(*events: Event, registered_at: datetime | None = None) -> PersonState:
    """A person registered ten days before T in DISTRICT, with these events."""
    return replay(registered_at or at(days=-10), DISTRICT, events)


def status(now: datetime, *events: Event, world: World = WORLD) -> Status:
    return evaluate(person(*events), world, now)


def colors(state: Status) -> list[tuple[datetime, Color]]:
    """The timeline as (start, colour) pairs, the easiest shape to compare."""
    return [(i.start, i.color) for i in state.intervals]
