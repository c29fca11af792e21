"""Contact tracing: a person's scans, and a venue's scans on a day (audited reads)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pydantic
from aiohttp import web

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.keys import POOL, SETTINGS, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Param, Routes, json_response, query_int
from codesvc.service import audit_log, tracing
from codesvc.state.events import format_time, parse_time

routes = Routes("tracing")

#: Most scans one page returns.
PAGE_MAX = 5000


class ScanRecordOut(pydantic.BaseModel):
    scan_id: str
    venue: str
    person_ref: str
    scanned_at: str
    color: str = pydantic.Field(description="the colour the door was shown")
    method: str = pydantic.Field(description="code or id_number")


class PersonScansOut(pydantic.BaseModel):
    person_ref: str
    since: str
    until: str
    scans: list[ScanRecordOut]


class VenueScansOut(pydantic.BaseModel):
    venue: str
    day: str
    scans: list[ScanRecordOut]
    next_after: str | None = pydantic.Field(
        description="pass as after= for the next page; null at the end"
    )


def _out(record: tracing.ScanRecord) -> dict[str, str]:
    return {
        "scan_id": record.scan_id,
        "venue": record.venue,
        "person_ref": record.person_ref,
        "scanned_at": format_time(record.scanned_at),
        "color": record.color,
        "method": record.method,
    }


def _time(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise Problem(422, f"Query parameter {name} {exc}.", errors={name: str(exc)}) from None


@routes.route(
    "GET",
    "/v1/persons/{person_ref}/scans",
    summary="Where a person was scanned (contact tracing), oldest first; audited",
    roles=("staff", "commission"),
    response=PersonScansOut,
    params=(
        Param("person_ref", "path", required=True),
        Param("from", description="RFC 3339; default: the scan retention ago"),
        Param("to", description="RFC 3339; default: now"),
        Param("limit", schema={"type": "integer"}, description=f"at most {PAGE_MAX}"),
    ),
    errors=(404, 422),
)
async def person_scans(request: web.Request) -> web.Response:
    at = now(request)
    retention = timedelta(days=request.app[SETTINGS].scan_retention_days)
    since = _time(request, "from", at - retention)
    until = _time(request, "to", at)
    limit = query_int(request, "limit", 1000, 1, PAGE_MAX)
    if until <= since:
        raise Problem(422, "from must be before to.", errors={"to": "not after from"})
    person = await person_for(request, request.match_info["person_ref"], read="scans")
    async with request.app[POOL].acquire() as conn:
        found = await tracing.person_scans(conn, person.person_id, since, until, limit)
    return json_response(
        {
            "person_ref": person.person_ref,
            "since": format_time(since),
            "until": format_time(until),
            "scans": [_out(r) for r in found],
        }
    )


@routes.route(
    "GET",
    "/v1/venues/{venue_id}/scans",
    summary="Who was scanned at a venue on a day of the city's calendar (contact tracing); audited",
    roles=("commission",),
    response=VenueScansOut,
    params=(
        Param("venue_id", "path", required=True),
        Param("day", required=True, description="YYYY-MM-DD in the city's calendar"),
        Param("after", description="next_after of the page before"),
        Param("limit", schema={"type": "integer"}, description=f"at most {PAGE_MAX}"),
    ),
    errors=(422,),
)
async def venue_scans(request: web.Request) -> web.Response:
    venue = request.match_info["venue_id"]
    if "\x00" in venue or len(venue) > 200:
        raise Problem(422, "That is not a venue id.", errors={"venue_id": "not a venue id"})
    try:
        day = date.fromisoformat(request.query.get("day", ""))
    except ValueError:
        raise Problem(
            422, "Name the day as YYYY-MM-DD, e.g. 2022-04-01.", errors={"day": "not a date"}
        ) from None
    after = _cursor(request.query.get("after"))
    limit = query_int(request, "limit", 1000, 1, PAGE_MAX)
    async with request.app[POOL].acquire() as conn:
        async with conn.transaction():
            entry = audit_log.Record("venue.scans.read", None, venue, {"day": day.isoformat()})
            await audit_log.append(conn, principal(request), now(request), [entry])
        found = await tracing.venue_scans(conn, venue, day, after, limit)
    last = found[-1] if len(found) == limit else None
    return json_response(
        {
            "venue": venue,
            "day": day.isoformat(),
            "scans": [_out(r) for r in found],
            "next_after": _next_after(last) if last else None,
        }
    )


#: Cursors count microseconds since this moment: plain digits, safe in any query string.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _next_after(last: tracing.ScanRecord) -> str:
    return f"{(last.scanned_at - _EPOCH) // timedelta(microseconds=1)}.{last.scan_id}"


def _cursor(raw: str | None) -> tuple[datetime, str] | None:
    if raw is None:
        return None
    micros, _, scan_id = raw.partition(".")
    try:
        if not (micros.isascii() and micros.isdigit()) or len(micros) > 17:
            raise ValueError(raw)
        return _EPOCH + timedelta(microseconds=int(micros)), str(uuid.UUID(scan_id))
    except ValueError:
        raise Problem(
            422, "after must be the next_after of a page.", errors={"after": "not a cursor"}
        ) from None
