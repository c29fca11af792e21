"""The facts that move a code: one frozen dataclass per event kind, and their wire form.

Events are appended and never edited. `parse_event` is the one door in: it validates
every field and says, per field, what a sender has to fix. `event_data` is its inverse.
"""

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from codesvc.state.colors import Color

Source = Literal["itinerary", "district_report", "self_report"]
TestOutcome = Literal["negative", "positive"]
ContactLevel = Literal["close", "secondary"]

#: longest free text accepted in an identifier or reason field
MAX_TEXT = 200


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


class EventInvalid(ValueError):
    """An event that cannot be accepted; `errors` maps a field path to what is wrong with it."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.errors.items()))


def sort_key(event: Event) -> tuple[datetime, str]:
    """The total order of facts: event time, then id; never the order of arrival."""
    return (event.occurred_at, event.event_id)


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?P<fraction>\.[0-9]+)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_TIME_MESSAGE = "must be an RFC 3339 time with an offset, e.g. 2022-02-08T10:00:00+08:00"
_UUID_MESSAGE = "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"
_CODE = re.compile(r"[0-9]{6}")


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


Check = Callable[[object], Any]


def _choice(*options: str) -> Check:
    def check(value: object) -> object:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return check


def _code(value: object) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ValueError("must be a 6-digit administrative division code, e.g. 310101")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ValueError(f"must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def _color(value: object) -> Color:
    if not isinstance(value, str) or value not in {c.value for c in Color}:
        raise ValueError(f"must be one of {', '.join(c.value for c in Color)}")
    return Color(value)


def _voids(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a non-empty list of event ids (UUIDs)")
    ids: dict[str, None] = {}
    for index, item in enumerate(value):
        try:
            ids[parse_event_id(item)] = None
        except ValueError as error:
            raise ValueError(f"item {index} {error}") from None
    return tuple(ids)


#: per kind: field name -> (required, check). Optional fields may be absent or null.
_SCHEMAS: Mapping[str, Mapping[str, tuple[bool, Check]]] = {
    "travel.arrival": {
        "area_code": (True, _code),
        "source": (True, _choice("itinerary", "district_report", "self_report")),
        "reporting_district": (False, _code),
    },
    "test.result": {
        "result": (True, _choice("negative", "positive")),
        "lab_id": (True, _text),
        "sample_id": (True, _text),
    },
    "contact.designated": {
        "level": (True, _choice("close", "secondary")),
        "case_ref": (True, _text),
    },
    "case.discharged": {"case_ref": (True, _text)},
    "correction": {
        "voids": (True, _voids),
        "reason": (True, _text),
        "appeal_id": (False, _text),
    },
    "override": {
        "color": (True, _color),
        "until": (False, parse_time),
        "reason": (True, _text),
        "office": (True, _text),
        "override_id": (True, _text),
    },
}


def _check(errors: dict[str, str], path: str, check: Check, value: object) -> Any:
    try:
        return check(value)
    except ValueError as error:
        errors[path] = str(error)
        return None


def _parse_data(kind: str, data: object, errors: dict[str, str]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        errors["data"] = "must be an object"
        return {}
    schema = _SCHEMAS[kind]
    values: dict[str, Any] = {}
    for name, (required, check) in schema.items():
        value = data.get(name)
        if value is None:
            if required:
                errors[f"data.{name}"] = "is required"
            continue
        values[name] = _check(errors, f"data.{name}", check, value)
    for name in data:
        if name not in schema:
            errors[f"data.{name}"] = f"unknown field; expected one of {', '.join(schema)}"
    return values


def parse_event(
    event_id: str, kind: str, occurred_at: str | datetime, data: Mapping[str, object]
) -> Event:
    """A validated event in canonical form (lowercase UUIDs, UTC times).

    Raises `EventInvalid` listing every problem at once, keyed by field path, so that a
    sender fixes a batch in one round; unknown data fields are errors, since a misspelt
    optional field would otherwise be dropped without a word.
    """
    errors: dict[str, str] = {}
    canonical_id = _check(errors, "event_id", parse_event_id, event_id)
    at = _check(errors, "occurred_at", parse_time, occurred_at)
    if not isinstance(kind, str) or kind not in _SCHEMAS:
        errors["kind"] = f"unknown kind {kind!r}; expected one of {', '.join(sorted(_SCHEMAS))}"
        raise EventInvalid(errors)
    values = _parse_data(kind, data, errors)
    until = values.get("until")
    if at is not None and until is not None and until <= at:
        errors["data.until"] = "must be after occurred_at"
    if canonical_id is not None and canonical_id in (values.get("voids") or ()):
        errors["data.voids"] = "a correction cannot void itself"
    if errors:
        raise EventInvalid(errors)
    return EVENT_TYPES[kind](event_id=canonical_id, occurred_at=at, **values)


def event_data(event: Event) -> dict[str, object]:
    """The JSON-ready `data` of an event: what `parse_event` takes back unchanged."""
    data: dict[str, object] = {}
    for name in _SCHEMAS[event.kind]:
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
