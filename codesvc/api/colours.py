"""Reading a colour: the citizen's own, or a person's for staff and the commission."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiohttp import web
from pydantic import Field

from codesvc.api.access import person_for, status_for
from codesvc.api.clock import now
from codesvc.api.keys import POOL, principal
from codesvc.api.routing import Param, Routes
from codesvc.schemas.colours import HistoryOut, HistoryQuery, IntervalOut, StatusOut
from codesvc.schemas.fields import In, PersonRef
from codesvc.service import stored_status
from codesvc.service.persons import Person
from codesvc.state.history import Recorded, as_shown, shown_portion

routes = Routes("status")

LANG = Param("Accept-Language", description="en for English; Simplified Chinese otherwise")


class PersonPath(In):
    person_ref: PersonRef = Field(description="the person's reference, p_...")


def language(request: web.Request) -> str:
    accepted = request.headers.get("Accept-Language", "")
    return "en" if accepted.lower().lstrip().startswith("en") else "zh"


async def status_of(request: web.Request, person_ref: str, read: str | None = None) -> StatusOut:
    """A person's status for the caller: found, checked, audited and evaluated afresh at
    the time of the answer."""
    found = await status_for(request, person_ref, read)
    at = now(request)
    return StatusOut.of(found.person.person_ref, found.status(at), language(request), at)


async def history_of(request: web.Request, person: Person, shown: bool) -> HistoryOut:
    at = now(request)
    async with request.app[POOL].acquire() as conn:
        rows = await stored_status.history(conn, person.person_id)
    return history_body(person.person_ref, rows, at, shown)


def history_body(
    person_ref: str, rows: Sequence[Recorded], at: datetime, shown: bool
) -> HistoryOut:
    """The history as believed now (with each superseded row that was ever shown), or as
    it was shown at the time."""
    if shown:
        intervals = [IntervalOut.of(i) for i in as_shown(rows, at)]
    else:
        # What is believed now, up to now; and each superseded row that was ever shown.
        intervals = [
            IntervalOut.of(r.interval, r.recorded_at, r.superseded_at, r.superseded_by)
            for r in rows
            if r.interval.start <= at
            and (r.superseded_at is None or shown_portion(r, at) is not None)
        ]
    return HistoryOut(person_ref=person_ref, as_shown=shown, intervals=intervals)


@routes.route(
    "GET",
    "/v1/me/status",
    summary="My colour, why, and when it changes by itself",
    roles=("citizen",),
    response=StatusOut,
    headers=(LANG,),
    errors=(404,),
)
async def my_status(request: web.Request) -> StatusOut:
    return await status_of(request, principal(request).sub)


@routes.route(
    "GET",
    "/v1/me/history",
    summary="My colour history, as believed now or as shown",
    roles=("citizen",),
    response=HistoryOut,
    query=HistoryQuery,
    errors=(404,),
)
async def my_history(request: web.Request, query: HistoryQuery) -> HistoryOut:
    person = await person_for(request, principal(request).sub)
    return await history_of(request, person, query.as_shown)


@routes.route(
    "GET",
    "/v1/persons/{person_ref}/status",
    summary="A person's colour and reasons",
    roles=("staff", "commission"),
    response=StatusOut,
    path_params=PersonPath,
    headers=(LANG,),
    errors=(404,),
)
async def person_status(request: web.Request, path: PersonPath) -> StatusOut:
    return await status_of(request, path.person_ref, read="status")


@routes.route(
    "GET",
    "/v1/persons/{person_ref}/history",
    summary="A person's colour history",
    roles=("staff", "commission"),
    response=HistoryOut,
    path_params=PersonPath,
    query=HistoryQuery,
    errors=(404,),
)
async def person_history(request: web.Request, path: PersonPath, query: HistoryQuery) -> HistoryOut:
    person = await person_for(request, path.person_ref, read="history")
    return await history_of(request, person, query.as_shown)
