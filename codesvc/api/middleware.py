"""Every request: a request id, problem+json for every error, metrics and a log line."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from codesvc.api import console_paths
from codesvc.api.keys import METRICS, POOLS
from codesvc.api.problems import Problem, from_http_exception, unavailable
from codesvc.api.routing import LEAN
from codesvc.db import RECONNECT, UNAVAILABLE
from codesvc.logs import request_id
from codesvc.messages import language, t

log = logging.getLogger("codesvc.http")

#: Request ids: unique per process start, then a counter (cheaper than random per request).
_PREFIX = secrets.token_hex(4) + "-"
_SEQUENCE = itertools.count(1)
#: What a caller's own request id may look like.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,64}")

#: Requests slower than this are logged at INFO; the rest at DEBUG, to keep busy doors quiet.
SLOW_SECONDS = 0.25


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request passes here: keep it to plain operations. Door scans (a lean route)
    pass straight through; they keep their own counters and answer their own errors."""
    if handler in LEAN:
        return await handler(request)
    rid = request_id_of(request)
    token = request_id.set(rid)
    started = time.perf_counter()
    try:
        try:
            response = await handler(request)
        except Exception as exc:  # every error becomes a problem; only redirects pass
            if isinstance(exc, RECONNECT):
                await find_primary(request.app)
            response = problem_for(request, exc, rid)
        response.headers["X-Request-Id"] = rid
        observed(request, response.status, time.perf_counter() - started, rid)
        return response
    finally:
        request_id.reset(token)


async def find_primary(app: web.Application) -> None:
    """A connection met a demoted server or broke unnoticed: replace every pooled one, so
    the next ones are opened through the multi-host URL to whichever is the primary now."""
    for pool in app.get(POOLS, ()):
        await pool.expire_connections()


def request_id_of(request: web.Request) -> str:
    """The caller's X-Request-Id if it is a plain token (it is echoed in a header and the
    log), or a new one unique to this process's life."""
    given = request.headers.get("X-Request-Id", "")
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return f"{_PREFIX}{next(_SEQUENCE):x}"


def problem_for(request: web.Request, exc: Exception, rid: str) -> web.StreamResponse:
    """Any error as a problem+json answer (a database outage a 503, a bug a logged 500),
    in the reader's language."""
    lang = language(request.headers.get("Accept-Language"))
    if isinstance(exc, Problem):
        return exc.response(request.path, rid, lang)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        page = console_paths.without_slash(request.path) if exc.status == 404 else None
        if page is not None and request.method in ("GET", "HEAD"):
            # /staff/ typed for /staff: where the person meant to go, not a 404.
            there = request.rel_url.with_path(page).with_query(request.rel_url.query_string)
            return web.Response(status=308, headers={"Location": str(there)})
        return from_http_exception(exc, request.path).response(request.path, rid, lang)
    if isinstance(exc, UNAVAILABLE):
        log.warning("database unavailable: %s", exc)
        return unavailable(
            t("The database is unavailable right now; nothing was changed. Try again shortly.")
        ).response(request.path, rid, lang)
    log.error("unexpected error answering %s %s", request.method, request.path, exc_info=exc)
    return Problem(
        500, t("Something went wrong on our side; quote request id {rid} when reporting it.",
               rid=rid)
    ).response(request.path, rid, lang)  # fmt: skip


def observed(request: web.Request, status: int, elapsed: float, rid: str) -> None:
    """Count the request and log it: slow or refused at INFO, failed at WARNING."""
    info = request.match_info.route.resource
    route = info.canonical if info is not None else "unmatched"
    request.app[METRICS].observe_request(request.method, route, status, elapsed)
    if status >= 500:
        level = logging.WARNING
    elif status >= 400 or elapsed > SLOW_SECONDS:
        level = logging.INFO
    else:
        level = logging.DEBUG
    if log.isEnabledFor(level):
        log.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "route": route,
                "request_id": rid,
            },
        )
