"""The staff console's addresses: one table for the service's routes (``console``), the
service worker (``/sw.js``) and the console's own script (``console-paths.js``), so that
the three agree on what is a console page. Any other address under ``/staff`` is the
service's 404, on a device with the console kept as on any other."""

from __future__ import annotations

import re

#: The console's first page; every console address is served this one page.
ROOT = "/staff"

#: Each address as routed (``{name}`` is one path segment, which the page module reads),
#: the view the console's script shows there, and the route's summary.
PATHS = (
    (ROOT, "queue", "The console: the district's appeal queue (sign-in first)"),
    ("/staff/appeals/{appeal_id}", "appeal", "The console: one appeal"),
    ("/staff/persons", "persons", "The console: look up a person"),
    ("/staff/persons/{person_ref}", "person", "The console: one person"),
    ("/staff/glance", "glance", "The console: colours and appeals at a glance"),
    ("/staff/areas", "areas", "The console: risk areas and test campaigns"),
    ("/staff/overrides", "overrides", "The console: override proposals"),
    ("/staff/audit", "audit", "The console: the audit of a person"),
    ("/staff/venues", "venues", "The console: revoked venues"),
)


def under(path: str) -> bool:
    """Whether ``path`` is in the console's part of the site, a page of it or not."""
    return path == ROOT or path.startswith(f"{ROOT}/")


#: Each address as a pattern over whole segments, as the service worker matches them.
_PAGES = tuple(re.compile(re.sub(r"\\{[^/{}]+\\}", "[^/]+", re.escape(p))) for p, _, _ in PATHS)


def without_slash(path: str) -> str | None:
    """The console page a person meant by ``path`` with slashes after it (``/staff/``,
    ``/staff/areas/``), or None when ``path`` has none or names no console page."""
    page = path.rstrip("/")
    if page == path or not any(pattern.fullmatch(page) for pattern in _PAGES):
        return None
    return page
