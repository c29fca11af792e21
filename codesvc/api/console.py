"""The staff console at ``/staff``: one small page per task, over the JSON API.

Every console path (``console_paths``; any other under ``/staff`` is a 404) serves one
HTML shell whose script loads the ES module of the page the path names (no build step),
prepared like the other pages (``assets``: fingerprinted, gzipped files, kept by the
service worker) and under the same Content Security Policy.
The pages hold no data: they sign in with the session cookie and read everything through
``/v1``, where each request is authorised exactly as a bearer token with the same claims
would be.
"""

from __future__ import annotations

from aiohttp import web

from codesvc.api import assets
from codesvc.api.console_paths import PATHS
from codesvc.api.pages import BUNDLE, serve
from codesvc.api.routing import Handler, Routes

routes = Routes("pages")


def _page(name: str) -> Handler:
    async def page(request: web.Request) -> web.Response:
        return serve(request, BUNDLE.pages[assets.CONSOLE])

    page.__name__ = f"console_{name}"
    return page


for _path, _name, _summary in PATHS:
    routes.route("GET", _path, summary=_summary, roles=None, content_type="text/html")(_page(_name))
