"""The pages people touch: a citizen's code and a venue's scanner, plain files over the JSON API.

Everything is served by the service itself (no CDN, no build step), under a Content
Security Policy that lets a page talk to this service only: a token pasted into a page
can go nowhere else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from codesvc.api.problems import Problem
from codesvc.api.routing import Param, Routes

routes = Routes("pages")

STATIC = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}

# connect-src 'self' is what keeps a pasted token on this service; img-src data: is for the
# QR code, drawn as an image (an SVG in an <img> cannot run script).
POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Revalidate every time (cheap with the ETag) so a new release is picked up at once.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _load(directory: Path) -> dict[str, Asset]:
    """Every servable file, read once; a name not in here is a 404, so no path escapes."""
    assets = {}
    for path in sorted(directory.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if path.is_file() and content_type:
            body = path.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            assets[path.name] = Asset(body, content_type, etag)
    return assets


ASSETS = _load(STATIC)


def _serve(request: web.Request, name: str) -> web.Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise Problem(404, f"There is no page file {name!r}; start from / for the list of pages.")
    headers = {**HEADERS, "ETag": asset.etag}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=asset.body, content_type=asset.content_type, charset="utf-8", headers=headers
    )


@routes.route(
    "GET",
    "/",
    summary="The pages: citizen code, venue scanner",
    roles=None,
    content_type="text/html",
)
async def index(request: web.Request) -> web.Response:
    return _serve(request, "index.html")


@routes.route(
    "GET",
    "/citizen",
    summary="A citizen's page: colour, why, QR code, history, appeals",
    roles=None,
    content_type="text/html",
)
async def citizen(request: web.Request) -> web.Response:
    return _serve(request, "citizen.html")


@routes.route(
    "GET",
    "/scanner",
    summary="A venue's scanner page: scan a code or an id number, see the colour",
    roles=None,
    content_type="text/html",
)
async def scanner(request: web.Request) -> web.Response:
    return _serve(request, "scanner.html")


@routes.route(
    "GET",
    "/static/{name}",
    summary="The pages' scripts and their stylesheet",
    roles=None,
    params=(Param("name", "path", description="a file name, e.g. common.js"),),
    errors=(404,),
    content_type="text/javascript",
)
async def static(request: web.Request) -> web.Response:
    return _serve(request, request.match_info["name"])
