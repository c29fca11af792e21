"""Appeals over HTTP: citizens file and follow them; district staff and the commission work them.

About 480 lines, kept whole: one resource's routes and the documented models they answer
with, which the citizen's and the staff's routes share (an appeal as either reads it);
the work itself is in `codesvc.service.appeals`, the preview of a decision in
`codesvc.api.appeal_preview`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, StringConstraints

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.idempotency import connection
from codesvc.api.keys import POOL, SETTINGS, principal
from codesvc.api.problems import Problem, too_many
from codesvc.api.routing import Routes
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
from codesvc.appeals.rules import Category, is_overdue
from codesvc.messages import t
from codesvc.schemas.events import FactIn
from codesvc.schemas.fields import (
    IDENT,
    PROSE,
    Code6,
    EventId,
    In,
    NamedValues,
    Note,
    Out,
    QueryBool,
    TimeOut,
    query_int,
)
from codesvc.service import appeals as service

routes = Routes("appeals")

_VERBS = {
    "file": t("file"),
    "claim": t("claim"),
    "note": t("add a note to"),
    "correct": t("correct"),
    "uphold": t("uphold"),
    "escalate": t("escalate"),
    "withdraw": t("withdraw"),
    "view": t("see"),
}
_STATES = tuple(s.value for s in AppealState)
#: ``all``, or one or more states separated by commas
STATES_PATTERN = "^(all|({0})(,({0}))*)$".format("|".join(_STATES))


# --- shapes -----------------------------------------------------------------------------


class AppealPath(In):
    appeal_id: Annotated[str, StringConstraints(pattern=IDENT)] = Field(
        description="the appeal's id, a_..."
    )


class AppealIn(In):
    category: Literal[tuple(c.value for c in Category)] = Field(  # type: ignore[valid-type]
        description="wrong_travel_record, missing_test_result, wrong_test_result or other"
    )
    description: Annotated[
        str, StringConstraints(min_length=1, max_length=10_000, pattern=PROSE)
    ] = Field(
        description="what is wrong and why, in a sentence or two (the configured maximum "
        "length applies, 2000 characters by default)"
    )
    disputed_event_id: EventId | None = Field(
        None, description="the event_id shown with the reason for the colour"
    )
    evidence: NamedValues | None = Field(
        None, description="named values, e.g. lab_id and sample_id of a test never linked"
    )


class NoteIn(In):
    text: Note
    visibility: Literal["internal", "citizen"] = Field(
        "internal", description="internal: staff and commission only; citizen: shown to them"
    )


class EscalateIn(In):
    note: Note = Field(description="why the commission should decide this appeal")


class CorrectionsIn(In):
    void: Annotated[list[EventId], Field(max_length=100)] = Field(
        default_factory=list, description="event ids of the appellant to void"
    )
    add: Annotated[list[FactIn], Field(max_length=100)] = Field(
        default_factory=list,
        description="facts about the appellant to add: events as POST /v1/events takes them, "
        "without person",
    )


class ResolveIn(In):
    outcome: Literal["corrected", "upheld"]
    note: Note = Field(description="the decision explained to the citizen")
    corrections: CorrectionsIn | None = None


class QueueQuery(In):
    status: Annotated[str, StringConstraints(pattern=STATES_PATTERN)] | None = Field(
        None, description="comma-separated states, or all (default: the open ones)"
    )
    overdue: QueryBool | None = Field(None, description="only (or no) overdue ones")
    district: Code6 | None = Field(None, description="the commission may pick a district")
    limit: query_int(1, service.QUEUE_MAX) = Field(  # type: ignore[valid-type]
        100, description=f"at most {service.QUEUE_MAX} (default 100)"
    )


class NoteOut(Out):
    at: TimeOut
    text: str
    visibility: str
    by: str = Field(description="the office that wrote it")
    author: str | None = Field(None, description="staff id; not shown to citizens")


class TransitionOut(Out):
    at: TimeOut
    before: str | None = Field(alias="from")
    to: str
    by: str = Field(description="the office (or the citizen, or the automatic check)")
    actor: str | None = Field(None, description="staff or member id; not shown to citizens")
    why: str | None


class AppealOut(Out):
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
    filed_at: TimeOut
    due_at: TimeOut
    overdue: bool
    decided_at: TimeOut | None
    outcome_note: str | None
    notes: list[NoteOut]
    transitions: list[TransitionOut]
    actions: list[str] = Field(description="what the caller may do with the appeal now")


class AppealsOut(Out):
    appeals: list[AppealOut]


# --- views ------------------------------------------------------------------------------


def _office(role: str, district: str) -> str:
    return {
        "staff": f"district {district}",
        "commission": "city health commission",
        "system": "automatic check",
        "citizen": "citizen",
    }.get(role, role)


def appeal_body(dossier: service.Dossier, viewer: Actor, at: datetime) -> AppealOut:
    """The appeal as ``viewer`` may see it: a citizen sees offices, never an officer's name,
    and only the notes meant for them."""
    a = dossier.appeal
    citizen = viewer.role == "citizen"
    return AppealOut(
        appeal_id=a.appeal_id,
        person_ref=a.person_ref,
        status=a.state.value,
        category=a.category,
        description=a.description,
        disputed_event_id=a.disputed_event_id,
        evidence=dict(a.evidence),
        district=a.district,
        handled_by=_office(
            "commission" if a.state is AppealState.ESCALATED else "staff", a.district
        ),
        claimed_by=None if citizen else a.claimed_by,
        filed_at=a.filed_at,
        due_at=a.due_at,
        overdue=is_overdue(a.due_at, at, a.state),
        decided_at=a.decided_at,
        outcome_note=a.outcome_note,
        notes=[
            NoteOut(
                at=n.at,
                text=n.text,
                visibility=n.visibility,
                by=_office(n.author_role, a.district),
                author=None if citizen else n.author_sub,
            )
            for n in dossier.notes
            if not citizen or n.visibility == "citizen"
        ],
        transitions=[
            TransitionOut.model_validate(
                {
                    "at": t.at,
                    "from": t.from_state,
                    "to": t.to_state,
                    "by": _office(t.actor_role, a.district),
                    "actor": None if citizen else t.actor_sub,
                    # A citizen reads the why of decisions; internal reasoning stays inside.
                    "why": t.why if not citizen or AppealState(t.to_state) in TERMINAL else None,
                }
            )
            for t in dossier.transitions
        ],
        actions=allowed_actions(
            a.state,
            viewer,
            appeal_district=a.district,
            appeal_person_ref=a.person_ref,
            claimed_by=a.claimed_by,
        ),
    )


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
            t(
                "You cannot {verb} this appeal now: {why}. Reload it to see where it stands.",
                verb=_VERBS[action],
                why=exc.detail,
            ),
        ) from None
    except AppealForbidden as exc:
        raise Problem(
            403, t("You may not {verb} this appeal: {why}.", verb=_VERBS[action], why=exc.detail)
        ) from None
    except AppealError as exc:  # pragma: no cover - every subclass is mapped above
        raise Problem(409, exc.detail) from None


async def _answer(request: web.Request, appeal: service.Appeal) -> AppealOut:
    actor = service.actor_of(principal(request))
    async with connection(request) as conn:
        (dossier,) = await service.dossiers(conn, [appeal])
    return appeal_body(dossier, actor, now(request))


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
    errors=(404, 409, 429),
    idempotent=True,
)
async def file_appeal(request: web.Request, body: AppealIn) -> AppealOut:
    person = await person_for(request, principal(request).sub)
    settings = request.app[SETTINGS]
    filing = service.Filing(
        body.category, body.description, body.disputed_event_id, body.evidence or {}
    )
    with answering("file"):
        async with connection(request) as conn:
            appeal = await service.file(
                conn,
                person,
                filing,
                now=now(request),
                policy=service.policy(settings),
                rules=settings.rules,
            )
    return await _answer(request, appeal)


@routes.route(
    "GET",
    "/v1/me/appeals",
    summary="My appeals, newest first: state, office, notes for me, outcome",
    roles=("citizen",),
    response=AppealsOut,
    errors=(404,),
)
async def my_appeals(request: web.Request) -> AppealsOut:
    person = await person_for(request, principal(request).sub)
    actor = service.actor_of(principal(request))
    async with request.app[POOL].acquire() as conn:
        found = await service.of_person(conn, person.person_id)
    at = now(request)
    return AppealsOut(appeals=[appeal_body(d, actor, at) for d in found])


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/withdraw",
    summary="Withdraw my appeal before it is decided",
    roles=("citizen",),
    response=AppealOut,
    path_params=AppealPath,
    errors=(404, 409),
)
async def withdraw(request: web.Request, path: AppealPath) -> AppealOut:
    actor = service.actor_of(principal(request))
    with answering("withdraw"):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.withdraw(conn, path.appeal_id, actor, now(request), None)
    return await _answer(request, appeal)


# --- one appeal, and the queue ----------------------------------------------------------


@routes.route(
    "GET",
    "/v1/appeals/{appeal_id}",
    summary="One appeal with its notes, transitions and outcome",
    roles=("citizen", "staff", "commission"),
    response=AppealOut,
    path_params=AppealPath,
    errors=(404,),
)
async def get_appeal(request: web.Request, path: AppealPath) -> AppealOut:
    actor = service.actor_of(principal(request))
    with answering("view"):
        async with request.app[POOL].acquire() as conn:
            dossier = await service.get(conn, path.appeal_id, actor, now(request))
    return appeal_body(dossier, actor, now(request))


def _states(status: str | None) -> frozenset[AppealState]:
    if status is None:
        return OPEN
    names = status.split(",")
    return frozenset(AppealState) if "all" in names else frozenset(map(AppealState, names))


@routes.route(
    "GET",
    "/v1/appeals",
    summary="The queue: overdue first, then by due time (staff: their district only)",
    roles=("staff", "commission"),
    response=AppealsOut,
    query=QueueQuery,
    errors=(404,),
)
async def list_appeals(request: web.Request, query: QueueQuery) -> AppealsOut:
    actor = service.actor_of(principal(request))
    wanted = service.QueueQuery(_states(query.status), query.overdue, query.district, query.limit)
    at = now(request)
    with answering("view"):
        async with request.app[POOL].acquire() as conn:
            found = await service.queue(conn, actor, wanted, at)
            dossiers = await service.dossiers(conn, found)
    return AppealsOut(appeals=[appeal_body(d, actor, at) for d in dossiers])


# --- working an appeal ------------------------------------------------------------------


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/claim",
    summary="Take the appeal into review; a second claim gets 409",
    roles=("staff", "commission"),
    response=AppealOut,
    path_params=AppealPath,
    errors=(404, 409),
)
async def claim(request: web.Request, path: AppealPath) -> AppealOut:
    actor = service.actor_of(principal(request))
    with answering("claim"):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.claim(conn, path.appeal_id, actor, now(request))
    return await _answer(request, appeal)


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/notes",
    summary="Add a verification note, internal or for the citizen",
    roles=("staff", "commission"),
    body=NoteIn,
    response=AppealOut,
    status=201,
    path_params=AppealPath,
    errors=(404, 409),
    idempotent=True,
)
async def add_note(request: web.Request, path: AppealPath, body: NoteIn) -> AppealOut:
    actor = service.actor_of(principal(request))
    with answering("note"):
        async with connection(request) as conn:
            appeal = await service.add_note(
                conn, path.appeal_id, actor, now(request), body.text, body.visibility
            )
    return await _answer(request, appeal)


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/escalate",
    summary="Pass the appeal to the commission, saying why",
    roles=("staff", "commission"),
    body=EscalateIn,
    response=AppealOut,
    path_params=AppealPath,
    errors=(404, 409),
)
async def escalate(request: web.Request, path: AppealPath, body: EscalateIn) -> AppealOut:
    actor = service.actor_of(principal(request))
    with answering("escalate"):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.escalate(conn, path.appeal_id, actor, now(request), body.note)
    return await _answer(request, appeal)


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/resolve",
    summary="Decide: corrected (void and add events; status and history recomputed at once) "
    "or upheld (with an explanation for the citizen)",
    roles=("staff", "commission"),
    body=ResolveIn,
    response=AppealOut,
    path_params=AppealPath,
    errors=(404, 409),
)
async def resolve(request: web.Request, path: AppealPath, body: ResolveIn) -> AppealOut:
    actor = service.actor_of(principal(request))
    fixes = body.corrections or CorrectionsIn()
    action = "correct" if body.outcome == "corrected" else "uphold"
    with answering(action):
        async with request.app[POOL].acquire() as conn:
            appeal = await service.resolve(
                conn,
                path.appeal_id,
                actor,
                outcome=body.outcome,
                note=body.note,
                corrections=service.Corrections(fixes.void, fixes.add),
                now=now(request),
                rules=request.app[SETTINGS].rules,
            )
    return await _answer(request, appeal)
