"""What a status read returns: the colour, why, and the colour timeline it was read from."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from codesvc.state.colors import Color
from codesvc.state.holds import Stage
from codesvc.state.span import covers

#: the cause of a green interval: no hold decides it
NO_CAUSE = "none"


@dataclass(frozen=True, slots=True)
class Interval:
    """A colour over [start, end); `cause` is "R2:<id>" for the deciding hold, or "none"."""

    start: datetime
    end: datetime | None
    color: Color
    cause: str

    def covers(self, t: datetime) -> bool:
        """Whether `t` falls in the interval."""
        return covers(self.start, self.end, t)


@dataclass(frozen=True, slots=True)
class Reason:
    """One hold in force, in fields a program can check; `explain` turns it into words."""

    rule: str
    since: datetime
    #: the triggering event; the override_id for R7, the campaign_id for R8
    event_id: str
    #: the colour of the hold's current phase (green while a deadline runs)
    color: Color
    phase: Stage
    #: negative tests still needed, counting those sampled so far
    tests_needed: int | None = None
    #: negative tests that lift the phase in all
    tests_required: int | None = None
    #: tests count when sampled at or after this time
    sampled_after: datetime | None = None
    #: when the phase ends if nothing else happens (for R2/R3 red: the earliest end)
    ends_at: datetime | None = None
    #: the earliest sample time at which the next test counts
    next_test_from: datetime | None = None
    #: least time between two tests that count together
    test_spacing: timedelta | None = None
    #: the area arrived from (R1, R2, R6)
    area_code: str | None = None
    #: the window the tests were due in (R6: landing window, R8: the campaign)
    window_start: datetime | None = None
    window_end: datetime | None = None
    #: R7: a colour set by hand, by which office and why
    set_by_hand: bool = False
    office: str | None = None
    override_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """The colour at a moment, since when, when it changes by itself, and why."""

    color: Color
    since: datetime
    next_change_at: datetime | None
    reasons: tuple[Reason, ...]
    #: the whole believed timeline, including what the facts already fix for the future
    intervals: tuple[Interval, ...]
