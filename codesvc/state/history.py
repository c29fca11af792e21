"""The bitemporal colour history: what we believe now, and what we showed at the time.

Rows are never edited away. When the believed timeline changes (a late lab result, a
correction), the rows it contradicts are marked superseded at that moment and the new
intervals are appended, so "what colour did we show on 24 Feb?" and "what colour
should it have been?" both keep their answers.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from codesvc.state.status import Interval


@dataclass(frozen=True, slots=True)
class Recorded:
    """A stored interval: believed from `recorded_at` until `superseded_at` (None: still)."""

    row_id: int
    interval: Interval
    recorded_at: datetime
    superseded_at: datetime | None = None
    #: what superseded it: a correction's event id, an appeal, a late event
    superseded_by: str | None = None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The writes that turn the stored current rows into a newly computed timeline."""

    #: open rows to close in place: (row_id, end)
    close: tuple[tuple[int, datetime], ...] = ()
    #: rows to mark superseded
    supersede: tuple[int, ...] = ()
    #: intervals to append as new rows
    insert: tuple[Interval, ...] = ()

    @property
    def changes(self) -> bool:
        """Whether there is anything to write."""
        return bool(self.close or self.supersede or self.insert)


def reconcile(
    current: Sequence[Recorded], new: Sequence[Interval], now: datetime
) -> Reconciliation:
    """What to write at `now` so that the current rows become exactly `new`.

    Rows equal to a new interval stay. An open row whose new version keeps its start,
    colour and cause and ends at or after `now` is closed in place: up to now it showed
    exactly what we believe, so nothing needs superseding. Every other row is superseded.
    """
    wanted = set(new)
    kept: set[Interval] = set()
    leftovers: list[Recorded] = []
    for row in sorted(current, key=lambda r: r.row_id):
        if row.superseded_at is not None:
            continue
        if row.interval in wanted and row.interval not in kept:
            kept.add(row.interval)
        else:
            leftovers.append(row)
    closable = {
        (i.start, i.color, i.cause): i
        for i in new
        if i not in kept and i.end is not None and i.end >= now
    }
    close: list[tuple[int, datetime]] = []
    supersede: list[int] = []
    for row in leftovers:
        i = row.interval
        later = closable.pop((i.start, i.color, i.cause), None) if i.end is None else None
        if later is not None and later.end is not None:
            close.append((row.row_id, later.end))
            kept.add(later)
        else:
            supersede.append(row.row_id)
    insert = tuple(i for i in new if i not in kept)
    return Reconciliation(tuple(close), tuple(supersede), insert)


def record(
    rows: Sequence[Recorded],
    reconciliation: Reconciliation,
    now: datetime,
    superseded_by: str | None = None,
) -> tuple[Recorded, ...]:
    """`rows` with a reconciliation written at `now`, new rows numbered after the last.

    What a store does in one transaction; kept here so the contract is checked once.
    """
    ends = dict(reconciliation.close)
    gone = set(reconciliation.supersede)
    written: list[Recorded] = []
    for row in rows:
        if row.row_id in gone:
            row = replace(row, superseded_at=now, superseded_by=superseded_by)
        elif row.row_id in ends:
            row = replace(row, interval=replace(row.interval, end=ends[row.row_id]))
        written.append(row)
    next_id = max((r.row_id for r in rows), default=0) + 1
    written.extend(
        Recorded(next_id + n, interval, now) for n, interval in enumerate(reconciliation.insert)
    )
    return tuple(written)


def current(rows: Sequence[Recorded]) -> tuple[Interval, ...]:
    """The timeline believed now: the rows not superseded, in time order."""
    return tuple(
        sorted((r.interval for r in rows if r.superseded_at is None), key=lambda i: i.start)
    )


def shown_portion(row: Recorded, now: datetime) -> Interval | None:
    """The part of a row that was on screen: while it was believed, up to `now`.

    None for a row never shown (superseded before its start, or still in the future),
    which an API may leave out.
    """
    interval = row.interval
    start = max(interval.start, row.recorded_at)
    ends = [t for t in (interval.end, row.superseded_at) if t is not None]
    end = min([now, *ends])
    if start >= end:
        return None
    return Interval(start, end, interval.color, interval.cause)


def as_shown(rows: Sequence[Recorded], now: datetime) -> tuple[Interval, ...]:
    """What was actually shown up to `now`, as contiguous intervals of differing colour.

    Each instant takes the row believed at that instant, so a late event recorded
    today, which supersedes rows from today on, never changes what was shown last week.
    """
    pieces = sorted(
        (p for row in rows if (p := shown_portion(row, now)) is not None), key=lambda i: i.start
    )
    merged: list[Interval] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last is not None and last.color is piece.color and last.end == piece.start:
            merged[-1] = replace(last, end=piece.end)
        else:
            merged.append(piece)
    return tuple(merged)
