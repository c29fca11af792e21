"""The colour timeline as a pure function of facts and world; a status is it read at `now`."""

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime

from codesvc.state.colors import Color
from codesvc.state.events import Correction, Override, TravelArrival
from codesvc.state.holds import OVERRIDE, Hold, Phase, holds
from codesvc.state.machine import walk
from codesvc.state.person import PersonState
from codesvc.state.span import covers
from codesvc.state.status import NO_CAUSE, Interval, Reason, Status
from codesvc.state.world import World

#: a phase as the timeline needs it: start, end, colour, set by hand, precedence key
_Row = tuple[datetime, datetime | None, Color, bool, tuple[int, datetime, str]]


def origin(state: PersonState) -> datetime:
    """Where the timeline starts: registration, or an earlier fact.

    Corrections move no colour, so they do not stretch the timeline back: a corrected
    history is then exactly the one without the voided events.
    """
    facts = [e.occurred_at for e in state.events if not isinstance(e, Correction)]
    return min([state.registered_at, *facts])


def _decide(rows: Sequence[_Row], t: datetime) -> tuple[Color, str]:
    """The colour at `t`: an active override's; else the most severe phase, ties to the
    earliest hold, then the smallest cause; else green."""
    best: tuple[int, datetime, str] | None = None
    color = Color.GREEN
    for start, end, phase_color, override, key in rows:
        if covers(start, end, t):
            if override:
                return phase_color, key[2]
            if best is None or key < best:
                best, color = key, phase_color
    return (color, best[2]) if best is not None else (Color.GREEN, NO_CAUSE)


def build(found: Sequence[Hold], start: datetime) -> tuple[Interval, ...]:
    """The intervals from `start` on, walked through the colour machine."""
    # Green phases only mark a running deadline: they never decide a colour, unless set by hand.
    rows: list[_Row] = [
        (
            phase.start,
            phase.end,
            phase.color,
            hold.rule == OVERRIDE,
            (-phase.color.severity, hold.since, hold.cause),
        )
        for hold in found
        for phase in hold.phases
        if phase.color is not Color.GREEN or hold.rule == OVERRIDE
    ]
    points = {start}
    for row in rows:
        points.add(row[0])
        if row[1] is not None:
            points.add(row[1])
    changes: list[tuple[datetime, Color, str]] = []
    for t in sorted(p for p in points if p >= start):
        color, cause = _decide(rows, t)
        if not changes or changes[-1][1] is not color:
            changes.append((t, color, cause))
    return walk(changes)


def timeline(state: PersonState, world: World) -> tuple[Interval, ...]:
    """The person's whole believed colour timeline, from `origin` to its open end."""
    return build(holds(state, world), origin(state))


def _reason(hold: Hold, phase: Phase, now: datetime) -> Reason:
    tests_needed = tests_required = next_test_from = sampled_after = spacing = None
    if phase.clearance is not None:
        tests_needed, next_test_from = phase.clearance.progress(now)
        tests_required = phase.clearance.required
        sampled_after = phase.clearance.sampled_after
        spacing = phase.clearance.spacing
    trigger = hold.trigger
    window_start, window_end = hold.window or (None, None)
    return Reason(
        rule=hold.rule,
        since=hold.since,
        event_id=hold.event_id,
        color=phase.color,
        phase=phase.stage,
        tests_needed=tests_needed,
        tests_required=tests_required,
        sampled_after=sampled_after,
        ends_at=phase.end if phase.end is not None else phase.earliest_end,
        next_test_from=next_test_from,
        test_spacing=spacing,
        area_code=trigger.area_code if isinstance(trigger, TravelArrival) else None,
        window_start=window_start,
        window_end=window_end,
        set_by_hand=isinstance(trigger, Override),
        office=trigger.office if isinstance(trigger, Override) else None,
        override_reason=trigger.reason if isinstance(trigger, Override) else None,
    )


def reasons(found: Sequence[Hold], now: datetime) -> tuple[Reason, ...]:
    """One reason per hold in force at `now`: an override first, then the most severe."""
    active = [(hold, phase) for hold in found if (phase := hold.phase_at(now)) is not None]
    active.sort(key=lambda a: (a[0].rule != OVERRIDE, -a[1].color.severity, a[0].since, a[0].cause))
    return tuple(_reason(hold, phase, now) for hold, phase in active)


def evaluate(state: PersonState, world: World, now: datetime, *, explained: bool = True) -> Status:
    """The person's status at `now`: the timeline's interval containing `now`, and why.

    Before the timeline's origin (a clock behind the registration) the person is green.
    Without ``explained`` the reasons are left out: what is stored needs only the colour,
    its times and the intervals, and the reasons cost a third of an evaluation.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    found = holds(state, world)
    intervals = build(found, origin(state))
    index = bisect_right(intervals, now, key=lambda i: i.start) - 1
    if index < 0:
        first = intervals[0]
        next_change = first.start if first.color is not Color.GREEN else first.end
        return Status(Color.GREEN, now, next_change, (), intervals)
    current = intervals[index]
    why = reasons(found, now) if explained else ()
    return Status(current.color, current.start, current.end, why, intervals)
