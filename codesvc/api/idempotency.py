"""The ``Idempotency-Key`` request header, as the IETF httpapi draft gives it its meaning.

A creating request sent again after its answer was lost (a failover, a dropped
connection) must not create twice. A route declared ``idempotent`` takes the header: the
same key, from the same caller, with the same request (method, path, query, and the body
read as JSON) is answered the first answer again, status and body, marked
``Idempotent-Replayed: true``; the same key with a different request is refused with 422
and changes nothing; a request without the key is served as before. Only a successful
answer is kept: a refused request changed nothing, so its retry is simply tried again.
The key, its caller, the request's fingerprint and the answer are stored in the
transaction that makes the change (`codesvc.service.idempotency`), for `RETENTION`.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import orjson
from aiohttp import web

from codesvc.api.clock import now
from codesvc.api.keys import POOL, principal
from codesvc.api.problems import Problem
from codesvc.messages import t
from codesvc.service import idempotency as store
from codesvc.service.idempotency import RETENTION

HEADER = "Idempotency-Key"
#: On a replayed answer, so a client can tell it from a fresh one.
REPLAYED = "Idempotent-Replayed"
#: Printable ASCII, as a structured-field string may hold; at most 255 characters.
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_HOURS = f"{RETENTION.total_seconds() / 3600:g}"

#: Per request: the connection whose transaction claimed the request's key. Everything
#: the request reads or writes goes through it, so the change and the stored answer commit
#: together, and the request never holds two of the pool's connections at once.
TRANSACTION = web.RequestKey("transaction", asyncpg.Connection)


@contextlib.asynccontextmanager
async def connection(request: web.Request) -> AsyncIterator[asyncpg.Connection]:
    """The request's connection: its key's transaction if it has one, else one of the pool."""
    if TRANSACTION in request:
        yield request[TRANSACTION]
        return
    async with request.app[POOL].acquire() as conn:
        yield conn


def key_of(request: web.Request) -> str | None:
    """The request's key (the draft's quoted string, or bare); None without one; 400 if
    it cannot be one."""
    given = request.headers.getall(HEADER, [])
    if not given:
        return None
    value = given[0].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    if len(given) > 1 or not _KEY.fullmatch(value) or not value.strip():
        raise Problem(
            400,
            t(
                "Send one Idempotency-Key of 1 to 255 printable ASCII characters: a fresh "
                "random value (a UUID) for each new request, the same one on its retries."
            ),
            errors={HEADER: t("not a key")},
        )
    return value


def fingerprint(request: web.Request, body: bytes) -> bytes:
    """What makes two requests the same: the method, the path, the query and the body read
    as JSON (so the order of its fields, or its spacing, does not matter)."""
    read = orjson.loads(body) if body else None
    query = sorted(request.query.items())
    whole = orjson.dumps([request.method, request.path, query, read], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(whole).digest()


async def once(
    request: web.Request, key: str, serve: Callable[[], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Serve the request under ``key``: its first answer again if it was answered, else
    ``serve`` it in a transaction that also stores its answer."""
    caller = principal(request)
    who = f"{caller.role}:{caller.sub}"
    mine = fingerprint(request, await request.read())
    async with request.app[POOL].acquire() as conn, conn.transaction():
        first = await store.claim(conn, who, key, mine, now(request))
        if first is not None:
            if first.fingerprint != mine:
                raise Problem(
                    422,
                    t(
                        "This Idempotency-Key was sent with a different request in the last "
                        "{hours} hours; nothing was done. Use a fresh key for a new request.",
                        hours=_HOURS,
                    ),
                    errors={HEADER: t("already used for another request")},
                )
            return web.Response(
                body=first.body,
                status=first.status,
                content_type="application/json",
                headers={REPLAYED: "true"},
            )
        request[TRANSACTION] = conn
        try:
            response = await serve()
        finally:
            del request[TRANSACTION]
        if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
            raise TypeError(f"{request.path} cannot be idempotent: its answer is not kept")
        await store.remember(conn, who, key, response.status, response.body)
    return response
