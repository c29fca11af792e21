"""Feeds: register people and send events."""

from __future__ import annotations

from aiohttp import web

from codesvc.api.clock import now
from codesvc.api.keys import METRICS, POOL, SETTINGS, principal
from codesvc.api.routing import Routes, json_response, parse_body
from codesvc.api.schemas import EventBatch, EventBatchDoc, EventResults, PersonIn, PersonOut
from codesvc.api.secrets import ID_SECRET
from codesvc.service.ingest import SENDABLE, ingest
from codesvc.service.persons import Registration, ensure_registered

routes = Routes("feeds")


@routes.route(
    "POST",
    "/v1/persons",
    summary="Register a person (idempotent on id_number)",
    roles=("feeder", "commission"),
    body=PersonIn,
    response=PersonOut,
    status=201,
)
async def register_person(request: web.Request) -> web.Response:
    body = await parse_body(request, PersonIn)
    registration = Registration(body.id_number, body.name, body.district, body.phone)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        found, created = await ensure_registered(
            conn, [registration], request.app[ID_SECRET], now(request)
        )
    person = found[body.id_number]
    is_new = person.person_ref in created
    return json_response(
        {"person_ref": person.person_ref, "created": is_new}, status=201 if is_new else 200
    )


@routes.route(
    "POST",
    "/v1/events",
    summary="Send up to 1000 events; each is answered accepted, duplicate or rejected",
    roles=("feeder", "staff", "commission"),
    body=EventBatchDoc,
    response=EventResults,
)
async def post_events(request: web.Request) -> web.Response:
    body = await parse_body(request, EventBatch)
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
    metrics = request.app[METRICS]
    for raw, outcome in zip(body.events, outcomes, strict=True):
        kind = raw.get("kind") if isinstance(raw, dict) else None
        label = kind if isinstance(kind, str) and kind in SENDABLE["commission"] else "other"
        metrics.events.labels(label, outcome.status).inc()
    return json_response({"results": [o.json() for o in outcomes]})
