"""``/v1/me/notifications``: what changed for me — my colour, my appeals."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.keys import POOL, principal
from codesvc.api.routing import (
    BIGINT_MAX,
    Param,
    Routes,
    json_response,
    parse_body,
    query_flag,
    query_int,
)
from codesvc.api.schemas import Strict
from codesvc.service import notifications as service
from codesvc.state.events import format_time

routes = Routes("notifications")

#: Most notifications one page returns.
PAGE_MAX = 200


class NotificationOut(BaseModel):
    notification_id: int
    at: str
    kind: Literal["color_changed", "appeal_changed"]
    detail: dict[str, Any] = Field(
        description="color_changed: before, after, since, cause; "
        "appeal_changed: appeal_id, from, to, note"
    )
    read_at: str | None


class NotificationsOut(BaseModel):
    notifications: list[NotificationOut]


class MarkReadIn(Strict):
    up_to: int = Field(description="mark this notification and every earlier one read")


class MarkedOut(BaseModel):
    marked: int


@routes.route(
    "GET",
    "/v1/me/notifications",
    summary="My notifications, newest first",
    roles=("citizen",),
    response=NotificationsOut,
    params=(
        Param("unread", schema={"type": "boolean"}, description="only those not yet read"),
        Param("before", schema={"type": "integer"}, description="only older than this id"),
    ),
    errors=(404, 422),
)
async def my_notifications(request: web.Request) -> web.Response:
    unread = query_flag(request, "unread")
    before = query_int(request, "before", None, 1, BIGINT_MAX)
    person = await person_for(request, principal(request).sub)
    async with request.app[POOL].acquire() as conn:
        found = await service.for_person(
            conn,
            person.person_id,
            unread=unread,
            before=before,
            limit=PAGE_MAX,
        )
    return json_response(
        {
            "notifications": [
                {
                    "notification_id": n.notification_id,
                    "at": format_time(n.at),
                    "kind": n.kind,
                    "detail": dict(n.detail),
                    "read_at": format_time(n.read_at) if n.read_at else None,
                }
                for n in found
            ]
        }
    )


@routes.route(
    "POST",
    "/v1/me/notifications/read",
    summary="Mark my notifications up to one of them as read",
    roles=("citizen",),
    body=MarkReadIn,
    response=MarkedOut,
    errors=(404, 422),
)
async def mark_read(request: web.Request) -> web.Response:
    body = await parse_body(request, MarkReadIn)
    person = await person_for(request, principal(request).sub)
    async with request.app[POOL].acquire() as conn:
        marked = await service.mark_read(conn, person.person_id, body.up_to, now(request))
    return json_response({"marked": marked})
