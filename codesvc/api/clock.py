"""The time, in one place: handlers ask the app, never the system, for "now"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

Clock = Callable[[], datetime]

CLOCK: web.AppKey[Clock] = web.AppKey("clock")


def system_clock() -> datetime:
    return datetime.now(UTC)


def now(request: web.Request) -> datetime:
    return request.app[CLOCK]()
