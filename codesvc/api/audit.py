"""``GET /v1/audit``: the commission reads who read or changed a person's data, with hashes."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from codesvc.api.access import person_for
from codesvc.api.keys import POOL
from codesvc.api.problems import Problem
from codesvc.api.routing import BIGINT_MAX, Param, Routes, json_response, query_int
from codesvc.audit_chain import Chained
from codesvc.service import audit_log
from codesvc.state.events import format_time

routes = Routes("audit")

#: Most entries one page returns.
PAGE_MAX = 1000


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor_role: str
    actor_sub: str
    action: str
    person_ref: str | None
    subject: str | None
    detail: dict[str, Any]
    prev_hash: str = Field(description="hash of the entry before it in the whole chain")
    hash: str = Field(description="SHA-256 of prev_hash and the entry's canonical JSON")


class AuditOut(BaseModel):
    person_ref: str
    entries: list[AuditEntryOut]
    next_after: int | None = Field(description="pass as after= for the next page; null at the end")


def _entry(c: Chained) -> dict[str, object]:
    e = c.entry
    return {
        "seq": e.seq,
        "at": format_time(e.at),
        "actor_role": e.actor_role,
        "actor_sub": e.actor_sub,
        "action": e.action,
        "person_ref": e.person_ref,
        "subject": e.subject,
        "detail": dict(e.detail),
        "prev_hash": c.prev_hash,
        "hash": c.hash,
    }


@routes.route(
    "GET",
    "/v1/audit",
    summary="Audit entries about a person (reads and changes by staff and commission), "
    "oldest first, with their chain hashes",
    roles=("commission",),
    response=AuditOut,
    params=(
        Param("person_ref", required=True),
        Param("after", schema={"type": "integer"}, description="only entries after this seq"),
        Param("limit", schema={"type": "integer"}, description=f"at most {PAGE_MAX}"),
    ),
    errors=(404, 422),
)
async def audit_of_person(request: web.Request) -> web.Response:
    ref = request.query.get("person_ref")
    if not ref:
        raise Problem(422, "Name the person: ?person_ref=p_...", errors={"person_ref": "required"})
    after = query_int(request, "after", 0, 0, BIGINT_MAX)
    limit = query_int(request, "limit", 100, 1, PAGE_MAX)
    person = await person_for(request, ref, read="audit")
    async with request.app[POOL].acquire() as conn:
        found = await audit_log.for_person(conn, person.person_ref, after, limit)
    return json_response(
        {
            "person_ref": person.person_ref,
            "entries": [_entry(c) for c in found],
            "next_after": found[-1].entry.seq if len(found) == limit else None,
        }
    )
