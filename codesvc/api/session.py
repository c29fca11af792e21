"""Staff and commission sign in: ``/v1/session`` and the session cookie.

A request that carries the ``codesvc_session`` cookie (and no bearer token) becomes the
same ``Principal`` a bearer token with that role, sub and district would
(``Authenticator.identify``), so every route decides exactly as it does for tokens. A
cookie-authenticated request that changes anything must also carry ``X-CSRF-Token``.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import Field, StringConstraints

from codesvc.api.clock import now
from codesvc.api.keys import POOL, SETTINGS
from codesvc.api.problems import Problem, too_many
from codesvc.api.routing import Reply, Routes
from codesvc.api.secrets import TOTP_SEAL
from codesvc.messages import t
from codesvc.schemas.fields import In, Out, TimeOut
from codesvc.service import sessions
from codesvc.tokens import Principal

log = logging.getLogger("codesvc.session")
routes = Routes("session")

COOKIE = "codesvc_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Per request: the session it was authenticated by (absent for bearer tokens).
SESSION = web.RequestKey("session", tuple[str, sessions.Session])

#: Why a session cookie no longer signs anyone in, by `sessions.why_ended`'s answer.
ENDED = {
    "signed_out": t("You signed out of this session; sign in again."),
    "disabled": t("Your account was disabled, which ended this session; ask your administrator."),
    "reset": t("Your account's password was reset, which ended this session; sign in again."),
    "idle": t("Your session ended after 30 minutes without activity; sign in again."),
    "expired": t("Your session reached its 12 hours and ended; sign in again."),
    "unknown": t("This session is not known (it may have ended); sign in again."),
}


class SignInIn(In):
    sub: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")] = Field(
        description="the account name given by `codesvc staff add`"
    )
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    otp: Annotated[str, StringConstraints(max_length=16)] | None = Field(
        None, description="the current 6-digit code of the authenticator app (commission)"
    )


class SessionOut(Out):
    sub: str
    role: str
    district: str | None
    name: str
    csrf_token: str = Field(description="send as X-CSRF-Token with every change")
    expires_at: TimeOut = Field(description="the session ends at the latest then (12 hours)")
    idle_expires_at: TimeOut = Field(description="it ends then unless another request comes")
    idle_timeout_seconds: int


def _body(session_id: str, session: sessions.Session) -> SessionOut:
    return SessionOut(
        sub=session.sub,
        role=session.role,
        district=session.district,
        name=session.name,
        csrf_token=sessions.csrf_token(session_id),
        expires_at=session.expires_at,
        idle_expires_at=session.ends_at,
        idle_timeout_seconds=int(sessions.IDLE.total_seconds()),
    )


def _secure(request: web.Request) -> bool:
    """Secure cookies over https; plain http (a local run, a test) would never send them."""
    if request.app[SETTINGS].cookie_secure == "always":
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


async def from_cookie(request: web.Request, session_id: str) -> Principal:
    """The principal of a session cookie; 401 saying why when the session has ended, 403
    when a change comes without the session's CSRF token or from another origin."""
    at = now(request)
    if len(session_id) > 100:
        raise Problem(401, ENDED["unknown"], session_ended="unknown")
    async with request.app[POOL].acquire() as conn:
        session = await sessions.touch(conn, session_id, at)
        if session is None:
            why = await sessions.why_ended(conn, session_id, at)
            raise Problem(401, ENDED[why], session_ended=why)
    if request.method not in SAFE_METHODS:
        _check_csrf(request, session_id)
    request[SESSION] = (session_id, session)
    return Principal(session.role, session.sub, session.district, session.ends_at.timestamp())


def _check_origin(request: web.Request) -> None:
    """Refuse what a page of another site sent (the browser says so; scripts send neither)."""
    origin = request.headers.get("Origin")
    cross_site = request.headers.get("Sec-Fetch-Site") == "cross-site"
    if cross_site or (origin is not None and urlsplit(origin).netloc != request.host):
        raise Problem(403, t("Changes are accepted only from this service's own pages."))


def _check_csrf(request: web.Request, session_id: str) -> None:
    _check_origin(request)
    given = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(given.encode(), sessions.csrf_token(session_id).encode()):
        raise Problem(
            403,
            t(
                "A change made with a session needs the X-CSRF-Token header that sign-in "
                "returned; reload the page and try again."
            ),
        )


def _signed_in(request: web.Request) -> tuple[str, sessions.Session]:
    found = request.get(SESSION)
    if found is None:
        raise Problem(
            404, t("This request is authenticated by a bearer token, not by a session cookie.")
        )
    return found


@routes.route(
    "POST",
    "/v1/session",
    summary="Sign in (staff and commission): password, and the TOTP code for accounts that "
    "have one; sets the HttpOnly session cookie",
    roles=None,
    body=SignInIn,
    response=SessionOut,
    errors=(401, 403, 429),
)
async def sign_in(request: web.Request, body: SignInIn) -> Reply[SessionOut]:
    # A form on another site must not sign the browser in to an account of its choosing.
    _check_origin(request)
    at = now(request)
    async with request.app[POOL].acquire() as conn:
        result = await sessions.sign_in(
            conn,
            sub=body.sub,
            password=body.password,
            otp=body.otp,
            now=at,
            seal=request.app[TOTP_SEAL],
            remote=request.remote,
        )
    if isinstance(result, sessions.Refused):
        log.info("sign-in refused", extra={"account": body.sub, "why": result.why})
        if result.why == "locked" and result.retry_after is not None:
            minutes = max(1, round(result.retry_after.total_seconds() / 60))
            locked = t(
                "Too many failed sign-ins for this account in 15 minutes; try again in about "
                "{minutes} minute(s).",
                minutes=minutes,
            )
            raise too_many(locked, result.retry_after.total_seconds())
        if result.why == "otp":
            raise Problem(
                401,
                t(
                    "This account also needs the current 6-digit code from its authenticator "
                    "app (each code works once); enter it and try again."
                ),
                otp_required=True,
            )
        raise Problem(
            401, t("The account name or the password is wrong; check both and try again.")
        )
    session_id, secure = result.session_id, _secure(request)

    def set_cookie(response: web.Response) -> None:
        response.set_cookie(
            COOKIE, session_id, path="/", httponly=True, samesite="Strict", secure=secure
        )

    return Reply(_body(session_id, result.session), then=set_cookie)


@routes.route(
    "GET",
    "/v1/session",
    summary="The current session (cookie): who, until when, and its CSRF token",
    roles=("staff", "commission"),
    response=SessionOut,
    errors=(404,),
)
async def current(request: web.Request) -> SessionOut:
    session_id, session = _signed_in(request)
    return _body(session_id, session)


@routes.route(
    "DELETE",
    "/v1/session",
    summary="Sign out: the session ends now and the cookie is cleared",
    roles=("staff", "commission"),
    status=204,
    errors=(404,),
)
async def sign_out(request: web.Request) -> web.Response:
    session_id, session = _signed_in(request)
    async with request.app[POOL].acquire() as conn:
        await sessions.sign_out(conn, session_id, session, now(request))
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/", secure=_secure(request), samesite="Strict")
    return response
