"""Filing an appeal, and the evidence the machine can check: a lab result nobody was tied to."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

import asyncpg

from codesvc.appeals import rules as appeal_rules
from codesvc.appeals.machine import SYSTEM, Actor, AppealConflict
from codesvc.appeals.rules import AppealPolicy, Category
from codesvc.messages import Text, t
from codesvc.service import audit_log, stored_status
from codesvc.service.appeals.corrections import recompute
from codesvc.service.appeals.moves import move, record_transition
from codesvc.service.appeals.rows import (
    APPEAL_COLUMNS,
    OPEN_VALUES,
    Appeal,
    AppealInvalid,
    Filing,
    TooManyAppeals,
    appeal_from_row,
    audit_record,
)
from codesvc.service.persons import Person
from codesvc.state.events import format_time, from_stored, parse_event_id
from codesvc.state.rules import Rules


async def file(
    conn: asyncpg.Connection,
    person: Person,
    filing: Filing,
    *,
    now: datetime,
    policy: AppealPolicy,
    rules: Rules,
) -> Appeal:
    """File an appeal for ``person``; one whose evidence the machine can check resolves now."""
    errors = appeal_rules.validate_filing(
        filing.category, filing.description, filing.evidence, filing.disputed_event_id, policy
    )
    if errors:
        raise AppealInvalid(t("The appeal cannot be filed as it is; fix the fields named."), errors)
    citizen = Actor("citizen", person.person_ref)
    async with conn.transaction():
        # The person's status row serialises their filings, so the limits hold under races.
        await stored_status.lock(conn, [person.person_id])
        await _check_limit(conn, person, now, policy)
        disputed = parse_event_id(filing.disputed_event_id) if filing.disputed_event_id else None
        reported_by = await _disputed(conn, person, disputed) if disputed else None
        appeal_id = "a_" + secrets.token_hex(6)
        try:
            row = await conn.fetchrow(
                f"""WITH a AS (
                        INSERT INTO appeals (appeal_id, person_id, district, category,
                            description, evidence, disputed_event_id, status, filed_at, due_at)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitted', $8, $9)
                        RETURNING *)
                    SELECT {APPEAL_COLUMNS} FROM a JOIN persons p USING (person_id)""",
                appeal_id,
                person.person_id,
                appeal_rules.route(reported_by, person.district),
                filing.category,
                filing.description.strip(),
                dict(filing.evidence),
                disputed,
                now,
                appeal_rules.due_at(now, policy),
            )
        except asyncpg.UniqueViolationError:
            raise AppealConflict(_already_open(disputed)) from None
        appeal = appeal_from_row(row)
        await record_transition(conn, appeal, None, citizen, now, None)
        await audit_log.append(
            conn, citizen, now, [audit_record("appeal.file", appeal, {"to": appeal.state.value})]
        )
        if appeal.category == Category.MISSING_TEST_RESULT.value:
            appeal = await _try_link(conn, appeal, person, now, rules)
        return appeal


async def _check_limit(
    conn: asyncpg.Connection, person: Person, now: datetime, policy: AppealPolicy
) -> None:
    filed = await conn.fetch(
        "SELECT filed_at FROM appeals WHERE person_id = $1 AND filed_at > $2 ORDER BY filed_at",
        person.person_id,
        now - policy.daily_window,
    )
    times = [r["filed_at"] for r in filed]
    if appeal_rules.limit_reached(times, now, policy):
        wait = times[len(times) - policy.daily_limit] + policy.daily_window - now
        raise TooManyAppeals(
            t(
                "You have filed {count} appeals in the last {hours} hours, the most allowed; "
                "you can file another after {after}. Your open appeals are still being worked.",
                count=len(times),
                hours=_hours(policy.daily_window),
                after=format_time(now + wait),
            ),
            wait,
        )


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}"


async def _disputed(conn: asyncpg.Connection, person: Person, event_id: str) -> str | None:
    """The district that reported the disputed event (None: the person's own works it)."""
    row = await conn.fetchrow(
        "SELECT person_id, data ->> 'reporting_district' AS reported_by FROM events "
        "WHERE event_id = $1",
        uuid.UUID(event_id),
    )
    if row is None or row["person_id"] != person.person_id:
        raise AppealInvalid(
            t(
                "The disputed event is not on your record; give the event_id shown with the "
                "reason for your colour."
            ),
            {"disputed_event_id": t("not an event on your record")},
        )
    open_one = await conn.fetchval(
        """SELECT appeal_id FROM appeals WHERE person_id = $1 AND disputed_event_id = $2
           AND status = ANY($3::text[])""",
        person.person_id,
        uuid.UUID(event_id),
        OPEN_VALUES,
    )
    if open_one is not None:
        raise AppealConflict(_already_open(event_id, open_one))
    reported_by: str | None = row["reported_by"]
    return reported_by


def _already_open(event_id: str | None, appeal_id: str | None = None) -> Text:
    return t(
        "You already have an open appeal ({appeal}) about this record; follow it under "
        "your appeals, or withdraw it before filing again.",
        appeal=appeal_id or "…",
    )


async def _try_link(
    conn: asyncpg.Connection, appeal: Appeal, person: Person, now: datetime, rules: Rules
) -> Appeal:
    """Link a lab result no one was tied to, when the evidence names it and the name and
    phone the lab wrote down are the appellant's; then the appeal is corrected at once."""
    lab_id = str(appeal.evidence.get("lab_id", "")).strip()
    sample_id = str(appeal.evidence.get("sample_id", "")).strip()
    rows = await conn.fetch(
        """SELECT event_id::text, kind, occurred_at, data FROM events
           WHERE kind = 'test.result' AND person_id IS NULL
             AND data ->> 'lab_id' = $1 AND data ->> 'sample_id' = $2
           ORDER BY event_id FOR UPDATE""",
        lab_id,
        sample_id,
    )
    found = [
        r
        for r in rows
        if appeal_rules.evidence_matches(
            r["data"].get("name"), r["data"].get("phone"), person.name, person.phone
        )
    ]
    if not found:
        return appeal
    await conn.execute(
        "UPDATE events SET person_id = $1 WHERE event_id = ANY($2::uuid[])",
        person.person_id,
        [r["event_id"] for r in found],
    )
    events = [from_stored(r["event_id"], r["kind"], r["occurred_at"], r["data"]) for r in found]
    await recompute(conn, appeal, now, rules)
    note = (
        f"已找到您在检测机构 {lab_id} 的检测结果（样本 {sample_id}）并计入您的记录。"
        f"Your test result from lab {lab_id} (sample {sample_id}) was found and added to "
        "your record."
    )
    linked = [e.event_id for e in events]
    return await move(
        conn,
        appeal,
        "auto_correct",
        SYSTEM,
        now,
        why=f"linked lab result(s) {', '.join(linked)}",
        outcome_note=note,
        detail={"linked": linked},
    )
