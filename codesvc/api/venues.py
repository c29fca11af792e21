"""Venues: the commission revokes (or reinstates) every token of a venue, in every instance."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from codesvc.api.clock import now
from codesvc.api.keys import AUTHENTICATOR, POOL, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Routes
from codesvc.messages import t
from codesvc.schemas.fields import LINE, PROSE, In, Out, TimeOut
from codesvc.service import venues

routes = Routes("venues")


class VenuePath(In):
    venue_id: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=LINE)] = Field(
        description="the venue: a scanner token's sub"
    )


class RevokeIn(In):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=PROSE)]


class VenueOut(Out):
    venue: str
    revoked: bool
    revoked_at: TimeOut | None = None


@routes.route(
    "POST",
    "/v1/venues/{venue_id}/revoke",
    summary="Refuse every token of a venue from now on, in every instance",
    roles=("commission",),
    body=RevokeIn,
    response=VenueOut,
    path_params=VenuePath,
)
async def revoke(request: web.Request, path: VenuePath, body: RevokeIn) -> VenueOut:
    venue = path.venue_id
    async with request.app[POOL].acquire() as conn:
        revoked_at = await venues.revoke_venue(
            conn, venue, principal(request), body.reason, now(request)
        )
    # At once here; the other instances hear of it by NOTIFY within milliseconds.
    request.app[AUTHENTICATOR].revoke("scanner", venue)
    return VenueOut(venue=venue, revoked=True, revoked_at=revoked_at)


class RevocationOut(Out):
    venue: str
    revoked_at: TimeOut
    revoked_by: str
    reason: str


class RevocationsOut(Out):
    revoked: list[RevocationOut]


@routes.route(
    "GET",
    "/v1/venues",
    summary="The venues whose tokens are refused, with who revoked them, when and why",
    roles=("commission",),
    response=RevocationsOut,
)
async def revoked(request: web.Request) -> RevocationsOut:
    async with request.app[POOL].acquire() as conn:
        rows = await venues.revocations(conn)
    return RevocationsOut(
        revoked=[
            RevocationOut(
                venue=r["venue"],
                revoked_at=r["revoked_at"],
                revoked_by=r["revoked_by"],
                reason=r["reason"],
            )
            for r in rows
        ]
    )


@routes.route(
    "POST",
    "/v1/venues/{venue_id}/reinstate",
    summary="Accept a revoked venue's tokens again",
    roles=("commission",),
    response=VenueOut,
    path_params=VenuePath,
    errors=(404,),
)
async def reinstate(request: web.Request, path: VenuePath) -> VenueOut:
    venue = path.venue_id
    async with request.app[POOL].acquire() as conn:
        if not await venues.reinstate_venue(conn, venue, principal(request), now(request)):
            raise Problem(
                404,
                t("Venue {venue} is not revoked; there is nothing to reinstate.", venue=venue),
            )
    request.app[AUTHENTICATOR].reinstate("scanner", venue)
    return VenueOut(venue=venue, revoked=False, revoked_at=None)
