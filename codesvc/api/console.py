"""The staff console at ``/staff``: one small page per task, over the JSON API.

Each page is a plain HTML file with one ES module (no build step), served by the service
under the same Content Security Policy as the other pages. The pages hold no data: they
sign in with the session cookie and read everything through ``/v1``, where each request
is authorised exactly as a bearer token with the same claims would be.
"""

from __future__ import annotations

from aiohttp import web

from codesvc.api.pages import _serve
from codesvc.api.routing import Handler, Routes

routes = Routes("pages")

#: Path → page file; paths with an id serve the same page, which reads the id.
PAGES = (
    ("/staff", "staff.html", "The console: the district's appeal queue (sign-in first)"),
    ("/staff/appeals/{appeal_id}", "staff-appeal.html", "The console: one appeal"),
    ("/staff/persons", "staff-person.html", "The console: look up a person"),
    ("/staff/persons/{person_ref}", "staff-person.html", "The console: one person"),
    ("/staff/glance", "staff-glance.html", "The console: colours and appeals at a glance"),
    ("/staff/areas", "staff-areas.html", "The console: risk areas and test campaigns"),
    ("/staff/overrides", "staff-overrides.html", "The console: override proposals"),
    ("/staff/audit", "staff-audit.html", "The console: the audit of a person"),
    ("/staff/venues", "staff-venues.html", "The console: revoked venues"),
)


def _page(name: str) -> Handler:
    async def page(request: web.Request) -> web.Response:
        return _serve(request, name)

    page.__name__ = "console_" + name.removesuffix(".html").replace("-", "_")
    return page


for _path, _name, _summary in PAGES:
    routes.route("GET", _path, summary=_summary, roles=None, content_type="text/html")(_page(_name))
