"""Appeals as the service reads them: the rows, their mapping, and the errors of the workflow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from codesvc.appeals.machine import OPEN, Actor, AppealError, AppealState, can_view
from codesvc.appeals.rules import AppealPolicy
from codesvc.messages import Text, t
from codesvc.schemas.events import Fact
from codesvc.service import audit_log
from codesvc.settings import Settings
from codesvc.tokens import Principal

#: Most appeals one queue page shows.
QUEUE_MAX = 500

OPEN_VALUES = sorted(s.value for s in OPEN)

NOT_FOUND = t(
    "No such appeal, or not one you may see; check the appeal's number against your "
    "appeals, or your district's queue."
)


class AppealNotFound(AppealError):
    """No such appeal, or one the caller may not see (HTTP 404, never a hint)."""


class AppealInvalid(AppealError):
    """The request cannot be carried out as given; `errors` names each field (HTTP 422)."""

    def __init__(self, detail: Text, errors: Mapping[str, Text] | None = None) -> None:
        super().__init__(detail)
        self.errors = dict(errors or {})


class TooManyAppeals(AppealError):
    """The citizen filed as many appeals as a day allows (HTTP 429)."""

    def __init__(self, detail: Text, retry_after: timedelta) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def policy(settings: Settings) -> AppealPolicy:
    """The configured appeal policy."""
    return AppealPolicy(
        due_after=timedelta(hours=settings.appeal_due_hours),
        daily_limit=settings.appeal_daily_limit,
    )


def actor_of(caller: Principal) -> Actor:
    return Actor(caller.role, caller.sub, caller.district)


@dataclass(frozen=True, slots=True)
class Appeal:
    appeal_id: str
    person_id: int
    person_ref: str
    district: str
    category: str
    description: str
    evidence: Mapping[str, object]
    disputed_event_id: str | None
    state: AppealState
    claimed_by: str | None
    filed_at: datetime
    due_at: datetime
    decided_at: datetime | None
    outcome_note: str | None
    version: int


@dataclass(frozen=True, slots=True)
class Note:
    note_id: int
    author_role: str
    author_sub: str
    visibility: str
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime
    actor_role: str
    actor_sub: str
    from_state: str | None
    to_state: str
    why: str | None


@dataclass(frozen=True, slots=True)
class Dossier:
    """An appeal with its notes and its transitions, oldest first."""

    appeal: Appeal
    notes: tuple[Note, ...] = ()
    transitions: tuple[Transition, ...] = ()


@dataclass(frozen=True, slots=True)
class Filing:
    category: str
    description: str
    disputed_event_id: str | None = None
    evidence: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Corrections:
    """What a `corrected` decision changes: events to void, facts to add."""

    void: Sequence[str] = ()
    add: Sequence[Fact] = ()


APPEAL_COLUMNS = """a.appeal_id, a.person_id, p.person_ref, a.district, a.category,
    a.description, a.evidence, a.disputed_event_id::text, a.status, a.claimed_by, a.filed_at,
    a.due_at, a.decided_at, a.outcome_note, a.version"""


def appeal_from_row(row: asyncpg.Record) -> Appeal:
    return Appeal(
        row["appeal_id"],
        row["person_id"],
        row["person_ref"],
        row["district"],
        row["category"],
        row["description"],
        row["evidence"],
        row["disputed_event_id"],
        AppealState(row["status"]),
        row["claimed_by"],
        row["filed_at"],
        row["due_at"],
        row["decided_at"],
        row["outcome_note"],
        row["version"],
    )


def visible(row: asyncpg.Record | None, actor: Actor) -> Appeal:
    if row is None:
        raise AppealNotFound(NOT_FOUND)
    appeal = appeal_from_row(row)
    if not can_view(actor, appeal_district=appeal.district, appeal_person_ref=appeal.person_ref):
        raise AppealNotFound(NOT_FOUND)
    return appeal


def audit_record(
    action: str, appeal: Appeal, detail: Mapping[str, object] | None = None
) -> audit_log.Record:
    return audit_log.Record(
        action, appeal.person_ref, appeal.appeal_id, {"district": appeal.district, **(detail or {})}
    )
