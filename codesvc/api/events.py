"""Feeds: register people and send events."""

from __future__ import annotations

from collections import Counter

from aiohttp import web

from codesvc.api.clock import now
from codesvc.api.idempotency import connection
from codesvc.api.keys import METRICS, POOL, SETTINGS, principal
from codesvc.api.routing import Reply, Routes
from codesvc.api.secrets import ID_SECRET
from codesvc.messages import language, render
from codesvc.schemas.events import EventBatch, EventResult, EventResults
from codesvc.schemas.persons import PersonIn, PersonOut
from codesvc.service.ingest import ingest
from codesvc.service.persons import Registration, ensure_registered

routes = Routes("feeds")


@routes.route(
    "POST",
    "/v1/persons",
    summary="Register a person (idempotent on id_number): 201 when new, 200 when known",
    roles=("feeder", "commission"),
    body=PersonIn,
    response=PersonOut,
    status=(201, 200),
    idempotent=True,
)
async def register_person(request: web.Request, body: PersonIn) -> Reply[PersonOut]:
    registration = Registration(body.id_number, body.name, body.district, body.phone)
    async with connection(request) as conn, conn.transaction():
        found, created = await ensure_registered(
            conn, [registration], request.app[ID_SECRET], now(request), request.app[SETTINGS].rules
        )
    person = found[body.id_number]
    is_new = person.person_ref in created
    return Reply(PersonOut(person_ref=person.person_ref, created=is_new), 201 if is_new else 200)


@routes.route(
    "POST",
    "/v1/events",
    summary="Send up to 1000 events; each is answered accepted, duplicate or rejected",
    roles=("feeder", "staff", "commission"),
    body=EventBatch,
    response=EventResults,
)
async def post_events(request: web.Request, body: EventBatch) -> EventResults:
    settings = request.app[SETTINGS]
    async with request.app[POOL].acquire() as conn:
        outcomes = await ingest(
            conn,
            body.events,
            principal(request),
            id_secret=request.app[ID_SECRET],
            rules=settings.rules,
            now=now(request),
        )
    counted = Counter(
        (item.sent.kind if item.sent is not None else "other", outcome.status)
        for item, outcome in zip(body.events, outcomes, strict=True)
    )
    for labels, count in counted.items():  # a count per kind and outcome, not per event
        request.app[METRICS].events.labels(*labels).inc(count)
    lang = language(request.headers.get("Accept-Language"))  # each event's why, as a problem's
    return EventResults(
        results=[
            EventResult(
                event_id=o.event_id,
                status=o.status,
                error=render(o.error, lang) if o.error else None,
                errors={k: render(v, lang) for k, v in o.errors.items()} if o.errors else None,
            )
            for o in outcomes
        ]
    )
