"""``GET /v1/audit``: the commission reads who read or changed a person's data, with hashes."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from codesvc.api.access import person_for
from codesvc.api.keys import POOL
from codesvc.api.routing import Routes
from codesvc.audit_chain import Chained
from codesvc.schemas.fields import BIGINT_MAX, In, Out, PersonRef, TimeOut, query_int
from codesvc.service import audit_log

routes = Routes("audit")

#: Most entries one page returns.
PAGE_MAX = 1000


class AuditQuery(In):
    person_ref: PersonRef = Field(description="whose entries")
    after: query_int(0, BIGINT_MAX) = Field(0, description="only entries after this seq")  # type: ignore[valid-type]
    limit: query_int(1, PAGE_MAX) = Field(100, description=f"at most {PAGE_MAX}")  # type: ignore[valid-type]


class AuditEntryOut(Out):
    seq: int
    at: TimeOut
    actor_role: str
    actor_sub: str
    action: str
    person_ref: str | None
    subject: str | None
    detail: dict[str, Any]
    prev_hash: str = Field(description="hash of the entry before it in the whole chain")
    hash: str = Field(description="SHA-256 of prev_hash and the entry's canonical JSON")

    @classmethod
    def of(cls, c: Chained) -> AuditEntryOut:
        e = c.entry
        return cls(
            seq=e.seq,
            at=e.at,
            actor_role=e.actor_role,
            actor_sub=e.actor_sub,
            action=e.action,
            person_ref=e.person_ref,
            subject=e.subject,
            detail=dict(e.detail),
            prev_hash=c.prev_hash,
            hash=c.hash,
        )


class AuditOut(Out):
    person_ref: str
    entries: list[AuditEntryOut]
    next_after: int | None = Field(description="pass as after= for the next page; null at the end")


@routes.route(
    "GET",
    "/v1/audit",
    summary="Audit entries about a person (reads and changes by staff and commission), "
    "oldest first, with their chain hashes",
    roles=("commission",),
    response=AuditOut,
    query=AuditQuery,
    errors=(404,),
)
async def audit_of_person(request: web.Request, query: AuditQuery) -> AuditOut:
    person = await person_for(request, query.person_ref, read="audit")
    async with request.app[POOL].acquire() as conn:
        found = await audit_log.for_person(conn, person.person_ref, query.after, query.limit)
    return AuditOut(
        person_ref=person.person_ref,
        entries=[AuditEntryOut.of(c) for c in found],
        next_after=found[-1].entry.seq if len(found) == query.limit else None,
    )
