"""``GET /v1/audit/verify``: whether a person's entries in the audit chain are intact."""

from __future__ import annotations

import pydantic
from aiohttp import web

from codesvc.api.access import person_for
from codesvc.api.keys import POOL
from codesvc.api.problems import Problem
from codesvc.api.routing import Param, Routes, json_response
from codesvc.service.audit_check import verify_person

routes = Routes("audit")


class PersonAuditOut(pydantic.BaseModel):
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
    params=(Param("person_ref", required=True),),
    errors=(404, 422),
)
async def verify_of_person(request: web.Request) -> web.Response:
    ref = request.query.get("person_ref")
    if not ref:
        raise Problem(422, "Name the person: ?person_ref=p_...", errors={"person_ref": "required"})
    person = await person_for(request, ref, read="audit")
    async with request.app[POOL].acquire() as conn:
        found = await verify_person(conn, person.person_ref)
    return json_response(
        {
            "person_ref": person.person_ref,
            "entries": found.entries,
            "intact": not found.problems,
            "problems": found.problems,
            "head_seq": found.head_seq,
        }
    )
