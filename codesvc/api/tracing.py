"""Contact tracing: a person's scans, and a venue's scans on a day (audited reads)."""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from aiohttp import web
from pydantic import Field, PlainValidator, StringConstraints
from pydantic_core import PydanticCustomError

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.colours import PersonPath
from codesvc.api.keys import AUDIT, POOL, SETTINGS, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Routes
from codesvc.api.venues import VenuePath
from codesvc.messages import t
from codesvc.schemas.fields import UUID, In, Out, Time, TimeOut, query_int
from codesvc.service import audit_log, tracing

routes = Routes("tracing")

#: Most scans one page returns.
PAGE_MAX = 5000
#: A page cursor: microseconds since 1970, a dot, the last scan's id.
CURSOR = "^[0-9]{1,17}\\." + UUID[1:]


DAY = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _day(value: object) -> date:
    if isinstance(value, str) and re.fullmatch(DAY, value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise PydanticCustomError("date_parsing", "name the day as YYYY-MM-DD, e.g. 2022-04-01")


Day = Annotated[
    date,
    PlainValidator(
        _day,
        json_schema_input_type=Annotated[
            str, StringConstraints(pattern=DAY), Field(json_schema_extra={"format": "date"})
        ],
    ),
]


class PersonScansQuery(In):
    since: Time | None = Field(
        None, alias="from", description="RFC 3339; default: the scan retention ago"
    )
    until: Time | None = Field(None, alias="to", description="RFC 3339; default: now")
    limit: query_int(1, PAGE_MAX) = Field(1000, description=f"at most {PAGE_MAX}")  # type: ignore[valid-type]


class VenueScansQuery(In):
    day: Day = Field(description="YYYY-MM-DD in the city's calendar")
    after: Annotated[str, StringConstraints(pattern=CURSOR)] | None = Field(
        None, description="next_after of the page before"
    )
    limit: query_int(1, PAGE_MAX) = Field(1000, description=f"at most {PAGE_MAX}")  # type: ignore[valid-type]


class ScanRecordOut(Out):
    scan_id: str
    venue: str
    person_ref: str
    scanned_at: TimeOut
    color: str = Field(description="the colour the door was shown")
    method: str = Field(description="code or id_number")

    @classmethod
    def of(cls, record: tracing.ScanRecord) -> ScanRecordOut:
        return cls(
            scan_id=record.scan_id,
            venue=record.venue,
            person_ref=record.person_ref,
            scanned_at=record.scanned_at,
            color=record.color,
            method=record.method,
        )


class PersonScansOut(Out):
    person_ref: str
    since: TimeOut
    until: TimeOut
    scans: list[ScanRecordOut]


class VenueScansOut(Out):
    venue: str
    day: str
    scans: list[ScanRecordOut]
    next_after: str | None = Field(description="pass as after= for the next page; null at the end")


@routes.route(
    "GET",
    "/v1/persons/{person_ref}/scans",
    summary="Where a person was scanned (contact tracing), oldest first; audited",
    roles=("staff", "commission"),
    response=PersonScansOut,
    path_params=PersonPath,
    query=PersonScansQuery,
    errors=(404,),
)
async def person_scans(
    request: web.Request, path: PersonPath, query: PersonScansQuery
) -> PersonScansOut:
    at = now(request)
    retention = timedelta(days=request.app[SETTINGS].scan_retention_days)
    since = query.since or at - retention
    until = query.until or at
    if until <= since:
        raise Problem(422, t("from must be before to."), errors={"to": t("not after from")})
    person = await person_for(request, path.person_ref, read="scans")
    async with request.app[POOL].acquire() as conn:
        found = await tracing.person_scans(conn, person.person_id, since, until, query.limit)
    return PersonScansOut(
        person_ref=person.person_ref,
        since=since,
        until=until,
        scans=[ScanRecordOut.of(r) for r in found],
    )


@routes.route(
    "GET",
    "/v1/venues/{venue_id}/scans",
    summary="Who was scanned at a venue on a day of the city's calendar (contact tracing); audited",
    roles=("commission",),
    response=VenueScansOut,
    path_params=VenuePath,
    query=VenueScansQuery,
)
async def venue_scans(
    request: web.Request, path: VenuePath, query: VenueScansQuery
) -> VenueScansOut:
    venue = path.venue_id
    after = _cursor(query.after)
    limit = query.limit
    entry = audit_log.Record("venue.scans.read", None, venue, {"day": query.day.isoformat()})
    await request.app[AUDIT].record(principal(request), now(request), [entry])
    async with request.app[POOL].acquire() as conn:
        found = await tracing.venue_scans(conn, venue, query.day, after, limit)
    last = found[-1] if len(found) == limit else None
    return VenueScansOut(
        venue=venue,
        day=query.day.isoformat(),
        scans=[ScanRecordOut.of(r) for r in found],
        next_after=_next_after(last) if last else None,
    )


#: Cursors count microseconds since this moment: plain digits, safe in any query string.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _next_after(last: tracing.ScanRecord) -> str:
    return f"{(last.scanned_at - _EPOCH) // timedelta(microseconds=1)}.{last.scan_id}"


def _cursor(raw: str | None) -> tuple[datetime, str] | None:
    """A cursor the query model let through (digits, a dot, a UUID) as a time and an id."""
    if raw is None:
        return None
    micros, _, scan_id = raw.partition(".")
    try:
        return _EPOCH + timedelta(microseconds=int(micros)), str(uuid.UUID(scan_id))
    except OverflowError:
        raise Problem(
            422, t("after must be the next_after of a page."), errors={"after": t("not a cursor")}
        ) from None
