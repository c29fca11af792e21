"""``GET /v1/whoami``: what the service makes of the caller's token."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from codesvc.api.keys import principal
from codesvc.api.routing import Routes
from codesvc.schemas.fields import Out, TimeOut
from codesvc.tokens import ROLES

routes = Routes("auth")


class WhoAmI(Out):
    role: str
    sub: str
    district: str | None
    expires_at: TimeOut


@routes.route(
    "GET",
    "/v1/whoami",
    summary="The caller as the service sees the token",
    roles=ROLES,
    response=WhoAmI,
)
async def whoami(request: web.Request) -> WhoAmI:
    caller = principal(request)
    expires = datetime.fromtimestamp(caller.expires_at, UTC)
    return WhoAmI(role=caller.role, sub=caller.sub, district=caller.district, expires_at=expires)
