"""One event made ready to store, the same way for every writer: feeds, staff, appeals.

The wire models (`codesvc.schemas.events`) check an event's shape and build the domain
event; `check` adds what holds whoever sends it (not in the future, a correction does
not void itself) and computes what is stored. Which kinds a sender may send is a
separate rule, `as_sent_by`, since an appeal adds facts under its own rule.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from codesvc.messages import Text, t
from codesvc.state.events import Correction, Event, TravelArrival, event_data, format_time
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


class Rejected(Exception):
    """An event that cannot be stored: ``error`` for a person, ``errors`` per field path."""

    def __init__(self, error: Text, errors: Mapping[str, Text] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.errors = dict(errors) if errors else None


@dataclass(frozen=True, slots=True)
class Checked:
    """An event ready to store: the domain event, its stored ``data`` and its digest."""

    event: Event
    data: dict[str, object]
    digest: bytes


def digest(kind: str, occurred_at: datetime, data: Mapping[str, object]) -> bytes:
    """What makes two sendings of one event the same event."""
    canonical = {"kind": kind, "occurred_at": format_time(occurred_at), "data": data}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).digest()


def check(event: Event, now: datetime, lab_record: Mapping[str, str] | None = None) -> Checked:
    """``event`` as it is stored, whoever sends it; raises `Rejected`.

    ``lab_record`` is the name and phone a lab wrote down for a result it could not tie
    to a person: stored with it, so an appeal can link it later.
    """
    if event.occurred_at > now + FUTURE_TOLERANCE:
        raise Rejected(
            t(
                "occurred_at {at} is in the future; events report what has happened",
                at=format_time(event.occurred_at),
            ),
            {"occurred_at": t("more than 5 minutes in the future")},
        )
    if isinstance(event, Correction) and event.event_id in event.voids:
        raise Rejected(
            t("a correction cannot void itself"),
            {"data.voids": t("a correction cannot void itself")},
        )
    data = event_data(event) | dict(lab_record or {})
    return Checked(event, data, digest(event.kind, event.occurred_at, data))


def as_sent_by(sender: Principal, event: Event) -> Event:
    """``event`` as ``sender`` may send it, or `Rejected`: the kinds of their role, and a
    district's arrivals reported under that district (filled in when left out)."""
    if event.kind not in SENDABLE.get(sender.role, frozenset()):
        raise Rejected(
            _not_allowed(sender.role, event.kind), {"kind": t("not allowed for this sender")}
        )
    if isinstance(event, TravelArrival) and sender.district:
        if event.reporting_district is None:
            return dataclasses.replace(event, reporting_district=sender.district)
        if event.reporting_district != sender.district:
            raise Rejected(
                t(
                    "a sender of district {district} may report arrivals only for it",
                    district=sender.district,
                ),
                {"data.reporting_district": t("must be {district}", district=sender.district)},
            )
    return event


def _not_allowed(role: str, kind: str) -> Text:
    if kind == "correction":
        return t(
            "corrections come from resolved appeals and the commission, not from a {role}",
            role=role,
        )
    return t("a {role} may not send {kind} events", role=role, kind=kind)
