"""``GET /v1/audit/verify``: whether a person's entries in the audit chain are intact."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codesvc.api.access import person_for
from codesvc.api.keys import POOL
from codesvc.api.routing import Routes
from codesvc.schemas.fields import In, Out, PersonRef
from codesvc.service.audit_check import verify_person

routes = Routes("audit")


class PersonQuery(In):
    person_ref: PersonRef = Field(description="whose entries")


class PersonAuditOut(Out):
    person_ref: str
    entries: int
    intact: bool
    problems: list[str]
    head_seq: int


@routes.route(
    "GET",
    "/v1/audit/verify",
    summary="Check a person's audit entries against the chain: each hash, and the links to "
    "the entries around it",
    roles=("commission",),
    response=PersonAuditOut,
    query=PersonQuery,
    errors=(404,),
)
async def verify_of_person(request: web.Request, query: PersonQuery) -> PersonAuditOut:
    person = await person_for(request, query.person_ref, read="audit")
    async with request.app[POOL].acquire() as conn:
        found = await verify_person(conn, person.person_ref)
    return PersonAuditOut(
        person_ref=person.person_ref,
        entries=found.entries,
        intact=not found.problems,
        problems=found.problems,
        head_seq=found.head_seq,
    )
