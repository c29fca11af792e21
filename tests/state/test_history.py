"""Bitemporal history: corrections append, and what was shown stays what was shown."""

from datetime import datetime

from codesvc.state import (
    Color,
    Interval,
    Reconciliation,
    Recorded,
    as_shown,
    current,
    reconcile,
    record,
    shown_portion,
    timeline,
)

from .facts import HIGH_AREA, WORLD, arrival, at, correction, person

GREEN, YELLOW, RED = Color.GREEN, Color.YELLOW, Color.RED


def rows_for(intervals: tuple[Interval, ...], now: datetime) -> tuple[Recorded, ...]:
    """The rows a store holds after writing its first timeline at `now`."""
    return record((), reconcile((), intervals, now), now)


def test_an_unchanged_timeline_writes_nothing() -> None:
    intervals = timeline(person(arrival(at())), WORLD)
    rows = rows_for(intervals, at(days=1))
    assert not reconcile(rows, intervals, at(days=2)).changes


def test_an_open_row_that_ends_later_than_now_is_closed_in_place() -> None:
    open_yellow = Interval(at(), None, YELLOW, "R1:a")
    rows = rows_for((Interval(at(days=-1), at(), GREEN, "none"), open_yellow), at(hours=1))
    new = (
        Interval(at(days=-1), at(), GREEN, "none"),
        Interval(at(), at(days=2), YELLOW, "R1:a"),
        Interval(at(days=2), None, GREEN, "none"),
    )
    change = reconcile(rows, new, at(days=1))
    assert change == Reconciliation(close=((2, at(days=2)),), insert=(new[2],))
    assert current(record(rows, change, at(days=1))) == new


def test_an_open_row_that_should_have_ended_before_now_is_superseded() -> None:
    rows = rows_for((Interval(at(), None, YELLOW, "R1:a"),), at())
    new = (Interval(at(), at(days=1), YELLOW, "R1:a"), Interval(at(days=1), None, GREEN, "none"))
    change = reconcile(rows, new, at(days=2))
    assert change == Reconciliation(supersede=(1,), insert=new)
    written = record(rows, change, at(days=2), superseded_by="late lab result")
    assert current(written) == new
    assert (written[0].superseded_at, written[0].superseded_by) == (at(days=2), "late lab result")


def test_a_correction_keeps_what_was_shown_and_what_should_have_been() -> None:
    came = arrival(at(), HIGH_AREA)
    wrong = person(came)
    rows = rows_for(timeline(wrong, WORLD), at(hours=1))
    fix = correction(at(days=3), came)
    right = timeline(person(came, fix), WORLD)
    rows = record(rows, reconcile(rows, right, at(days=3)), at(days=3), fix.event_id)
    assert current(rows) == right == (Interval(at(days=-10), None, GREEN, "none"),)
    shown = as_shown(rows, at(days=5))
    assert [(i.start, i.end, i.color) for i in shown] == [
        (at(hours=1), at(days=3), RED),
        (at(days=3), at(days=5), GREEN),
    ]
    superseded = [r for r in rows if r.superseded_at is not None]
    assert {r.superseded_by for r in superseded} == {fix.event_id}


def test_a_late_event_never_changes_what_was_shown_last_week() -> None:
    rows = rows_for((Interval(at(days=-10), None, GREEN, "none"),), at(days=-10))
    before = as_shown(rows, at(days=5))
    late = timeline(person(arrival(at(), HIGH_AREA)), WORLD)  # an arrival on day 0, told on day 5
    rows = record(rows, reconcile(rows, late, at(days=5)), at(days=5))
    after = as_shown(rows, at(days=6))
    assert after[0] == before[0] == Interval(at(days=-10), at(days=5), GREEN, "none")
    assert (after[1].start, after[1].color) == (at(days=5), RED)


def test_rows_never_shown_have_no_shown_portion() -> None:
    future = Recorded(1, Interval(at(days=3), None, RED, "R2:a"), at(), at(days=1), "fix")
    assert shown_portion(future, at(days=5)) is None
    past = Recorded(2, Interval(at(days=-3), at(days=2), RED, "R2:a"), at(), None)
    assert shown_portion(past, at(days=1)) == Interval(at(), at(days=1), RED, "R2:a")


def test_shown_intervals_of_one_colour_merge() -> None:
    rows = (
        Recorded(1, Interval(at(), at(days=1), YELLOW, "R1:a"), at()),
        Recorded(2, Interval(at(days=1), None, YELLOW, "R6:a"), at()),
    )
    assert as_shown(rows, at(days=2)) == (Interval(at(), at(days=2), YELLOW, "R1:a"),)
