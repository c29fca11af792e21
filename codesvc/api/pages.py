"""The pages people touch: a citizen's code, a venue's scanner, the staff console, over the API.

Everything is served by the service itself (no CDN, no build step), under a Content
Security Policy that lets a page talk to this service only: a token given to a page can go
nowhere else. The files are prepared once at start-up (``assets``): fingerprinted,
gzipped, cached for a year; the pages themselves revalidate.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codesvc.api import assets
from codesvc.api.problems import Problem
from codesvc.api.routing import Routes
from codesvc.messages import t
from codesvc.schemas.fields import In

routes = Routes("pages")


def _policy(*extra_script: str) -> str:
    # connect-src 'self' is what keeps a token on this service; img-src data: is for the QR
    # code, drawn as an image (an SVG in an <img> cannot run script).
    return "; ".join(
        (
            "default-src 'none'",
            " ".join(("script-src 'self'", *extra_script)),
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


POLICY = _policy()
#: The scanner decodes QR codes in WebAssembly (the vendored ZXing), which must be allowed
#: to compile; that permits no JavaScript eval.
SCANNER_POLICY = _policy("'wasm-unsafe-eval'")
#: The service worker fetches this service's files and nothing else.
WORKER_POLICY = "default-src 'none'; connect-src 'self'"
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

BUNDLE = assets.build()


class StaticPath(In):
    name: str = Field(description="a file name, e.g. common.3f2a9c1b7d.js")


def serve(request: web.Request, asset: assets.Asset | None, policy: str = POLICY) -> web.Response:
    if asset is None:
        name = request.match_info.get("name", request.path)
        raise Problem(
            404,
            t("There is no page file {name}; start from / for the list of pages.", name=repr(name)),
        )
    headers = {
        **HEADERS,
        "Content-Security-Policy": policy,
        "Cache-Control": asset.cache_control,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    body, encoding = asset.body_for(request.headers.get("Accept-Encoding", ""))
    if encoding:
        headers["Content-Encoding"] = encoding
    headers["Content-Type"] = asset.content_type
    return web.Response(body=body, headers=headers)


@routes.route(
    "GET",
    "/",
    summary="The pages: citizen code, venue scanner",
    roles=None,
    content_type="text/html",
)
async def index(request: web.Request) -> web.Response:
    return serve(request, BUNDLE.pages["/"])


@routes.route(
    "GET",
    "/citizen",
    summary="A citizen's page: colour, why, QR code, history, appeals",
    roles=None,
    content_type="text/html",
)
async def citizen(request: web.Request) -> web.Response:
    return serve(request, BUNDLE.pages["/citizen"])


@routes.route(
    "GET",
    "/scanner",
    summary="A venue's scanner page: scan a code or an id number, see the colour",
    roles=None,
    content_type="text/html",
)
async def scanner(request: web.Request) -> web.Response:
    return serve(request, BUNDLE.pages["/scanner"], SCANNER_POLICY)


@routes.route(
    "GET",
    "/sw.js",
    summary="The pages' service worker: keeps their shells on the device",
    roles=None,
    content_type="text/javascript",
)
async def service_worker(request: web.Request) -> web.Response:
    return serve(request, BUNDLE.worker, WORKER_POLICY)


@routes.route(
    "GET",
    "/static/{name}",
    summary="The pages' scripts, stylesheets and QR decoder, by fingerprinted (immutable) name",
    roles=None,
    path_params=StaticPath,
    errors=(404,),
    content_type=sorted({t.split(";")[0] for t in assets.CONTENT_TYPES.values()} - {"text/html"}),
)
async def static(request: web.Request, path: StaticPath) -> web.Response:
    return serve(request, BUNDLE.files.get(path.name))
