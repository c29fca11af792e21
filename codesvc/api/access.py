"""Who may see whom: a citizen themself, staff their district's people, the commission all."""

from __future__ import annotations

from aiohttp import web

from codesvc.api.clock import now
from codesvc.api.idempotency import connection
from codesvc.api.keys import AUDIT, SETTINGS, principal
from codesvc.api.problems import Problem
from codesvc.messages import t
from codesvc.service import audit_log, persons, status_reads

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
            raise not_found(request)
        if caller.role == "staff" and not await persons.visible_to_district(
            conn, person, caller.district
        ):
            raise Problem(404, NOT_FOUND)
    await audited(request, person, read)
    return person


async def status_for(
    request: web.Request, person_ref: str, read: str | None = None
) -> status_reads.Read:
    """`person_for` and what the person's status is evaluated from, in one round trip."""
    caller = principal(request)
    async with connection(request) as conn:
        found = await status_reads.read(
            conn,
            person_ref,
            caller.district if caller.role == "staff" else None,
            request.app[SETTINGS].rules,
        )
    if found is None:
        raise not_found(request)
    if caller.role == "staff" and not found.visible_to_district:
        raise Problem(404, NOT_FOUND)
    await audited(request, found.person, read)
    return found


def not_found(request: web.Request) -> Problem:
    """The answer for a reference that names nobody."""
    if principal(request).role == "citizen":
        return Problem(404, t("You are not registered yet; ask the registry to register you."))
    return Problem(404, NOT_FOUND)


async def audited(request: web.Request, person: persons.Person, read: str | None) -> None:
    """Store the entry for a read by staff or the commission, before anything about the
    person leaves; chained with the other reads waiting in this process, so a city of
    officers does not queue one by one for the chain's head."""
    caller = principal(request)
    if read is not None and caller.role in ("staff", "commission"):
        entry = audit_log.Record("person.read", person.person_ref, read)
        await request.app[AUDIT].record(caller, now(request), [entry])
