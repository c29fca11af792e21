"""The facts that move a code: one frozen dataclass per event kind, and their stored form.

Events are appended and never edited. What a sender sends is validated by the wire models
(`codesvc.schemas.events`), which build these; `event_data` is what is stored, and
`from_stored` rebuilds an event from it.
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from codesvc.state.colors import Color

Source = Literal["itinerary", "district_report", "self_report"]
TestOutcome = Literal["negative", "positive"]
ContactLevel = Literal["close", "secondary"]


@dataclass(frozen=True, slots=True)
class TravelArrival:
    """The person arrived in the city from (or was present in) `area_code` at `occurred_at`."""

    kind: ClassVar[str] = "travel.arrival"
    event_id: str
    occurred_at: datetime
    area_code: str
    source: Source
    reporting_district: str | None = None


@dataclass(frozen=True, slots=True)
class TestResult:
    """A lab result; `occurred_at` is when the sample was taken."""

    __test__: ClassVar[bool] = False  # a domain class, not a pytest test case
    kind: ClassVar[str] = "test.result"
    event_id: str
    occurred_at: datetime
    result: TestOutcome
    lab_id: str
    sample_id: str


@dataclass(frozen=True, slots=True)
class ContactDesignated:
    """The person was designated a contact of a case; `occurred_at` is the last exposure."""

    kind: ClassVar[str] = "contact.designated"
    event_id: str
    occurred_at: datetime
    level: ContactLevel
    case_ref: str


@dataclass(frozen=True, slots=True)
class CaseDischarged:
    """The person was discharged from treatment at `occurred_at`."""

    kind: ClassVar[str] = "case.discharged"
    event_id: str
    occurred_at: datetime
    case_ref: str


@dataclass(frozen=True, slots=True)
class Correction:
    """Voids earlier events (usually after an appeal): they count as never received."""

    kind: ClassVar[str] = "correction"
    event_id: str
    occurred_at: datetime
    voids: tuple[str, ...]
    reason: str
    appeal_id: str | None = None


@dataclass(frozen=True, slots=True)
class Override:
    """A colour set by hand, approved by two commission members, from `occurred_at`."""

    kind: ClassVar[str] = "override"
    event_id: str
    occurred_at: datetime
    color: Color
    reason: str
    office: str
    override_id: str
    until: datetime | None = None


Event = TravelArrival | TestResult | ContactDesignated | CaseDischarged | Correction | Override

EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.kind: cls
    for cls in (TravelArrival, TestResult, ContactDesignated, CaseDischarged, Correction, Override)
}
#: per kind, the fields of its `data` (all but `event_id` and `occurred_at`), in order
DATA_FIELDS: Mapping[str, tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(cls) if f.name not in ("event_id", "occurred_at"))
    for kind, cls in EVENT_TYPES.items()
}


def sort_key(event: Event) -> tuple[datetime, str]:
    """The total order of facts: event time, then id; never the order of arrival."""
    return (event.occurred_at, event.event_id)


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?P<fraction>\.[0-9]+)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_TIME_MESSAGE = "must be an RFC 3339 time with an offset, e.g. 2022-02-08T10:00:00+08:00"
_UUID_MESSAGE = "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"


def parse_time(value: object) -> datetime:
    """An aware datetime in UTC from an RFC 3339 string (or an aware datetime).

    Digits past the microsecond are dropped: timestamptz keeps no more either.
    """
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(_TIME_MESSAGE)
        return value.astimezone(UTC)
    if not isinstance(value, str) or (match := _RFC3339.fullmatch(value)) is None:
        raise ValueError(_TIME_MESSAGE)
    text = value.upper()
    fraction = match["fraction"]
    if fraction and len(fraction) > 7:
        start = match.start("fraction")
        text = text[: start + 7] + text[match.end("fraction") :]
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise ValueError(_TIME_MESSAGE) from None


def format_time(value: datetime) -> str:
    """The RFC 3339 form of an aware datetime, in UTC."""
    return value.astimezone(UTC).isoformat()


def parse_event_id(value: object) -> str:
    """The canonical lowercase form of a UUID given as a string."""
    if not isinstance(value, str):
        raise ValueError(_UUID_MESSAGE)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(_UUID_MESSAGE) from None


def event_data(event: Event) -> dict[str, object]:
    """The JSON-ready `data` of an event, as stored: what `from_stored` takes back."""
    data: dict[str, object] = {}
    for name in DATA_FIELDS[event.kind]:
        value = getattr(event, name)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = format_time(value)
        elif isinstance(value, Color):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        data[name] = value
    return data


def from_stored(
    event_id: str, kind: str, occurred_at: datetime | str, data: Mapping[str, Any]
) -> Event:
    """An event as `event_data` stored it, rebuilt without validating it again.

    Everything stored was validated when it was accepted (or made by the service itself),
    and this runs for every event of every person replayed, so it only converts. Keys that
    are not the kind's fields (what a lab wrote down about an unlinked result) are left out.
    """
    values = {name: data[name] for name in DATA_FIELDS[kind] if data.get(name) is not None}
    if "until" in values:
        values["until"] = datetime.fromisoformat(values["until"])
    if "color" in values:
        values["color"] = Color(values["color"])
    if "voids" in values:
        values["voids"] = tuple(values["voids"])
    if isinstance(occurred_at, str):
        occurred_at = datetime.fromisoformat(occurred_at)
    event: Event = EVENT_TYPES[kind](event_id=event_id, occurred_at=occurred_at, **values)
    return event
