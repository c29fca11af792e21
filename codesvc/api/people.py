"""A person as staff and the commission look them up: by id number, their events, appeals.

Every read is audited (``person_for``); staff see only people of their district and
people with an appeal routed to it, exactly as for status and history.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from codesvc.api.access import NOT_FOUND, person_for
from codesvc.api.appeals import AppealOut, appeal_body
from codesvc.api.clock import now
from codesvc.api.colours import PersonPath
from codesvc.api.keys import POOL, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Routes
from codesvc.api.secrets import ID_SECRET
from codesvc.appeals.machine import can_view
from codesvc.schemas.fields import IdNumber, In, Out, TimeOut
from codesvc.service import appeals as appeal_store
from codesvc.service import person_events, persons

routes = Routes("persons")


class LookupIn(In):
    id_number: IdNumber = Field(description="in the body, so it stays out of URLs and logs")


class LookupOut(Out):
    person_ref: str
    district: str


class EventOut(Out):
    event_id: str
    kind: str
    occurred_at: TimeOut
    data: dict[str, Any]
    sender: str = Field(description="role:sub of the sender, or appeal:<id> / override:<id>")
    received_at: TimeOut
    voided_by: str | None = Field(description="the correction event that voided it")
    voided_for: str | None = Field(description="the appeal that correction decided")


class EventsOut(Out):
    person_ref: str
    events: list[EventOut]


class PersonAppealsOut(Out):
    person_ref: str
    appeals: list[AppealOut]


@routes.route(
    "POST",
    "/v1/persons/lookup",
    summary="Find a person by id number (audited); staff: people of their district only",
    roles=("staff", "commission"),
    body=LookupIn,
    response=LookupOut,
    errors=(404,),
)
async def lookup(request: web.Request, body: LookupIn) -> LookupOut:
    async with request.app[POOL].acquire() as conn:
        found = await persons.by_id_number(conn, body.id_number, request.app[ID_SECRET])
    if found is None:
        raise Problem(404, NOT_FOUND)
    person = await person_for(request, found.person_ref, read="lookup")
    return LookupOut(person_ref=person.person_ref, district=person.district)


@routes.route(
    "GET",
    "/v1/persons/{person_ref}/events",
    summary="A person's events in event time: kind, time, data, who sent it, what voided it",
    roles=("staff", "commission"),
    response=EventsOut,
    path_params=PersonPath,
    errors=(404,),
)
async def events(request: web.Request, path: PersonPath) -> EventsOut:
    person = await person_for(request, path.person_ref, read="events")
    async with request.app[POOL].acquire() as conn:
        found = await person_events.of_person(conn, person.person_id)
    return EventsOut(
        person_ref=person.person_ref,
        events=[
            EventOut(
                event_id=e.event_id,
                kind=e.kind,
                occurred_at=e.occurred_at,
                data=dict(e.data),
                sender=e.sender,
                received_at=e.received_at,
                voided_by=e.voided_by,
                voided_for=e.voided_for,
            )
            for e in found
        ],
    )


@routes.route(
    "GET",
    "/v1/persons/{person_ref}/appeals",
    summary="A person's appeals, newest first (staff: those routed to their district)",
    roles=("staff", "commission"),
    response=PersonAppealsOut,
    path_params=PersonPath,
    errors=(404,),
)
async def appeals(request: web.Request, path: PersonPath) -> PersonAppealsOut:
    person = await person_for(request, path.person_ref, read="appeals")
    actor = appeal_store.actor_of(principal(request))
    async with request.app[POOL].acquire() as conn:
        found = await appeal_store.of_person(conn, person.person_id)
    at = now(request)
    visible = [
        d
        for d in found
        if can_view(actor, appeal_district=d.appeal.district, appeal_person_ref=d.appeal.person_ref)
    ]
    return PersonAppealsOut(
        person_ref=person.person_ref, appeals=[appeal_body(d, actor, at) for d in visible]
    )
