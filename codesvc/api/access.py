"""Who may see whom: a citizen themself, staff their district's people, the commission all."""

from __future__ import annotations

from aiohttp import web

from codesvc.api.clock import now
from codesvc.api.idempotency import connection
from codesvc.api.keys import AUDIT, principal
from codesvc.api.problems import Problem
from codesvc.messages import t
from codesvc.service import audit_log, persons

NOT_FOUND = t("No such person, or not one you may see.")


async def person_for(
    request: web.Request, person_ref: str, read: str | None = None
) -> persons.Person:
    """The person ``person_ref`` if the caller may see them; 404 otherwise (never a hint).

    ``read`` names what staff or the commission are about to read; it is audited first.
    """
    caller = principal(request)
    async with connection(request) as conn:
        person = await persons.by_ref(conn, person_ref)
        if person is None:
            if caller.role == "citizen":
                raise Problem(
                    404, t("You are not registered yet; ask the registry to register you.")
                )
            raise Problem(404, NOT_FOUND)
        if caller.role == "staff" and not await persons.visible_to_district(
            conn, person, caller.district
        ):
            raise Problem(404, NOT_FOUND)
    if read is not None and caller.role in ("staff", "commission"):
        # Stored before anything is read; chained with the other reads waiting in this
        # process, so a city of officers does not queue one by one for the chain's head.
        entry = audit_log.Record("person.read", person.person_ref, read)
        await request.app[AUDIT].record(caller, now(request), [entry])
    return person
