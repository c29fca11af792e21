"""Every request: a request id, problem+json for every error, metrics and a log line."""

from __future__ import annotations

import itertools
import logging
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from codesvc.api.keys import METRICS, REQUEST_ID
from codesvc.api.problems import Problem, from_http_exception, unavailable
from codesvc.db import UNAVAILABLE
from codesvc.logs import request_id

log = logging.getLogger("codesvc.http")

#: Request ids: unique per process start, then a counter (cheaper than random per request).
_PREFIX = secrets.token_hex(4) + "-"
_SEQUENCE = itertools.count(1)

#: Requests slower than this are logged at INFO; the rest at DEBUG, to keep busy doors quiet.
SLOW_SECONDS = 0.25


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.headers.get("X-Request-Id", "")[:64] or f"{_PREFIX}{next(_SEQUENCE):x}"
    request[REQUEST_ID] = rid
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await _answer(request, handler, rid)
        status = response.status
        response.headers["X-Request-Id"] = rid
        return response
    finally:
        elapsed = time.perf_counter() - started
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        request.app[METRICS].observe_request(request.method, route, status, elapsed)
        level = logging.INFO if (status >= 400 or elapsed > SLOW_SECONDS) else logging.DEBUG
        if status >= 500:
            level = logging.WARNING
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
        request_id.reset(token)


async def _answer(request: web.Request, handler: Handler, rid: str) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response(request.path, rid)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_exception(exc).response(request.path, rid)
    except UNAVAILABLE as exc:
        log.warning("database unavailable: %s", exc)
        return unavailable(
            "The database is unavailable right now; nothing was changed. Try again shortly."
        ).response(request.path, rid)
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return Problem(
            500,
            f"Something went wrong on our side; quote request id {rid} when reporting it.",
        ).response(request.path, rid)
