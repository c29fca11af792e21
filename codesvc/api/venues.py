"""Venues: the commission revokes (or reinstates) every token of a venue, in every instance."""

from __future__ import annotations

from typing import Annotated

import pydantic
from aiohttp import web
from pydantic import StringConstraints

from codesvc.api.clock import now
from codesvc.api.keys import AUTHENTICATOR, POOL, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Param, Routes, json_response, parse_body
from codesvc.api.schemas import Strict
from codesvc.service import venues
from codesvc.state.events import format_time

routes = Routes("venues")

VENUE = Param("venue_id", "path", required=True, description="the venue: a scanner token's sub")


class RevokeIn(Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


class VenueOut(pydantic.BaseModel):
    venue: str
    revoked: bool
    revoked_at: str | None = None


@routes.route(
    "POST",
    "/v1/venues/{venue_id}/revoke",
    summary="Refuse every token of a venue from now on, in every instance",
    roles=("commission",),
    body=RevokeIn,
    response=VenueOut,
    params=(VENUE,),
    errors=(422,),
)
async def revoke(request: web.Request) -> web.Response:
    venue = request.match_info["venue_id"]
    body = await parse_body(request, RevokeIn)
    async with request.app[POOL].acquire() as conn:
        revoked_at = await venues.revoke_venue(
            conn, venue, principal(request), body.reason, now(request)
        )
    # At once here; the other instances hear of it by NOTIFY within milliseconds.
    request.app[AUTHENTICATOR].revoke("scanner", venue)
    return json_response({"venue": venue, "revoked": True, "revoked_at": format_time(revoked_at)})


class RevocationOut(pydantic.BaseModel):
    venue: str
    revoked_at: str
    revoked_by: str
    reason: str


class RevocationsOut(pydantic.BaseModel):
    revoked: list[RevocationOut]


@routes.route(
    "GET",
    "/v1/venues",
    summary="The venues whose tokens are refused, with who revoked them, when and why",
    roles=("commission",),
    response=RevocationsOut,
)
async def revoked(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        rows = await venues.revocations(conn)
    return json_response(
        {
            "revoked": [
                {
                    "venue": r["venue"],
                    "revoked_at": format_time(r["revoked_at"]),
                    "revoked_by": r["revoked_by"],
                    "reason": r["reason"],
                }
                for r in rows
            ]
        }
    )


@routes.route(
    "POST",
    "/v1/venues/{venue_id}/reinstate",
    summary="Accept a revoked venue's tokens again",
    roles=("commission",),
    response=VenueOut,
    params=(VENUE,),
    errors=(404,),
)
async def reinstate(request: web.Request) -> web.Response:
    venue = request.match_info["venue_id"]
    async with request.app[POOL].acquire() as conn:
        if not await venues.reinstate_venue(conn, venue, principal(request), now(request)):
            raise Problem(404, f"Venue {venue} is not revoked; there is nothing to reinstate.")
    request.app[AUTHENTICATOR].reinstate("scanner", venue)
    return json_response({"venue": venue, "revoked": False, "revoked_at": None})
