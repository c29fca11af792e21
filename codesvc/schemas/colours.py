"""A person's colour, why it has it, and its history."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from codesvc.schemas.fields import Color, In, Out, QueryBool, TimeOut
from codesvc.state.explain import explain
from codesvc.state.status import Interval, Reason, Status


class ReasonOut(Out):
    rule: str = Field(description="R1 … R8")
    since: TimeOut
    event_id: str = Field(description="the triggering event (R7: the override, R8: the campaign)")
    color: Color
    phase: str
    text: str = Field(description="what it is and what ends it, in the reader's language")
    tests_needed: int | None
    sampled_after: TimeOut | None
    ends_at: TimeOut | None
    set_by_hand: bool = False
    office: str | None = None
    override_reason: str | None = None

    @classmethod
    def of(cls, r: Reason, lang: str) -> ReasonOut:
        return cls(
            rule=r.rule,
            since=r.since,
            event_id=r.event_id,
            color=r.color.value,
            phase=r.phase,
            text=explain(r, lang),
            tests_needed=r.tests_needed,
            sampled_after=r.sampled_after,
            ends_at=r.ends_at,
            set_by_hand=r.set_by_hand,
            office=r.office,
            override_reason=r.override_reason,
        )


class StatusOut(Out):
    person_ref: str
    color: Color
    since: TimeOut
    next_change_at: TimeOut | None = Field(description="when the colour changes by itself")
    as_of: TimeOut
    reasons: list[ReasonOut]

    @classmethod
    def of(cls, person_ref: str, status: Status, lang: str, at: datetime) -> StatusOut:
        return cls(
            person_ref=person_ref,
            color=status.color.value,
            since=status.since,
            next_change_at=status.next_change_at,
            as_of=at,
            reasons=[ReasonOut.of(r, lang) for r in status.reasons],
        )


class IntervalOut(Out):
    start: TimeOut = Field(alias="from")
    to: TimeOut | None
    color: Color
    cause: str
    recorded_at: TimeOut | None = None
    superseded_at: TimeOut | None
    superseded_by: str | None

    @classmethod
    def of(
        cls,
        i: Interval,
        recorded_at: datetime | None = None,
        superseded_at: datetime | None = None,
        superseded_by: str | None = None,
    ) -> IntervalOut:
        return cls.model_validate(
            {
                "from": i.start,
                "to": i.end,
                "color": i.color.value,
                "cause": i.cause,
                "recorded_at": recorded_at,
                "superseded_at": superseded_at,
                "superseded_by": superseded_by,
            }
        )


class HistoryOut(Out):
    person_ref: str
    as_shown: bool
    intervals: list[IntervalOut]


class HistoryQuery(In):
    as_shown: QueryBool = Field(
        False, description="true: the colours as they were shown at the time, not as now believed"
    )
