"""The staff console at ``/staff``: one small page per task, over the JSON API.

Every console path serves one HTML shell whose script loads the ES module of the page
the path names (no build step), prepared like the other pages (``assets``: fingerprinted,
gzipped files, kept by the service worker) and under the same Content Security Policy.
The pages hold no data: they sign in with the session cookie and read everything through
``/v1``, where each request is authorised exactly as a bearer token with the same claims
would be.
"""

from __future__ import annotations

from aiohttp import web

from codesvc.api import assets
from codesvc.api.pages import BUNDLE, serve
from codesvc.api.routing import Handler, Routes

routes = Routes("pages")

#: The console's paths; the page module reads the ids in them.
PAGES = (
    ("/staff", "queue", "The console: the district's appeal queue (sign-in first)"),
    ("/staff/appeals/{appeal_id}", "appeal", "The console: one appeal"),
    ("/staff/persons", "persons", "The console: look up a person"),
    ("/staff/persons/{person_ref}", "person", "The console: one person"),
    ("/staff/glance", "glance", "The console: colours and appeals at a glance"),
    ("/staff/areas", "areas", "The console: risk areas and test campaigns"),
    ("/staff/overrides", "overrides", "The console: override proposals"),
    ("/staff/audit", "audit", "The console: the audit of a person"),
    ("/staff/venues", "venues", "The console: revoked venues"),
)


def _page(name: str) -> Handler:
    async def page(request: web.Request) -> web.Response:
        return serve(request, BUNDLE.pages[assets.CONSOLE])

    page.__name__ = f"console_{name}"
    return page


for _path, _name, _summary in PAGES:
    routes.route("GET", _path, summary=_summary, roles=None, content_type="text/html")(_page(_name))
