"""Manual colours under the four-eyes rule: one commission member proposes, another approves.

Only the approval writes the `override` event, through the one status write path, so no
single person can change a code; both names and the reason stay on the proposal and in
the audit log.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from codesvc.messages import Text, t
from codesvc.service import audit_log, stored_status
from codesvc.service.ingest import append_for
from codesvc.service.persons import Person
from codesvc.state.colors import Color
from codesvc.state.events import Override, format_time
from codesvc.state.rules import Rules

#: A proposal's status as a caller reads it.
_STATUS = {"proposed": t("proposed"), "approved": t("approved"), "rejected": t("rejected")}

#: The window in which one member's proposals are counted for the alarm.
ALARM_WINDOW = timedelta(hours=1)


class OverrideError(Exception):
    """A refused override action; `detail` is safe to show the caller."""

    def __init__(self, detail: Text) -> None:
        super().__init__(detail)
        self.detail = detail


class OverrideNotFound(OverrideError):
    """HTTP 404."""


class OverrideForbidden(OverrideError):
    """HTTP 403: the four-eyes rule."""


class OverrideConflict(OverrideError):
    """HTTP 409: the proposal is not in a state to be approved."""


@dataclass(frozen=True, slots=True)
class Proposal:
    override_id: str
    person_id: int
    person_ref: str
    color: Color
    reason: str
    until: datetime | None
    status: str
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    event_id: str | None
    rejected_by: str | None = None
    rejected_at: datetime | None = None
    rejection_reason: str | None = None


COLUMNS = """o.override_id, o.person_id, p.person_ref, o.color, o.reason, o.until, o.status,
    o.proposed_by, o.proposed_at, o.approved_by, o.approved_at, o.event_id::text,
    o.rejected_by, o.rejected_at, o.rejection_reason"""


def _proposal(row: asyncpg.Record) -> Proposal:
    return Proposal(
        row["override_id"],
        row["person_id"],
        row["person_ref"],
        Color(row["color"]),
        row["reason"],
        row["until"],
        row["status"],
        row["proposed_by"],
        row["proposed_at"],
        row["approved_by"],
        row["approved_at"],
        row["event_id"],
        row["rejected_by"],
        row["rejected_at"],
        row["rejection_reason"],
    )


async def propose(
    conn: asyncpg.Connection,
    person: Person,
    color: Color,
    reason: str,
    until: datetime | None,
    member: audit_log.Actor,
    now: datetime,
) -> tuple[Proposal, int]:
    """Store a proposal; returns it and how many this member proposed in the last hour."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""WITH o AS (
                    INSERT INTO overrides (override_id, person_id, color, reason, until, status,
                                           proposed_by, proposed_at)
                    VALUES ($1, $2, $3, $4, $5, 'proposed', $6, $7) RETURNING *)
                SELECT {COLUMNS} FROM o JOIN persons p USING (person_id)""",
            "o_" + secrets.token_hex(6),
            person.person_id,
            color.value,
            reason,
            until,
            member.sub,
            now,
        )
        proposal = _proposal(row)
        recent = await conn.fetchval(
            "SELECT count(*) FROM overrides WHERE proposed_by = $1 AND proposed_at > $2",
            member.sub,
            now - ALARM_WINDOW,
        )
        await audit_log.append(
            conn,
            member,
            now,
            [
                audit_log.Record(
                    "override.propose",
                    proposal.person_ref,
                    proposal.override_id,
                    {
                        "color": color.value,
                        "reason": reason,
                        "until": format_time(until) if until else None,
                    },
                )
            ],
        )
    return proposal, int(recent)


async def approve(
    conn: asyncpg.Connection,
    override_id: str,
    member: audit_log.Actor,
    now: datetime,
    rules: Rules,
    office: str,
) -> Proposal:
    """Put a proposal in force: write its override event and recompute the person."""
    async with conn.transaction():
        proposal = await _locked(conn, override_id)
        _check_approvable(proposal, member, now)
        event = Override(
            str(uuid.uuid4()),
            now.astimezone(UTC),
            proposal.color,
            proposal.reason,
            office,
            proposal.override_id,
            proposal.until.astimezone(UTC) if proposal.until else None,
        )
        await append_for(conn, proposal.person_id, [event], f"override:{proposal.override_id}")
        locked = await stored_status.lock(conn, [proposal.person_id])
        await stored_status.refresh(conn, locked, rules, now, f"override:{proposal.override_id}")
        row = await conn.fetchrow(
            f"""WITH o AS (
                    UPDATE overrides SET status = 'approved', approved_by = $2,
                           approved_at = $3, event_id = $4
                    WHERE override_id = $1 RETURNING *)
                SELECT {COLUMNS} FROM o JOIN persons p USING (person_id)""",
            proposal.override_id,
            member.sub,
            now,
            uuid.UUID(event.event_id),
        )
        approved = _proposal(row)
        await audit_log.append(
            conn,
            member,
            now,
            [
                audit_log.Record(
                    "override.approve",
                    approved.person_ref,
                    approved.override_id,
                    {
                        "color": approved.color.value,
                        "proposed_by": approved.proposed_by,
                        "event_id": event.event_id,
                    },
                )
            ],
        )
        return approved


async def reject(
    conn: asyncpg.Connection,
    override_id: str,
    member: audit_log.Actor,
    now: datetime,
    reason: str,
) -> Proposal:
    """Turn a proposal down, saying why; like approval, only a member other than the
    proposer decides on it."""
    async with conn.transaction():
        proposal = await _locked(conn, override_id)
        if proposal.proposed_by == member.sub:
            raise OverrideForbidden(
                t("You proposed this override; a different commission member decides on it.")
            )
        if proposal.status != "proposed":
            raise OverrideConflict(
                t(
                    "This proposal was already {status}; nothing was changed.",
                    status=_STATUS[proposal.status],
                )
            )
        row = await conn.fetchrow(
            f"""WITH o AS (
                    UPDATE overrides SET status = 'rejected', rejected_by = $2,
                           rejected_at = $3, rejection_reason = $4
                    WHERE override_id = $1 RETURNING *)
                SELECT {COLUMNS} FROM o JOIN persons p USING (person_id)""",
            override_id,
            member.sub,
            now,
            reason,
        )
        rejected = _proposal(row)
        await audit_log.append(
            conn,
            member,
            now,
            [
                audit_log.Record(
                    "override.reject",
                    rejected.person_ref,
                    rejected.override_id,
                    {"proposed_by": rejected.proposed_by, "reason": reason},
                )
            ],
        )
        return rejected


async def _locked(conn: asyncpg.Connection, override_id: str) -> Proposal:
    """The proposal, its row locked until the transaction ends; 404 if there is none."""
    row = await conn.fetchrow(
        f"""SELECT {COLUMNS} FROM overrides o JOIN persons p USING (person_id)
            WHERE o.override_id = $1 FOR UPDATE OF o""",
        override_id,
    )
    if row is None:
        raise OverrideNotFound(
            t("No such override proposal; the open ones are in the list of overrides.")
        )
    return _proposal(row)


def _check_approvable(proposal: Proposal, member: audit_log.Actor, now: datetime) -> None:
    if proposal.proposed_by == member.sub:
        raise OverrideForbidden(
            t("You proposed this override; a different commission member must approve it.")
        )
    if proposal.status == "rejected":
        raise OverrideConflict(
            t(
                "This proposal was rejected by {member}: {reason} To set the colour, propose "
                "it again.",
                member=proposal.rejected_by,
                reason=proposal.rejection_reason,
            )
        )
    if proposal.status != "proposed":
        raise OverrideConflict(
            t(
                "This override was already approved by another member at {at} and is in "
                "force; to change the colour, propose a new override.",
                at=format_time(proposal.approved_at or now),
            )
        )
    if proposal.until is not None and proposal.until <= now:
        raise OverrideConflict(
            t(
                "This proposal would have ended at {until}, which has passed; propose it "
                "again with a later until.",
                until=format_time(proposal.until),
            )
        )


async def listing(
    conn: asyncpg.Connection, status: str | None, person_ref: str | None, limit: int
) -> list[Proposal]:
    """Proposals, newest first: what awaits a second member's approval, and what was done."""
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM overrides o JOIN persons p USING (person_id)
            WHERE ($1::text IS NULL OR o.status = $1)
              AND ($2::text IS NULL OR p.person_ref = $2)
            ORDER BY o.proposed_at DESC, o.override_id LIMIT $3""",
        status,
        person_ref,
        limit,
    )
    return [_proposal(r) for r in rows]
