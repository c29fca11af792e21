"""Reading a colour: the citizen's own, or a person's for staff and the commission."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiohttp import web

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.keys import POOL, SETTINGS, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Param, Routes, json_response, query_flag
from codesvc.api.schemas import HistoryOut, StatusOut
from codesvc.service import stored_status
from codesvc.service.persons import Person
from codesvc.state.events import format_time
from codesvc.state.explain import explain
from codesvc.state.history import Recorded, as_shown, shown_portion
from codesvc.state.status import Interval, Status

routes = Routes("status")

LANG = Param(
    "Accept-Language", "header", description="en for English; Simplified Chinese otherwise"
)
AS_SHOWN = Param(
    "as_shown",
    schema={"type": "boolean"},
    description="true: the colours as they were shown at the time, not as now believed",
)


def language(request: web.Request) -> str:
    accepted = request.headers.get("Accept-Language", "")
    return "en" if accepted.lower().lstrip().startswith("en") else "zh"


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def status_body(person_ref: str, status: Status, lang: str, at: datetime) -> dict[str, object]:
    return {
        "person_ref": person_ref,
        "color": status.color.value,
        "since": format_time(status.since),
        "next_change_at": _t(status.next_change_at),
        "as_of": format_time(at),
        "reasons": [
            {
                "rule": r.rule,
                "since": format_time(r.since),
                "event_id": r.event_id,
                "color": r.color.value,
                "phase": r.phase,
                "text": explain(r, lang),
                "tests_needed": r.tests_needed,
                "sampled_after": _t(r.sampled_after),
                "ends_at": _t(r.ends_at),
                "set_by_hand": r.set_by_hand,
                "office": r.office,
                "override_reason": r.override_reason,
            }
            for r in status.reasons
        ],
    }


def _interval(
    i: Interval,
    recorded_at: datetime | None = None,
    superseded_at: datetime | None = None,
    superseded_by: str | None = None,
) -> dict[str, object]:
    return {
        "from": format_time(i.start),
        "to": _t(i.end),
        "color": i.color.value,
        "cause": i.cause,
        "recorded_at": _t(recorded_at),
        "superseded_at": _t(superseded_at),
        "superseded_by": superseded_by,
    }


async def status_of(request: web.Request, person: Person) -> web.Response:
    at = now(request)
    async with request.app[POOL].acquire() as conn:
        status = await stored_status.current(
            conn, person.person_id, request.app[SETTINGS].rules, at
        )
    if status is None:
        raise Problem(404, "This person has no status yet.")
    return json_response(status_body(person.person_ref, status, language(request), at))


def history_body(
    person_ref: str, rows: Sequence[Recorded], at: datetime, shown: bool
) -> dict[str, object]:
    """The history as believed now (with each superseded row that was ever shown), or as
    it was shown at the time."""
    if shown:
        intervals = [_interval(i) for i in as_shown(rows, at)]
    else:
        intervals = [
            _interval(r.interval, r.recorded_at, r.superseded_at, r.superseded_by)
            for r in rows
            if r.interval.start <= at
            and (r.superseded_at is None or shown_portion(r, at) is not None)
        ]
    return {"person_ref": person_ref, "as_shown": shown, "intervals": intervals}


async def history_of(request: web.Request, person: Person) -> web.Response:
    at = now(request)
    shown = query_flag(request, "as_shown")
    async with request.app[POOL].acquire() as conn:
        rows = await stored_status.history(conn, person.person_id)
    return json_response(history_body(person.person_ref, rows, at, shown))


@routes.route(
    "GET",
    "/v1/me/status",
    summary="My colour, why, and when it changes by itself",
    roles=("citizen",),
    response=StatusOut,
    params=(LANG,),
    errors=(404,),
)
async def my_status(request: web.Request) -> web.Response:
    return await status_of(request, await person_for(request, principal(request).sub))


@routes.route(
    "GET",
    "/v1/me/history",
    summary="My colour history, as believed now or as shown",
    roles=("citizen",),
    response=HistoryOut,
    params=(AS_SHOWN,),
    errors=(404, 422),
)
async def my_history(request: web.Request) -> web.Response:
    return await history_of(request, await person_for(request, principal(request).sub))


@routes.route(
    "GET",
    "/v1/persons/{person_ref}/status",
    summary="A person's colour and reasons",
    roles=("staff", "commission"),
    response=StatusOut,
    params=(LANG,),
    errors=(404,),
)
async def person_status(request: web.Request) -> web.Response:
    person = await person_for(request, request.match_info["person_ref"], read="status")
    return await status_of(request, person)


@routes.route(
    "GET",
    "/v1/persons/{person_ref}/history",
    summary="A person's colour history",
    roles=("staff", "commission"),
    response=HistoryOut,
    params=(AS_SHOWN,),
    errors=(404, 422),
)
async def person_history(request: web.Request) -> web.Response:
    person = await person_for(request, request.match_info["person_ref"], read="history")
    return await history_of(request, person)
