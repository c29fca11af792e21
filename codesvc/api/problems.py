"""Errors as RFC 9457 problem details (``application/problem+json``), everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

import orjson
from aiohttp import web

from codesvc.api import console_paths
from codesvc.messages import DEFAULT, Lang, Text, render, t

PROBLEM_TYPE = "application/problem+json"


class Problem(Exception):
    """An error a caller can act on; raised anywhere, answered by the middleware in the
    reader's language (``detail`` and each field error are `Text` from the catalogue)."""

    def __init__(
        self,
        status: int,
        detail: Text,
        *,
        errors: Mapping[str, Text] | None = None,
        headers: Mapping[str, str] | None = None,
        title: str | None = None,
        **extra: object,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}
        self.title = title or HTTPStatus(status).phrase
        self.extra = extra

    def body(self, instance: str, lang: Lang = DEFAULT) -> dict[str, object]:
        body: dict[str, object] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": render(self.detail, lang),
            "instance": instance,
        }
        if self.errors:
            body["errors"] = {path: render(text, lang) for path, text in self.errors.items()}
        body.update(self.extra)
        return body

    def response(
        self, instance: str, request_id: str | None = None, lang: Lang = DEFAULT
    ) -> web.Response:
        body = self.body(instance, lang)
        if request_id:
            body["request_id"] = request_id
        return web.Response(
            status=self.status,
            body=orjson.dumps(body),
            content_type=PROBLEM_TYPE,
            headers=self.headers,
        )


def unavailable(detail: Text, retry_after: int = 2) -> Problem:
    return Problem(503, detail, headers={"Retry-After": str(retry_after)})


def too_many(detail: Text, retry_after: float) -> Problem:
    seconds = max(1, int(retry_after + 0.999))
    return Problem(429, detail, headers={"Retry-After": str(seconds)})


def from_http_exception(exc: web.HTTPException, path: str = "") -> Problem:
    """Turn aiohttp's own errors (unknown route, wrong method, too large) into problems;
    ``path`` is the address asked for."""
    status = exc.status
    headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
    if status == 404 and console_paths.under(path):
        # A mistyped console address, most likely typed by a person: say where to start.
        detail: Text = t(
            "There is no console page at {path}; the console starts at {root}.",
            path=path,
            root=console_paths.ROOT,
        )
    elif status == 404:
        detail = t("There is no such resource; see /openapi.json for the routes this service has.")
    elif status == 405:
        allowed = exc.headers.get("Allow", "")
        detail = t("This route does not take that method; it allows {allowed}.", allowed=allowed)
    elif status == 413:
        detail = t("The request body is too large; send smaller batches (at most 1000 events).")
    else:
        detail = t("This request cannot be answered (HTTP {status}).", status=status)
    return Problem(status, detail, headers=headers)
