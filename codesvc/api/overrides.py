"""Manual colours over HTTP: one commission member proposes, a different one approves."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.keys import METRICS, POOL, SETTINGS, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Param, Routes, json_response, parse_body
from codesvc.api.schemas import Strict
from codesvc.service import overrides as service
from codesvc.state.colors import Color
from codesvc.state.events import MAX_TEXT, format_time

routes = Routes("overrides")
log = logging.getLogger("codesvc.overrides")

OVERRIDE_ID = Param("override_id", "path", description="the proposal's id, o_...")


class OverrideIn(Strict):
    person_ref: str
    color: Literal["green", "yellow", "red"]
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)
    ] = Field(description="why; shown to the citizen and to the member who approves")
    until: AwareDatetime | None = Field(None, description="when it ends; open-ended if absent")


class OverrideOut(BaseModel):
    override_id: str
    person_ref: str
    color: str
    reason: str
    until: str | None
    status: Literal["proposed", "approved", "rejected"]
    proposed_by: str
    proposed_at: str
    approved_by: str | None
    approved_at: str | None
    event_id: str | None
    rejected_by: str | None = None
    rejected_at: str | None = None
    rejection_reason: str | None = None


class OverridesOut(BaseModel):
    overrides: list[OverrideOut]


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _body(p: service.Proposal) -> dict[str, object]:
    return {
        "override_id": p.override_id,
        "person_ref": p.person_ref,
        "color": p.color.value,
        "reason": p.reason,
        "until": _t(p.until),
        "status": p.status,
        "proposed_by": p.proposed_by,
        "proposed_at": format_time(p.proposed_at),
        "approved_by": p.approved_by,
        "approved_at": _t(p.approved_at),
        "event_id": p.event_id,
        "rejected_by": p.rejected_by,
        "rejected_at": _t(p.rejected_at),
        "rejection_reason": p.rejection_reason,
    }


@routes.route(
    "POST",
    "/v1/overrides",
    summary="Propose a manual colour for a person; it takes effect only when a different "
    "commission member approves it",
    roles=("commission",),
    body=OverrideIn,
    response=OverrideOut,
    status=201,
    errors=(404, 422),
)
async def propose(request: web.Request) -> web.Response:
    body = await parse_body(request, OverrideIn)
    at = now(request)
    if body.until is not None and body.until <= at:
        raise Problem(
            422,
            "until must be in the future; leave it out for an open-ended override.",
            errors={"until": "not in the future"},
        )
    person = await person_for(request, body.person_ref)
    member = principal(request)
    async with request.app[POOL].acquire() as conn:
        proposal, recent = await service.propose(
            conn, person, Color(body.color), body.reason, body.until, member, at
        )
    _watch(request, member.sub, recent)
    return json_response(_body(proposal), 201)


def _watch(request: web.Request, member: str, recent: int) -> None:
    """Raise the alarm when one member proposes more overrides in an hour than allowed."""
    metrics = request.app[METRICS]
    metrics.overrides_proposed.labels(member).inc()
    limit = request.app[SETTINGS].override_alarm_per_hour
    if recent > limit:
        metrics.override_alarms.inc()
        log.warning(
            "override alarm: %s proposed %d overrides in the last hour (limit %d)",
            member,
            recent,
            limit,
            extra={"alarm": "override_rate", "member": member, "proposed": recent, "limit": limit},
        )


@routes.route(
    "POST",
    "/v1/overrides/{override_id}/approve",
    summary="Approve a proposal (not one's own): the colour is set at once, with the reason "
    "and office shown to the citizen",
    roles=("commission",),
    response=OverrideOut,
    params=(OVERRIDE_ID,),
    errors=(403, 404, 409),
)
async def approve(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    try:
        async with request.app[POOL].acquire() as conn:
            approved = await service.approve(
                conn,
                request.match_info["override_id"],
                principal(request),
                now(request),
                settings.rules,
                settings.override_office,
            )
    except service.OverrideNotFound as exc:
        raise Problem(404, exc.detail) from None
    except service.OverrideForbidden as exc:
        raise Problem(403, exc.detail) from None
    except service.OverrideConflict as exc:
        raise Problem(409, exc.detail) from None
    return json_response(_body(approved))


class RejectIn(Strict):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)
    ] = Field(description="why; kept on the proposal and in the audit log")


@routes.route(
    "POST",
    "/v1/overrides/{override_id}/reject",
    summary="Turn a proposal down with a reason (not one's own); nothing changes for the person",
    roles=("commission",),
    body=RejectIn,
    response=OverrideOut,
    params=(OVERRIDE_ID,),
    errors=(403, 404, 409, 422),
)
async def reject(request: web.Request) -> web.Response:
    body = await parse_body(request, RejectIn)
    try:
        async with request.app[POOL].acquire() as conn:
            rejected = await service.reject(
                conn,
                request.match_info["override_id"],
                principal(request),
                now(request),
                body.reason,
            )
    except service.OverrideNotFound as exc:
        raise Problem(404, exc.detail) from None
    except service.OverrideForbidden as exc:
        raise Problem(403, exc.detail) from None
    except service.OverrideConflict as exc:
        raise Problem(409, exc.detail) from None
    return json_response(_body(rejected))


@routes.route(
    "GET",
    "/v1/overrides",
    summary="Override proposals, newest first: those awaiting approval, and those in force",
    roles=("commission",),
    response=OverridesOut,
    params=(
        Param("status", description="proposed, approved or rejected"),
        Param("person_ref", description="only this person's"),
    ),
    errors=(422,),
)
async def list_overrides(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status not in (None, "proposed", "approved", "rejected"):
        raise Problem(
            422,
            "status must be proposed, approved or rejected.",
            errors={"status": "proposed, approved or rejected"},
        )
    async with request.app[POOL].acquire() as conn:
        found = await service.listing(conn, status, request.query.get("person_ref"), 200)
    return json_response({"overrides": [_body(p) for p in found]})
