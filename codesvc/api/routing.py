"""Routes declared once: path, roles, request and response shapes feed auth and OpenAPI."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import orjson
import pydantic
from aiohttp import web

from codesvc.api.keys import AUTHENTICATOR, PRINCIPAL
from codesvc.api.problems import Problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class Param:
    """A path or query parameter, for the OpenAPI document."""

    name: str
    where: str = "query"
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    roles: tuple[str, ...] | None
    body: type[pydantic.BaseModel] | None = None
    response: type[pydantic.BaseModel] | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    content_type: str = "application/json"
    tag: str = "codesvc"


#: Handlers of lean routes, which the general middleware passes straight through.
LEAN: set[Handler] = set()


class Routes:
    """The operations of one module; ``install`` adds them to an application."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        roles: Sequence[str] | None,
        body: type[pydantic.BaseModel] | None = None,
        response: type[pydantic.BaseModel] | None = None,
        status: int = 200,
        params: Sequence[Param] = (),
        errors: Sequence[int] = (),
        content_type: str = "application/json",
        lean: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declare a route. ``roles=None`` is public; otherwise a bearer token or a
        session cookie is required.

        A ``lean`` route (the door) is documented the same, but does its own authentication,
        errors and counters, and the general middleware lets it pass untouched.
        """
        allowed = tuple(roles) if roles is not None else None

        def wrap(handler: Handler) -> Handler:
            if allowed is None or lean:
                guarded = handler
                if lean:
                    LEAN.add(handler)
            else:

                @functools.wraps(handler)
                async def guarded(request: web.Request) -> web.StreamResponse:
                    caller = await request.app[AUTHENTICATOR].identify(request)
                    if caller.role not in allowed:
                        raise Problem(
                            403,
                            f"A {caller.role} may not call {method} {path}; "
                            f"it is for: {', '.join(allowed)}.",
                        )
                    request[PRINCIPAL] = caller
                    return await handler(request)

            self.operations.append(
                Operation(
                    method,
                    path,
                    guarded,
                    summary,
                    allowed,
                    body,
                    response,
                    status,
                    tuple(params),
                    tuple(errors),
                    content_type,
                    self.tag,
                )
            )
            return guarded

        return wrap

    def install(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, op.handler)


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Read a JSON body into ``model``: 400 if it is not JSON, 422 naming each bad field."""
    raw = await request.read()
    if not raw:
        raise Problem(400, "The request needs a JSON body.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise Problem(422, "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = field_errors(exc)
        summary = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:3])
        raise Problem(422, f"Some fields are invalid — {summary}.", errors=errors) from None


def field_errors(exc: pydantic.ValidationError, prefix: str = "") -> dict[str, str]:
    """One message per field path, e.g. ``{"events.3.kind": "Field required"}``."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        errors.setdefault(prefix + path, message)
    return errors


def json_response(
    data: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def query_flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise Problem(
        422, f"Query parameter {name} must be true or false.", errors={name: "not a boolean"}
    )


#: The largest value of a PostgreSQL bigint: ids and cursors above it cannot exist.
BIGINT_MAX = 2**63 - 1


def whole_number(raw: str, low: int, high: int) -> int | None:
    """``raw`` as an integer in [low, high], or None: ASCII digits only (``int`` would
    also take "²" or "٣", and a database integer has limits)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(high)):
        return None
    value = int(raw)
    return value if low <= value <= high else None


@overload
def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int: ...
@overload
def query_int(
    request: web.Request, name: str, default: None, low: int, high: int
) -> int | None: ...
def query_int(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    """An integer query parameter in [low, high] (``default`` when absent), else 422."""
    raw = request.query.get(name)
    if raw is None:
        return default
    value = whole_number(raw, low, high)
    if value is None:
        raise Problem(
            422,
            f"{name} must be a whole number from {low} to {high}.",
            errors={name: f"{low} to {high}"},
        )
    return value
