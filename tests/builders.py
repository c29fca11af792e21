"""Small builders for test data: valid id numbers and events in the API's shape."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from codesvc.identity import make_id_number

_seq = itertools.count(1)


def id_number(district: str = "310101") -> str:
    """A fresh valid resident id number registered in ``district``."""
    n = next(_seq)
    return make_id_number(district, date(1970 + n % 40, 1 + n % 12, 1 + n % 28), n % 999)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def event(
    kind: str, when: datetime | str, person: dict[str, str] | None, **data: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "kind": kind,
        "occurred_at": when if isinstance(when, str) else when.isoformat(),
        "data": data,
    }
    if person is not None:
        body["person"] = person
    return body


def arrival(
    when: datetime | str, person: dict[str, str], area: str = "440306", **extra: Any
) -> dict[str, Any]:
    extra.setdefault("source", "itinerary")
    return event("travel.arrival", when, person, area_code=area, **extra)


def negative(
    when: datetime | str, person: dict[str, str], sample: str | None = None
) -> dict[str, Any]:
    return event(
        "test.result",
        when,
        person,
        result="negative",
        lab_id="lab-1",
        sample_id=sample or uuid.uuid4().hex[:10],
    )


def positive(when: datetime | str, person: dict[str, str]) -> dict[str, Any]:
    return event(
        "test.result",
        when,
        person,
        result="positive",
        lab_id="lab-1",
        sample_id=uuid.uuid4().hex[:10],
    )
