"""The OpenAPI 3.1 document, generated from the declared routes and the models they run."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal, cast

import pydantic
from pydantic.json_schema import models_json_schema

from codesvc import __version__
from codesvc.api.routing import Operation

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong and what to do about it."},
        "instance": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "One message per invalid field, keyed by its path.",
        },
        "request_id": {"type": "string"},
    },
}

ERROR_TEXT = {
    400: "Malformed request",
    401: "No token, or a token that cannot be trusted",
    403: "The caller's role may not do this",
    404: "Not found (or not the caller's to see)",
    409: "Conflicts with the current state",
    413: "Body too large",
    422: "Invalid fields",
    429: "Too many requests; see Retry-After",
    503: "Database unavailable; see Retry-After",
}
#: Statuses whose answers carry a Retry-After header.
RETRY_AFTER = frozenset({429, 503})

REF = "#/components/schemas/{model}"
Mode = Literal["validation", "serialization"]


def document(operations: Iterable[Operation]) -> dict[str, Any]:
    ops = [op for op in operations if op.method != "HEAD"]
    refs, schemas = _schemas(ops)
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, schemas)
    schemas = _referenced(paths, {**schemas, "Problem": PROBLEM_SCHEMA})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "codesvc",
            "version": __version__,
            "description": "A city health code: colours from events, venue scans, appeals.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


Key = tuple[type[pydantic.BaseModel], Mode]


def _schemas(ops: list[Operation]) -> tuple[dict[Key, dict[str, Any]], dict[str, Any]]:
    """Every model's schema, generated together so that shared parts are named once."""
    keys: dict[Key, None] = {}
    for op in ops:
        for model in (op.body, op.query, op.path_params):
            if model is not None:
                keys[(model, "validation")] = None
        if op.response is not None:
            keys[(op.response, "serialization")] = None
    refs, top = models_json_schema(list(keys), ref_template=REF)
    return {cast(Key, key): ref for key, ref in refs.items()}, top.get("$defs", {})


def _referenced(root: object, schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas ``root`` refers to, directly or through each other (path and query models
    are spelled out as parameters, so theirs are left out)."""
    kept: dict[str, Any] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in kept:
                    kept[name] = schemas[name]
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return kept


def _inline(ref: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    name = ref["$ref"].rsplit("/", 1)[-1]
    return dict(schemas[name])


def _parameters(
    model: type[pydantic.BaseModel], where: str, refs: dict[Key, Any], schemas: dict[str, Any]
) -> list[dict[str, Any]]:
    schema = _inline(refs[(model, "validation")], schemas)
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.get("description", "")
        prop = {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
        # An absent parameter is how a query says null.
        branches = [b for b in prop.pop("anyOf", ()) if b != {"type": "null"}]
        if len(branches) == 1:
            prop.update(branches[0])
        elif branches:
            prop["anyOf"] = branches
        parameters.append(
            {
                "name": name,
                "in": where,
                "required": where == "path" or name in required,
                "schema": prop,
                "description": description,
            }
        )
    return parameters


def _operation(op: Operation, refs: dict[Key, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.handler.__name__,
        "tags": [op.tag],
    }
    parameters: list[dict[str, Any]] = []
    if op.path_params is not None:
        parameters += _parameters(op.path_params, "path", refs, schemas)
    else:
        parameters += [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", op.path)
        ]
    if op.query is not None:
        parameters += _parameters(op.query, "query", refs, schemas)
    parameters += [
        {"name": h.name, "in": "header", "required": False, "schema": {"type": "string"},
         "description": h.description}
        for h in op.headers
    ]  # fmt: skip
    if parameters:
        doc["parameters"] = parameters
    if op.roles is not None:
        doc["security"] = [{"bearer": []}]
        doc["description"] = f"Roles: {', '.join(op.roles)}."
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    responses: dict[str, Any] = {}
    for status in op.statuses:
        ok: dict[str, Any] = {"description": "OK" if status < 400 else ERROR_TEXT[status]}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": refs[(op.response, "serialization")]}}
        elif status == 204:
            pass
        else:
            ok["content"] = {t: {"schema": _raw(t)} for t in op.content_types}
        responses[str(status)] = ok
    for code in sorted(op.error_statuses()):
        responses[str(code)] = {
            "description": ERROR_TEXT.get(code, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
            },
        }
        if code in RETRY_AFTER:
            responses[str(code)]["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}
            }
    doc["responses"] = dict(sorted(responses.items()))
    return doc


def _raw(content_type: str) -> dict[str, Any]:
    return {"type": "object"} if content_type == "application/json" else {"type": "string"}
