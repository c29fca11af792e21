"""Manual colours over HTTP: one commission member proposes, a different one approves."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Annotated, Literal, cast

from aiohttp import web
from pydantic import Field, StringConstraints

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.idempotency import connection
from codesvc.api.keys import METRICS, POOL, SETTINGS, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Routes
from codesvc.messages import t
from codesvc.schemas.fields import IDENT, Color, In, Out, PersonRef, Text, Time, TimeOut
from codesvc.service import overrides as service
from codesvc.state.colors import Color as Colour

routes = Routes("overrides")
log = logging.getLogger("codesvc.overrides")


class OverridePath(In):
    override_id: Annotated[str, StringConstraints(pattern=IDENT)] = Field(
        description="the proposal's id, o_..."
    )


class OverrideIn(In):
    person_ref: PersonRef
    color: Color
    reason: Text = Field(description="why; shown to the citizen and to the member who approves")
    until: Time | None = Field(
        None, description="when it ends, in the future; open-ended if absent"
    )


OverrideState = Literal["proposed", "approved", "rejected"]


class OverrideQuery(In):
    status: OverrideState | None = None
    person_ref: PersonRef | None = Field(None, description="only this person's")


class OverrideOut(Out):
    override_id: str
    person_ref: str
    color: Color
    reason: str
    until: TimeOut | None
    status: OverrideState
    proposed_by: str
    proposed_at: TimeOut
    approved_by: str | None
    approved_at: TimeOut | None
    event_id: str | None
    rejected_by: str | None = None
    rejected_at: TimeOut | None = None
    rejection_reason: str | None = None

    @classmethod
    def of(cls, p: service.Proposal) -> OverrideOut:
        return cls(
            override_id=p.override_id,
            person_ref=p.person_ref,
            color=p.color.value,
            reason=p.reason,
            until=p.until,
            status=cast(OverrideState, p.status),
            proposed_by=p.proposed_by,
            proposed_at=p.proposed_at,
            approved_by=p.approved_by,
            approved_at=p.approved_at,
            event_id=p.event_id,
            rejected_by=p.rejected_by,
            rejected_at=p.rejected_at,
            rejection_reason=p.rejection_reason,
        )


class OverridesOut(Out):
    overrides: list[OverrideOut]


@routes.route(
    "POST",
    "/v1/overrides",
    summary="Propose a manual colour for a person; it takes effect only when a different "
    "commission member approves it",
    roles=("commission",),
    body=OverrideIn,
    response=OverrideOut,
    status=201,
    errors=(404,),
    idempotent=True,
)
async def propose(request: web.Request, body: OverrideIn) -> OverrideOut:
    at = now(request)
    if body.until is not None and body.until <= at:
        raise Problem(
            422,
            t("until must be in the future; leave it out for an open-ended override."),
            errors={"until": t("not in the future")},
        )
    person = await person_for(request, body.person_ref)
    member = principal(request)
    async with connection(request) as conn:
        proposal, recent = await service.propose(
            conn, person, Colour(body.color), body.reason, body.until, member, at
        )
    _watch(request, member.sub, recent)
    return OverrideOut.of(proposal)


@contextlib.contextmanager
def answering() -> Iterator[None]:
    """A refused decision on a proposal as the problem the caller can act on."""
    try:
        yield
    except service.OverrideNotFound as exc:
        raise Problem(404, exc.detail) from None
    except service.OverrideForbidden as exc:
        raise Problem(403, exc.detail) from None
    except service.OverrideConflict as exc:
        raise Problem(409, exc.detail) from None


def _watch(request: web.Request, member: str, recent: int) -> None:
    """Raise the alarm when one member proposes more overrides in an hour than allowed."""
    metrics = request.app[METRICS]
    metrics.overrides_proposed.inc()
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
    path_params=OverridePath,
    errors=(404, 409),
)
async def approve(request: web.Request, path: OverridePath) -> OverrideOut:
    settings = request.app[SETTINGS]
    with answering():
        async with request.app[POOL].acquire() as conn:
            approved = await service.approve(
                conn,
                path.override_id,
                principal(request),
                now(request),
                settings.rules,
                settings.override_office,
            )
    return OverrideOut.of(approved)


class RejectIn(In):
    reason: Text = Field(description="why; kept on the proposal and in the audit log")


@routes.route(
    "POST",
    "/v1/overrides/{override_id}/reject",
    summary="Turn a proposal down with a reason (not one's own); nothing changes for the person",
    roles=("commission",),
    body=RejectIn,
    response=OverrideOut,
    path_params=OverridePath,
    errors=(404, 409),
)
async def reject(request: web.Request, path: OverridePath, body: RejectIn) -> OverrideOut:
    with answering():
        async with request.app[POOL].acquire() as conn:
            rejected = await service.reject(
                conn, path.override_id, principal(request), now(request), body.reason
            )
    return OverrideOut.of(rejected)


@routes.route(
    "GET",
    "/v1/overrides",
    summary="Override proposals, newest first: those awaiting approval, and those in force",
    roles=("commission",),
    response=OverridesOut,
    query=OverrideQuery,
)
async def list_overrides(request: web.Request, query: OverrideQuery) -> OverridesOut:
    async with request.app[POOL].acquire() as conn:
        found = await service.listing(conn, query.status, query.person_ref, 200)
    return OverridesOut(overrides=[OverrideOut.of(p) for p in found])
