"""Appeals over HTTP: citizens file and follow them; district staff and the commission work them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.keys import POOL, SETTINGS, principal
from codesvc.api.problems import Problem, too_many
from codesvc.api.routing import Param, Routes, json_response, parse_body, whole_number
from codesvc.api.schemas import Strict
from codesvc.appeals.machine import (
    OPEN,
    TERMINAL,
    Actor,
    AppealConflict,
    AppealError,
    AppealForbidden,
    AppealState,
    allowed_actions,
)
from codesvc.appeals.rules import is_overdue
from codesvc.service import appeals as service
from codesvc.state.events import format_time

routes = Routes("appeals")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
APPEAL_ID = Param("appeal_id", "path", description="the appeal's id, a_...")
_DISTRICT = re.compile(r"^[0-9]{6}$")
_VERBS = {
    "file": "file",
    "claim": "claim",
    "note": "add a note to",
    "correct": "correct",
    "uphold": "uphold",
    "escalate": "escalate",
    "withdraw": "withdraw",
    "view": "see",
}


# --- shapes -----------------------------------------------------------------------------


class AppealIn(Strict):
    category: str = Field(
        description="wrong_travel_record, missing_test_result, wrong_test_result or other"
    )
    description: str = Field(description="what is wrong and why, in a sentence or two")
    disputed_event_id: str | None = Field(
        None, description="the event_id shown with the reason for the colour"
    )
    evidence: dict[str, Any] | None = Field(
        None, description="named values, e.g. lab_id and sample_id of a test never linked"
    )


class NoteIn(Strict):
    text: Text
    visibility: Literal["internal", "citizen"] = Field(
        "internal", description="internal: staff and commission only; citizen: shown to them"
    )


class EscalateIn(Strict):
    note: Text = Field(description="why the commission should decide this appeal")


class CorrectionsIn(Strict):
    void: Annotated[list[Any], Field(max_length=100)] = Field(
        default_factory=list, description="event ids of the appellant to void"
    )
    add: Annotated[list[dict[str, Any]], Field(max_length=100)] = Field(
        default_factory=list,
        description="events in the POST /v1/events shape; person may be left out",
    )


class ResolveIn(Strict):
    outcome: Literal["corrected", "upheld"]
    note: Text = Field(description="the decision explained to the citizen")
    corrections: CorrectionsIn | None = None


class NoteOut(BaseModel):
    at: str
    text: str
    visibility: str
    by: str = Field(description="the office that wrote it")
    author: str | None = Field(None, description="staff id; not shown to citizens")


class TransitionOut(BaseModel):
    at: str
    from_: str | None = Field(alias="from")
    to: str
    by: str = Field(description="the office (or the citizen, or the automatic check)")
    actor: str | None = Field(None, description="staff or member id; not shown to citizens")
    why: str | None


class AppealOut(BaseModel):
    appeal_id: str
    person_ref: str
    status: str
    category: str
    description: str
    disputed_event_id: str | None
    evidence: dict[str, Any]
    district: str = Field(description="the district office the appeal is routed to")
    handled_by: str = Field(description="the office deciding it now")
    claimed_by: str | None = Field(None, description="staff id; not shown to citizens")
    filed_at: str
    due_at: str
    overdue: bool
    decided_at: str | None
    outcome_note: str | None
    notes: list[NoteOut]
    transitions: list[TransitionOut]
    actions: list[str] = Field(description="what the caller may do with the appeal now")


class AppealsOut(BaseModel):
    appeals: list[AppealOut]


# --- views ------------------------------------------------------------------------------


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _office(role: str, district: str) -> str:
    return {
        "staff": f"district {district}",
        "commission": "city health commission",
        "system": "automatic check",
        "citizen": "citizen",
    }.get(role, role)


def appeal_body(dossier: service.Dossier, viewer: Actor, at: datetime) -> dict[str, object]:
    """The appeal as ``viewer`` may see it: a citizen sees offices, never an officer's name,
    and only the notes meant for them."""
    a = dossier.appeal
    citizen = viewer.role == "citizen"
    return {
        "appeal_id": a.appeal_id,
        "person_ref": a.person_ref,
        "status": a.state.value,
        "category": a.category,
        "description": a.description,
        "disputed_event_id": a.disputed_event_id,
        "evidence": dict(a.evidence),
        "district": a.district,
        "handled_by": _office(
            "commission" if a.state is AppealState.ESCALATED else "staff", a.district
        ),
        "claimed_by": None if citizen else a.claimed_by,
        "filed_at": format_time(a.filed_at),
        "due_at": format_time(a.due_at),
        "overdue": is_overdue(a.due_at, at, a.state),
        "decided_at": _t(a.decided_at),
        "outcome_note": a.outcome_note,
        "notes": [
            {
                "at": format_time(n.at),
                "text": n.text,
                "visibility": n.visibility,
                "by": _office(n.author_role, a.district),
                "author": None if citizen else n.author_sub,
            }
            for n in dossier.notes
            if not citizen or n.visibility == "citizen"
        ],
        "transitions": [
            {
                "at": format_time(t.at),
                "from": t.from_state,
                "to": t.to_state,
                "by": _office(t.actor_role, a.district),
                "actor": None if citizen else t.actor_sub,
                # A citizen reads the why of decisions; internal reasoning stays inside.
                "why": t.why if not citizen or AppealState(t.to_state) in TERMINAL else None,
            }
            for t in dossier.transitions
        ],
        "actions": allowed_actions(
            a.state,
            viewer,
            appeal_district=a.district,
            appeal_person_ref=a.person_ref,
            claimed_by=a.claimed_by,
        ),
    }


@contextlib.contextmanager
def answering(action: str) -> Iterator[None]:
    """Turn a refused appeal action into the problem a caller can act on."""
    try:
        yield
    except service.TooManyAppeals as exc:
        raise too_many(exc.detail, exc.retry_after.total_seconds()) from None
    except service.AppealInvalid as exc:
        raise Problem(422, exc.detail, errors=exc.errors) from None
    except service.AppealNotFound as exc:
        raise Problem(404, exc.detail) from None
    except AppealConflict as exc:
        if exc.detail[:1].isupper():  # already a whole sentence saying what to do
            raise Problem(409, exc.detail) from None
        raise Problem(
            409,
            f"You cannot {_VERBS[action]} this appeal now: {exc.detail}. "
            "Reload it to see where it stands.",
        ) from None
    except AppealForbidden as exc:
        raise Problem(403, f"You may not {_VERBS[action]} this appeal: {exc.detail}.") from None
    except AppealError as exc:  # pragma: no cover - every subclass is mapped above
        raise Problem(409, exc.detail) from None


def _id(request: web.Request) -> str:
    return request.match_info["appeal_id"]


async def _answer(request: web.Request, appeal: service.Appeal, status: int = 200) -> web.Response:
    actor = service.actor_of(principal(request))
    async with request.app[POOL].acquire() as conn:
        (dossier,) = await service.dossiers(conn, [appeal])
    return json_response(appeal_body(dossier, actor, now(request)), status)


# --- citizens ---------------------------------------------------------------------------


@routes.route(
    "POST",
    "/v1/appeals",
    summary="File an appeal against my colour; routed to the district that reported the "
    "disputed event, else mine",
    roles=("citizen",),
    body=AppealIn,
    response=AppealOut,
    status=201,
    errors=(404, 409, 422, 429),
)
async def file_appeal(request: web.Request) -> web.Response:
    body = await parse_body(request, AppealIn)
    person = await person_for(request, principal(request).sub)
    settings = request.app[SETTINGS]
    filing = service.Filing(
        body.category, body.description, body.disputed_event_id, body.evidence or {}
    )
    with answering("file"):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.file(
                conn,
                person,
                filing,
                now=now(request),
                policy=service.policy(settings),
                rules=settings.rules,
            )
    return await _answer(request, appeal, 201)


@routes.route(
    "GET",
    "/v1/me/appeals",
    summary="My appeals, newest first: state, office, notes for me, outcome",
    roles=("citizen",),
    response=AppealsOut,
    errors=(404,),
)
async def my_appeals(request: web.Request) -> web.Response:
    person = await person_for(request, principal(request).sub)
    actor = service.actor_of(principal(request))
    async with request.app[POOL].acquire() as conn:
        found = await service.of_person(conn, person.person_id)
    at = now(request)
    return json_response({"appeals": [appeal_body(d, actor, at) for d in found]})


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/withdraw",
    summary="Withdraw my appeal before it is decided",
    roles=("citizen",),
    response=AppealOut,
    params=(APPEAL_ID,),
    errors=(403, 404, 409),
)
async def withdraw(request: web.Request) -> web.Response:
    actor = service.actor_of(principal(request))
    with answering("withdraw"):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.withdraw(conn, _id(request), actor, now(request), None)
    return await _answer(request, appeal)


# --- one appeal, and the queue ----------------------------------------------------------


@routes.route(
    "GET",
    "/v1/appeals/{appeal_id}",
    summary="One appeal with its notes, transitions and outcome",
    roles=("citizen", "staff", "commission"),
    response=AppealOut,
    params=(APPEAL_ID,),
    errors=(404,),
)
async def get_appeal(request: web.Request) -> web.Response:
    actor = service.actor_of(principal(request))
    with answering("view"):
        async with request.app[POOL].acquire() as conn:
            dossier = await service.get(conn, _id(request), actor, now(request))
    return json_response(appeal_body(dossier, actor, now(request)))


def _queue_query(request: web.Request) -> service.QueueQuery:
    q = request.query
    errors: dict[str, str] = {}
    states = OPEN
    if "status" in q:
        names = [s.strip() for s in q["status"].split(",") if s.strip()]
        known = {s.value: s for s in AppealState}
        if "all" in names:
            states = frozenset(AppealState)
        elif names and all(n in known for n in names):
            states = frozenset(known[n] for n in names)
        else:
            errors["status"] = "one or more of " + ", ".join([*known, "all"])
    overdue = None
    if "overdue" in q:
        overdue = {"true": True, "1": True, "false": False, "0": False}.get(q["overdue"].lower())
        if overdue is None:
            errors["overdue"] = "true or false"
    district = q.get("district")
    if district is not None and not _DISTRICT.match(district):
        errors["district"] = "a 6-digit district code"
    limit = whole_number(q.get("limit", "100"), 1, service.QUEUE_MAX)
    if limit is None:
        errors["limit"] = f"a whole number from 1 to {service.QUEUE_MAX}"
    if errors or limit is None:
        raise Problem(422, "Some query parameters are invalid; fix the ones named.", errors=errors)
    return service.QueueQuery(states, overdue, district, limit)


@routes.route(
    "GET",
    "/v1/appeals",
    summary="The queue: overdue first, then by due time (staff: their district only)",
    roles=("staff", "commission"),
    response=AppealsOut,
    params=(
        Param("status", description="comma-separated states, or all (default: the open ones)"),
        Param("overdue", schema={"type": "boolean"}, description="only (or no) overdue ones"),
        Param("district", description="the commission may pick a district"),
        Param("limit", schema={"type": "integer"}, description="at most 500 (default 100)"),
    ),
    errors=(404, 422),
)
async def list_appeals(request: web.Request) -> web.Response:
    actor = service.actor_of(principal(request))
    query = _queue_query(request)
    at = now(request)
    with answering("view"):
        async with request.app[POOL].acquire() as conn:
            found = await service.queue(conn, actor, query, at)
            dossiers = await service.dossiers(conn, found)
    return json_response({"appeals": [appeal_body(d, actor, at) for d in dossiers]})


# --- working an appeal ------------------------------------------------------------------


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/claim",
    summary="Take the appeal into review; a second claim gets 409",
    roles=("staff", "commission"),
    response=AppealOut,
    params=(APPEAL_ID,),
    errors=(403, 404, 409),
)
async def claim(request: web.Request) -> web.Response:
    actor = service.actor_of(principal(request))
    with answering("claim"):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.claim(conn, _id(request), actor, now(request))
    return await _answer(request, appeal)


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/notes",
    summary="Add a verification note, internal or for the citizen",
    roles=("staff", "commission"),
    body=NoteIn,
    response=AppealOut,
    status=201,
    params=(APPEAL_ID,),
    errors=(404, 422),
)
async def add_note(request: web.Request) -> web.Response:
    body = await parse_body(request, NoteIn)
    actor = service.actor_of(principal(request))
    with answering("note"):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.add_note(
                conn, _id(request), actor, now(request), body.text, body.visibility
            )
    return await _answer(request, appeal, 201)


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/escalate",
    summary="Pass the appeal to the commission, saying why",
    roles=("staff", "commission"),
    body=EscalateIn,
    response=AppealOut,
    params=(APPEAL_ID,),
    errors=(403, 404, 409, 422),
)
async def escalate(request: web.Request) -> web.Response:
    body = await parse_body(request, EscalateIn)
    actor = service.actor_of(principal(request))
    with answering("escalate"):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.escalate(conn, _id(request), actor, now(request), body.note)
    return await _answer(request, appeal)


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/resolve",
    summary="Decide: corrected (void and add events; status and history recomputed at once) "
    "or upheld (with an explanation for the citizen)",
    roles=("staff", "commission"),
    body=ResolveIn,
    response=AppealOut,
    params=(APPEAL_ID,),
    errors=(403, 404, 409, 422),
)
async def resolve(request: web.Request) -> web.Response:
    body = await parse_body(request, ResolveIn)
    actor = service.actor_of(principal(request))
    fixes = body.corrections or CorrectionsIn()
    action = "correct" if body.outcome == "corrected" else "uphold"
    with answering(action):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.resolve(
                conn,
                _id(request),
                actor,
                outcome=body.outcome,
                note=body.note,
                corrections=service.Corrections(fixes.void, fixes.add),
                now=now(request),
                rules=request.app[SETTINGS].rules,
            )
    return await _answer(request, appeal)
