"""Routes declared once: who may call them, and the models of their path, query, body and answer.

The declaration is what runs: a route's body, query and path parameters are read into
the models it names before its handler is called, and its answer is serialized through
the response model it names. The OpenAPI document is generated from the same
declarations, so what it says is what is enforced and returned.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import pydantic
from aiohttp import web

from codesvc.api import idempotency
from codesvc.api.inputs import check_request, json_document
from codesvc.api.keys import AUTHENTICATOR, PRINCIPAL
from codesvc.api.problems import Problem
from codesvc.messages import t
from codesvc.schemas.errors import field_errors, summary

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: A declared handler: the request, then ``path=``, ``query=``, ``body=`` as declared.
Declared = Callable[..., Awaitable[Any]]
M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class Reply(Generic[M]):
    """An answer with a status or headers other than the route's usual."""

    model: M
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: compress the body when the client accepts it
    compress: bool = False
    #: anything else the answer needs (a cookie), done to the response before it is sent
    then: Callable[[web.Response], None] | None = None


@dataclass(frozen=True)
class Param:
    """A header a route reads, for the OpenAPI document (path and query come from models)."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    roles: tuple[str, ...] | None
    body: type[pydantic.BaseModel] | None = None
    response: type[pydantic.BaseModel] | None = None
    statuses: tuple[int, ...] = (200,)
    query: type[pydantic.BaseModel] | None = None
    path_params: type[pydantic.BaseModel] | None = None
    headers: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    content_types: tuple[str, ...] = ("application/json",)
    tag: str = "codesvc"
    #: takes an ``Idempotency-Key``: a retry is answered the first answer, not served again
    idempotent: bool = False

    @property
    def status(self) -> int:
        return self.statuses[0]

    def error_statuses(self) -> frozenset[int]:
        """Every status this operation answers with a problem."""
        codes = set(self.errors)
        if self.body is not None:
            codes |= {400, 413, 422}
        if self.query is not None or self.path_params is not None:
            codes.add(422)
        if self.roles is not None:
            codes |= {401, 403, 503}
        return frozenset(codes - set(self.statuses))

    async def read_body(self, request: web.Request) -> pydantic.BaseModel:
        assert self.body is not None
        return read_body(await request.read(), self.body)

    def answer(self, result: object) -> web.StreamResponse:
        """The handler's result as the declared response: through its model, or as is for a
        route that answers with something other than JSON."""
        if isinstance(result, web.StreamResponse):
            if self.response is not None:
                raise TypeError(f"{self.path} answers {self.response.__name__}, not a raw response")
            return result
        reply: Reply[Any] = (
            result if isinstance(result, Reply) else Reply(cast(pydantic.BaseModel, result))
        )
        status = reply.status or self.status
        if type(reply.model) is not self.response or status not in self.statuses:
            raise TypeError(
                f"{self.method} {self.path} declares {self.response} with {self.statuses}; "
                f"its handler answered {type(reply.model).__name__} with {status}"
            )
        response = web.Response(
            body=self.response.__pydantic_serializer__.to_json(reply.model),
            status=status,
            content_type="application/json",
            headers=reply.headers,
        )
        if reply.compress:
            response.enable_compression()
        if reply.then is not None:
            reply.then(response)
        return response


#: The header of every ``idempotent`` route.
IDEMPOTENCY_KEY = Param(
    idempotency.HEADER,
    description="optional: a fresh random value (a UUID) per request, the same on its "
    "retries; a retry with it is answered the first answer "
    f"(with {idempotency.REPLAYED}: true), the key with another request 422; "
    f"kept {idempotency.RETENTION.total_seconds() / 3600:g} hours per caller",
)


async def _served(
    op: Operation, handler: Declared, request: web.Request, inputs: dict[str, pydantic.BaseModel]
) -> web.StreamResponse:
    return op.answer(await handler(request, **inputs))


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
        status: int | Sequence[int] = 200,
        query: type[pydantic.BaseModel] | None = None,
        path_params: type[pydantic.BaseModel] | None = None,
        headers: Sequence[Param] = (),
        errors: Sequence[int] = (),
        content_type: str | Sequence[str] = "application/json",
        lean: bool = False,
        idempotent: bool = False,
    ) -> Callable[[Declared], Declared]:
        """Declare a route. ``roles=None`` is public; otherwise a bearer token or a
        session cookie is required.

        The handler is called as ``handler(request, path=..., query=..., body=...)`` with
        each declared model read; it returns the response model (or a `Reply` of it), or
        a raw response when the route declares no response model.

        A ``lean`` route (the door) is documented the same, but is called with the bare
        request: it authenticates, reads its body through its model, answers through its
        response model and counts by itself, and the general middleware lets it pass.

        An ``idempotent`` route (one that creates) takes an ``Idempotency-Key``: see
        `codesvc.api.idempotency`. Its handler reaches the database only through
        `idempotency.connection`, so its change and its stored answer commit together.
        """
        allowed = tuple(roles) if roles is not None else None
        statuses = (status,) if isinstance(status, int) else tuple(status)
        types = (content_type,) if isinstance(content_type, str) else tuple(content_type)
        if idempotent:
            headers = (*headers, IDEMPOTENCY_KEY)

        def wrap(handler: Declared) -> Declared:
            op: Operation

            @functools.wraps(handler)
            async def serve(request: web.Request) -> web.StreamResponse:
                if allowed is not None:
                    caller = await request.app[AUTHENTICATOR].identify(request)
                    if caller.role not in allowed:
                        raise Problem(
                            403,
                            t(
                                "A {role} may not call {method} {path}; it is for: {roles}.",
                                role=caller.role,
                                method=method,
                                path=path,
                                roles=", ".join(allowed),
                            ),
                        )
                    request[PRINCIPAL] = caller
                inputs: dict[str, pydantic.BaseModel] = {}
                check_request(
                    request.match_info if op.path_params is not None else {},
                    request.query if op.query is not None else {},
                )
                if op.path_params is not None:
                    inputs["path"] = read_params(request.match_info, op.path_params, "path")
                if op.query is not None:
                    inputs["query"] = read_query(request, op.query)
                if op.body is not None:
                    inputs["body"] = await op.read_body(request)
                if op.idempotent and (key := idempotency.key_of(request)) is not None:
                    return await idempotency.once(
                        request, key, lambda: _served(op, handler, request, inputs)
                    )
                return await _served(op, handler, request, inputs)

            if lean:
                LEAN.add(handler)
            op = Operation(
                method,
                path,
                handler if lean else serve,
                summary,
                allowed,
                body,
                response,
                statuses,
                query,
                path_params,
                tuple(headers),
                tuple(errors),
                types,
                self.tag,
                idempotent,
            )
            self.operations.append(op)
            return handler

        return wrap

    def install(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, op.handler)


#: Where parameters come from, in words.
_WHERE = {"query": t("query"), "path": t("path")}


def read_body(raw: bytes, model: type[M]) -> M:
    """A JSON body as ``model``: 400 if it is not JSON, 422 naming each bad field."""
    if not raw:
        raise Problem(400, t("The request needs a JSON body."))
    data = json_document(raw)
    if not isinstance(data, dict):
        raise Problem(
            422, t("The body must be a JSON object."), errors={"body": t("not an object")}
        )
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = field_errors(exc)
        raise Problem(
            422, t("Some fields are invalid — {fields}.", fields=summary(errors)), errors=errors
        ) from None


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string as ``model``; a parameter given twice is an error, not a guess."""
    query = request.query
    twice = sorted({name for name in query if len(query.getall(name)) > 1})
    if twice:
        raise Problem(
            422,
            t("Give each query parameter once: {names}.", names=", ".join(twice)),
            errors={name: t("given more than once") for name in twice},
        )
    return read_params(query, model, "query")


def read_params(values: Mapping[str, str], model: type[M], where: str) -> M:
    try:
        return model.model_validate(dict(values))
    except pydantic.ValidationError as exc:
        errors = field_errors(exc)
        raise Problem(
            422,
            t(
                "Some {where} parameters are invalid — {fields}.",
                where=where,
                fields=summary(errors),
            ),
            errors=errors,
        ) from None
