"""The holds R1–R8 (SPEC §3): which fact holds a person at which colour, and what lifts it.

A hold is a sequence of phases, each a colour over [start, end) in event time. Ends are
the moments conditions became true (a test's sample time, a discharge, a deadline), so
a late event moves them without any notion of "when we found out".
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from codesvc.state.colors import Color
from codesvc.state.events import (
    CaseDischarged,
    ContactDesignated,
    Event,
    Override,
    TestResult,
    TravelArrival,
)
from codesvc.state.person import PersonState
from codesvc.state.rules import Rules
from codesvc.state.span import covers
from codesvc.state.world import Campaign, World

#: a phase is "pending" (green, a deadline runs), "hold" or "monitoring" (after a red)
Stage = Literal["pending", "hold", "monitoring"]

OVERRIDE = "R7"


def chain(times: Sequence[datetime], required: int, spacing: timedelta) -> tuple[datetime, ...]:
    """The earliest run of up to `required` sample times, each `spacing` after the last.

    Taking the earliest time that fits at every step gives the earliest possible
    completion, so the last element (when there are `required`) is the hold's end.
    """
    picked: list[datetime] = []
    for t in times:
        if not picked or t - picked[-1] >= spacing:
            picked.append(t)
            if len(picked) == required:
                break
    return tuple(picked)


@dataclass(frozen=True, slots=True)
class Clearance:
    """Negative tests that lift a phase: `required` of them, `spacing` apart, sampled at or
    after `sampled_after` ("after the hold began" includes a sample taken at that instant).
    """

    sampled_after: datetime
    required: int
    spacing: timedelta
    #: sample times of the negatives that count, sorted
    taken: tuple[datetime, ...] = ()

    def completed_at(self) -> datetime | None:
        """The sample time of the test that completed the set, if the facts have one."""
        done = chain(self.taken, self.required, self.spacing)
        return done[-1] if len(done) == self.required else None

    def progress(self, now: datetime) -> tuple[int, datetime]:
        """Tests still needed among those sampled by `now`, and when the next may be sampled."""
        done = chain(self.taken[: bisect_right(self.taken, now)], self.required, self.spacing)
        if not done:
            return self.required, self.sampled_after
        return self.required - len(done), done[-1] + self.spacing


@dataclass(frozen=True, slots=True)
class Phase:
    """One colour of a hold over [start, end); `end` is None while no fact ends it."""

    start: datetime
    end: datetime | None
    color: Color
    stage: Stage
    #: the tests that end this phase, if tests do
    clearance: Clearance | None = None
    #: the earliest this phase can end while `end` is unknown (R2/R3: t + 14 d)
    earliest_end: datetime | None = None

    def covers(self, t: datetime) -> bool:
        """Whether the phase is in force at `t`."""
        return covers(self.start, self.end, t)


@dataclass(frozen=True, slots=True)
class Hold:
    """One rule applied to one trigger: R1–R6 an event, R7 an override, R8 a campaign."""

    rule: str
    #: the trigger time t of the rule table
    since: datetime
    #: the triggering event's id; the override_id for R7, the campaign_id for R8
    event_id: str
    phases: tuple[Phase, ...]
    trigger: Event | Campaign
    #: the window tests were due in: R6 the landing window, R8 the campaign
    window: tuple[datetime, datetime] | None = None

    @property
    def cause(self) -> str:
        """How intervals name this hold: "R2:<event id>"."""
        return f"{self.rule}:{self.event_id}"

    def phase_at(self, t: datetime) -> Phase | None:
        """The phase in force at `t`, if any."""
        for phase in self.phases:
            if phase.covers(t):
                return phase
        return None


def _phases(*phases: Phase) -> tuple[Phase, ...]:
    # A condition met at the very instant a phase would begin leaves nothing to show.
    return tuple(p for p in phases if p.end is None or p.start < p.end)


class _Facts:
    """The person's facts sorted for the rules: negative sample times, all tests, discharges."""

    def __init__(self, state: PersonState, rules: Rules) -> None:
        self.rules = rules
        self.negatives: list[datetime] = []
        self.tests: list[datetime] = []
        self.discharges: list[datetime] = []
        self._answers: dict[tuple[datetime, int], tuple[Clearance, datetime | None]] = {}
        for event in state.events:
            if isinstance(event, TestResult):
                self.tests.append(event.occurred_at)
                if event.result == "negative":
                    self.negatives.append(event.occurred_at)
            elif isinstance(event, CaseDischarged):
                self.discharges.append(event.occurred_at)

    def clearance(
        self, sampled_after: datetime, required: int
    ) -> tuple[Clearance, datetime | None]:
        """The negatives that count from `sampled_after`, and when `required` of them were done.

        An arrival's R1 and R6 ask the same question; it is answered once.
        """
        key = (sampled_after, required)
        answer = self._answers.get(key)
        if answer is None:
            taken = tuple(self.negatives[bisect_left(self.negatives, sampled_after) :])
            clearance = Clearance(sampled_after, required, self.rules.test_spacing, taken)
            answer = self._answers[key] = (clearance, clearance.completed_at())
        return answer


def _yellow_until_tests(rule: str, event: Event, facts: _Facts) -> Hold:
    """R1, R4: yellow from t until two negatives sampled from t."""
    t = event.occurred_at
    clearance, tested = facts.clearance(t, facts.rules.negatives_to_clear)
    phase = Phase(t, tested, Color.YELLOW, "hold", clearance)
    return Hold(rule, t, event.event_id, _phases(phase), event)


def _red_then_monitoring(rule: str, event: Event, facts: _Facts) -> Hold:
    """R2, R3: red until t + 14 d and two negatives sampled from t + 10 d; then 7 d yellow."""
    rules, t = facts.rules, event.occurred_at
    clearance, tested = facts.clearance(t + rules.red_tests_after, rules.red_negatives_to_clear)
    earliest = t + rules.red_minimum
    end = None if tested is None else max(earliest, tested)
    red = Phase(t, end, Color.RED, "hold", clearance, earliest)
    if end is None:
        return Hold(rule, t, event.event_id, (red,), event)
    monitoring = Phase(end, end + rules.red_monitoring, Color.YELLOW, "monitoring")
    return Hold(rule, t, event.event_id, _phases(red, monitoring), event)


def _positive(event: TestResult, facts: _Facts) -> Hold:
    """R5: red until a discharge after t (negatives do not count); then 7 d yellow."""
    t = event.occurred_at
    later = [d for d in facts.discharges if d > t]
    if not later:
        return Hold("R5", t, event.event_id, (Phase(t, None, Color.RED, "hold"),), event)
    end = later[0]
    monitoring = Phase(end, end + facts.rules.discharge_monitoring, Color.YELLOW, "monitoring")
    return Hold(
        "R5", t, event.event_id, _phases(Phase(t, end, Color.RED, "hold"), monitoring), event
    )


def _landing(event: TravelArrival, facts: _Facts) -> Hold:
    """R6: green while the landing window runs; yellow after it unless two negatives came in it."""
    t = event.occurred_at
    clearance, tested = facts.clearance(t, facts.rules.landing_negatives)
    deadline = t + facts.rules.landing_window
    if tested is not None and tested <= deadline:
        phases = _phases(Phase(t, tested, Color.GREEN, "pending", clearance))
    else:
        phases = _phases(
            Phase(t, deadline, Color.GREEN, "pending", clearance),
            Phase(deadline, tested, Color.YELLOW, "hold", clearance),
        )
    return Hold("R6", t, event.event_id, phases, event, (t, deadline))


def _arrival(event: TravelArrival, world: World, facts: _Facts) -> Iterator[Hold]:
    level = world.risk_level(event.area_code, event.occurred_at)
    if level == "high":
        yield _red_then_monitoring("R2", event, facts)
    elif level == "medium":
        yield _yellow_until_tests("R1", event, facts)
    yield _landing(event, facts)


def _overrides(overrides: Sequence[Override]) -> Iterator[Hold]:
    """R7: each override rules from its start until `until` or the next override's start."""
    for index, current in enumerate(overrides):
        following = overrides[index + 1 : index + 2]
        next_start = following[0].occurred_at if following else None
        ends = [e for e in (current.until, next_start) if e is not None]
        end = min(ends) if ends else None
        phase = Phase(current.occurred_at, end, current.color, "hold")
        yield Hold(OVERRIDE, current.occurred_at, current.override_id, _phases(phase), current)


def _campaigns(state: PersonState, world: World, facts: _Facts) -> Iterator[Hold]:
    """R8: a campaign in the person's district that ended with no test of theirs in it.

    Only people registered before the campaign ended are held: someone who appears
    in the city afterwards had no chance to take part.
    """
    for campaign in world.campaigns_in(state.district):
        t = campaign.ends_at
        tested_in_window = any(campaign.starts_at <= s <= t for s in facts.tests)
        if tested_in_window or state.registered_at >= t:
            continue
        clearance, tested = facts.clearance(t, facts.rules.campaign_negatives)
        window = Clearance(campaign.starts_at, 1, facts.rules.test_spacing)
        phases = _phases(
            Phase(campaign.starts_at, t, Color.GREEN, "pending", window),
            Phase(t, tested, Color.YELLOW, "hold", clearance),
        )
        yield Hold("R8", t, campaign.campaign_id, phases, campaign, (campaign.starts_at, t))


def holds(state: PersonState, world: World) -> tuple[Hold, ...]:
    """Every hold the person's facts and the world give, sorted by (since, rule, id)."""
    facts = _Facts(state, world.rules)
    found: list[Hold] = []
    for event in state.events:
        if isinstance(event, TravelArrival):
            found.extend(_arrival(event, world, facts))
        elif isinstance(event, ContactDesignated):
            if event.level == "close":
                found.append(_red_then_monitoring("R3", event, facts))
            else:
                found.append(_yellow_until_tests("R4", event, facts))
        elif isinstance(event, TestResult) and event.result == "positive":
            found.append(_positive(event, facts))
    found.extend(_overrides([e for e in state.events if isinstance(e, Override)]))
    found.extend(_campaigns(state, world, facts))
    found.sort(key=lambda h: (h.since, h.rule, h.event_id))
    return tuple(found)
