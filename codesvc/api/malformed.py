"""Requests that cannot be read as HTTP, answered like every other error.

aiohttp answers what its parser refuses (a header line over 8 KB, a NUL in a header, a
broken request line) before any middleware runs, with ``text/plain`` that echoes the
offending bytes, perhaps a caller's token. aiohttp offers no hook for that answer, so
`install` replaces `RequestHandler.handle_error` for parser errors only, once per
process: a problem+json without the bytes; a 500 keeps aiohttp's own answer.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from codesvc.api.problems import Problem
from codesvc.messages import t

_aiohttp_answer = RequestHandler.handle_error


def _answer(
    self: RequestHandler,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    if not isinstance(exc, HttpProcessingError) or not 400 <= status < 500:
        return _aiohttp_answer(self, request, status, exc, message)
    self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
    if isinstance(exc, LineTooLong):
        problem = Problem(
            431, t("A request line or header is too long; a bearer token is a few hundred "
                   "characters.")
        )  # fmt: skip
    else:
        problem = Problem(400, t("The request is not well-formed HTTP and was not read."))
    response = problem.response("about:blank")
    response.force_close()
    return response


def install() -> None:
    """Answer unreadable requests with problem+json from now on, in this process."""
    RequestHandler.handle_error = _answer  # type: ignore[method-assign]
