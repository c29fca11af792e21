"""The OpenAPI 3.1 document, built from the declared routes so it cannot fall behind them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pydantic

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

REF = "#/components/schemas/{model}"


def document(operations: Iterable[Operation]) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        if op.method == "HEAD":
            continue
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
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


def _schema(model: type[pydantic.BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.handler.__name__,
        "tags": [op.tag],
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", op.path)
        if not any(p.name == name for p in op.params)
    ]
    for p in op.params:
        parameters.append(
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "schema": p.schema,
                "description": p.description,
            }
        )
    if parameters:
        doc["parameters"] = parameters
    if op.roles is not None:
        doc["security"] = [{"bearer": []}]
        doc["description"] = f"Roles: {', '.join(op.roles)}."
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(op.body, schemas)}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ok["content"] = {op.content_type: {"schema": _schema(op.response, schemas)}}
    elif op.content_type != "application/json":
        ok["content"] = {op.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): ok}
    codes = set(op.errors)
    if op.body is not None:
        codes |= {400, 413, 422}
    if op.roles is not None:
        codes |= {401, 403, 503}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": ERROR_TEXT.get(code, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
            },
        }
    doc["responses"] = responses
    return doc
