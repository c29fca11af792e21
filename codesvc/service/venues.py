"""Revoked venues: kept in PostgreSQL, announced to every instance with NOTIFY.

A revocation refuses every token of the venue, at once, in every instance; it is a
manual change, so it is written to the audit log in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from codesvc.service import audit_log

#: NOTIFY channel telling every instance that a venue was revoked or reinstated.
VENUES_CHANNEL = "codesvc_venues"


async def revoke_venue(
    conn: asyncpg.Connection, venue: str, actor: audit_log.Actor, reason: str, now: datetime
) -> datetime:
    """Refuse every token of ``venue`` from now on, in every instance; returns when revoked.

    Written to the audit log in the same transaction: a manual change, like an override.
    """
    async with conn.transaction():
        revoked_at: datetime = await conn.fetchval(
            """INSERT INTO venue_revocations (venue, revoked_at, revoked_by, reason)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (venue) DO UPDATE SET venue = EXCLUDED.venue
               RETURNING revoked_at""",
            venue,
            now,
            f"{actor.role}:{actor.sub}",
            reason,
        )
        await audit_log.append(
            conn, actor, now, [audit_log.Record("venue.revoke", None, venue, {"reason": reason})]
        )
        await conn.execute("SELECT pg_notify($1, $2)", VENUES_CHANNEL, venue)
    return revoked_at


async def reinstate_venue(
    conn: asyncpg.Connection, venue: str, actor: audit_log.Actor, now: datetime
) -> bool:
    """Accept the venue's tokens again; False if it was not revoked."""
    async with conn.transaction():
        removed = await conn.fetchval(
            "DELETE FROM venue_revocations WHERE venue = $1 RETURNING venue", venue
        )
        if removed is None:
            return False
        await audit_log.append(conn, actor, now, [audit_log.Record("venue.reinstate", None, venue)])
        await conn.execute("SELECT pg_notify($1, $2)", VENUES_CHANNEL, venue)
    return True


async def revoked_venues(conn: asyncpg.Connection) -> set[str]:
    return {r["venue"] for r in await conn.fetch("SELECT venue FROM venue_revocations")}


async def revocations(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The venues refused now, newest first, with who revoked them, when and why."""
    return await conn.fetch(
        "SELECT venue, revoked_at, revoked_by, reason FROM venue_revocations "
        "ORDER BY revoked_at DESC, venue"
    )
