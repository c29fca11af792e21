"""``/v1/me/notifications``: what changed for me — my colour, my appeals."""

from __future__ import annotations

from typing import Any, Literal, cast

from aiohttp import web
from pydantic import Field

from codesvc.api.access import person_for
from codesvc.api.clock import now
from codesvc.api.keys import POOL, principal
from codesvc.api.routing import Routes
from codesvc.schemas.fields import BIGINT_MAX, In, Out, QueryBool, TimeOut, Whole, query_int
from codesvc.service import notifications as service

routes = Routes("notifications")

#: Most notifications one page returns.
PAGE_MAX = 200


NotificationKind = Literal["color_changed", "appeal_changed"]


class NotificationOut(Out):
    notification_id: int
    at: TimeOut
    kind: NotificationKind
    detail: dict[str, Any] = Field(
        description="color_changed: before, after, since, cause; "
        "appeal_changed: appeal_id, from, to, note"
    )
    read_at: TimeOut | None


class NotificationsOut(Out):
    notifications: list[NotificationOut]


class NotificationsQuery(In):
    unread: QueryBool = Field(False, description="only those not yet read")
    before: query_int(1, BIGINT_MAX) | None = Field(  # type: ignore[valid-type]
        None, description="only older than this id"
    )


class MarkReadIn(In):
    up_to: Whole = Field(
        ge=1, le=BIGINT_MAX, description="mark this notification and every earlier one read"
    )


class MarkedOut(Out):
    marked: int


@routes.route(
    "GET",
    "/v1/me/notifications",
    summary="My notifications, newest first",
    roles=("citizen",),
    response=NotificationsOut,
    query=NotificationsQuery,
    errors=(404,),
)
async def my_notifications(request: web.Request, query: NotificationsQuery) -> NotificationsOut:
    person = await person_for(request, principal(request).sub)
    async with request.app[POOL].acquire() as conn:
        found = await service.for_person(
            conn,
            person.person_id,
            unread=query.unread,
            before=query.before,
            limit=PAGE_MAX,
        )
    return NotificationsOut(
        notifications=[
            NotificationOut(
                notification_id=n.notification_id,
                at=n.at,
                kind=cast(NotificationKind, n.kind),
                detail=dict(n.detail),
                read_at=n.read_at,
            )
            for n in found
        ]
    )


@routes.route(
    "POST",
    "/v1/me/notifications/read",
    summary="Mark my notifications up to one of them as read",
    roles=("citizen",),
    body=MarkReadIn,
    response=MarkedOut,
    errors=(404,),
)
async def mark_read(request: web.Request, body: MarkReadIn) -> MarkedOut:
    person = await person_for(request, principal(request).sub)
    async with request.app[POOL].acquire() as conn:
        marked = await service.mark_read(conn, person.person_id, body.up_to, now(request))
    return MarkedOut(marked=marked)
