"""Properties over random people and worlds: the status is a fold, not a history of arrivals."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from codesvc.state import (
    Campaign,
    CaseDischarged,
    Color,
    ContactDesignated,
    Correction,
    Event,
    Interval,
    Listing,
    Override,
    PersonState,
    Recorded,
    TestResult,
    TravelArrival,
    World,
    apply,
    as_shown,
    current,
    evaluate,
    event_data,
    from_facts,
    from_stored,
    origin,
    reconcile,
    record,
    replay,
    sort_key,
    timeline,
)

BASE = datetime(2022, 2, 1, tzinfo=UTC)
AREAS = ("440306", "510107", "320106")
DISTRICTS = ("310101", "310104")
HOUR = timedelta(hours=1)

#: whole hours over six weeks: the 24 h, 72 h, 10 d and 14 d boundaries are hit exactly
moments = st.integers(0, 42 * 24).map(lambda h: BASE + h * HOUR)
KINDS: tuple[str, ...] = ("arrival", "arrival", "negative", "negative", "negative", "positive")
KINDS += ("close", "secondary", "discharge", "override", "correction")

Person = tuple[datetime, str, list[Event]]


@st.composite
def one_event(
    draw: st.DrawFn, event_id: str, index: int, ids: list[str], kinds: tuple[str, ...]
) -> Event:
    t = draw(moments)
    kind = draw(st.sampled_from(kinds))
    if kind == "arrival":
        reporting = draw(st.none() | st.sampled_from(DISTRICTS))
        return TravelArrival(event_id, t, draw(st.sampled_from(AREAS)), "itinerary", reporting)
    if kind in ("negative", "positive"):
        return TestResult(
            event_id, t, "negative" if kind == "negative" else "positive", "lab", f"s{index}"
        )
    if kind in ("close", "secondary"):
        return ContactDesignated(event_id, t, "close" if kind == "close" else "secondary", "case")
    if kind == "discharge":
        return CaseDischarged(event_id, t, "case")
    if kind == "override":
        until = draw(st.none() | st.integers(1, 240).map(lambda h: t + h * HOUR))
        return Override(
            event_id, t, draw(st.sampled_from(list(Color))), "why", "office", f"ov{index}", until
        )
    voids = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
    voids = [v for v in voids if v != event_id] or [str(draw(st.uuids()))]
    return Correction(event_id, t, tuple(voids), "appeal upheld", None)


@st.composite
def persons(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS) -> Person:
    """A registration time, a district and 0–12 events of every kind."""
    count = draw(st.integers(0, 12))
    ids = [str(u) for u in draw(st.lists(st.uuids(), min_size=count, max_size=count, unique=True))]
    events = [draw(one_event(event_id, i, ids, kinds)) for i, event_id in enumerate(ids)]
    registered = draw(st.integers(-5 * 24, 30 * 24).map(lambda h: BASE + h * HOUR))
    return registered, draw(st.sampled_from(DISTRICTS)), events


@st.composite
def worlds(draw: st.DrawFn) -> World:
    listings = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(moments) - draw(st.integers(0, 10 * 24)) * HOUR
        length = draw(st.none() | st.integers(1, 20 * 24))
        end = None if length is None else start + length * HOUR
        listings.append(
            Listing(
                draw(st.sampled_from(AREAS)), draw(st.sampled_from(["medium", "high"])), start, end
            )
        )
    campaigns = []
    for i in range(draw(st.integers(0, 2))):
        starts = draw(moments)
        ends = starts + draw(st.integers(1, 72)) * HOUR
        districts = frozenset(draw(st.lists(st.sampled_from(DISTRICTS), min_size=1, unique=True)))
        campaigns.append(Campaign(f"camp{i}", districts, starts, ends))
    return World(tuple(listings), tuple(campaigns))


def color_at(intervals: tuple[Interval, ...], t: datetime) -> Color:
    """The colour a timeline gives `t`; green before it starts."""
    return next((i.color for i in intervals if i.covers(t)), Color.GREEN)


@given(persons(), worlds(), moments, st.data())
def test_order_and_duplicates_do_not_matter(
    person: Person, world: World, now: datetime, data: st.DataObject
) -> None:
    registered, district, events = person
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    received = data.draw(st.permutations(events + repeats))
    expected = replay(registered, district, events)
    state = replay(registered, district, received)
    assert state == expected
    assert evaluate(state, world, now) == evaluate(expected, world, now)


@given(persons(), worlds(), moments, st.data())
def test_applying_in_time_order_equals_replay(
    person: Person, world: World, now: datetime, data: st.DataObject
) -> None:
    registered, district, events = person
    state = PersonState.new(registered, district)
    for event in sorted(events, key=sort_key):
        state = apply(state, event)
    replayed = replay(registered, district, data.draw(st.permutations(events)))
    assert state == replayed
    assert evaluate(state, world, now) == evaluate(replayed, world, now)


@given(persons(kinds=tuple(k for k in KINDS if k != "correction")), worlds(), moments, st.data())
def test_a_correction_equals_never_having_received_what_it_voids(
    person: Person, world: World, now: datetime, data: st.DataObject
) -> None:
    registered, district, events = person
    ids = [e.event_id for e in events]
    voided = set(data.draw(st.lists(st.sampled_from(ids), unique=True))) if ids else set()
    unknown = str(data.draw(st.uuids()))
    fix = Correction(
        str(data.draw(st.uuids())), data.draw(moments), (*sorted(voided), unknown), "x", None
    )
    corrected = replay(registered, district, data.draw(st.permutations([*events, fix])))
    never = replay(registered, district, [e for e in events if e.event_id not in voided])
    assert evaluate(corrected, world, now) == evaluate(never, world, now)


@given(persons(), worlds(), moments)
def test_the_timeline_is_well_formed_and_read_at_now(
    person: Person, world: World, now: datetime
) -> None:
    state = replay(*person)
    s = evaluate(state, world, now)
    intervals = s.intervals
    assert intervals[0].start == origin(state)
    assert intervals[-1].end is None
    for a, b in pairwise(intervals):
        assert a.end == b.start
        assert a.start < b.start
        assert a.color is not b.color
    for i in intervals:
        assert (i.cause == "none") == (i.color is Color.GREEN and not i.cause.startswith("R7:"))
    if now < intervals[0].start:
        assert (s.color, s.reasons) == (Color.GREEN, ())
        return
    (containing,) = [i for i in intervals if i.covers(now)]
    assert (s.color, s.since, s.next_change_at) == (
        containing.color,
        containing.start,
        containing.end,
    )
    if s.reasons and s.reasons[0].rule == "R7":
        assert s.color is s.reasons[0].color
    else:
        assert s.color.severity == max((r.color.severity for r in s.reasons), default=0)


@given(persons(), worlds(), moments, moments)
def test_time_alone_reads_the_same_timeline(
    person: Person, world: World, now: datetime, later: datetime
) -> None:
    state = replay(*person)
    first, second = evaluate(state, world, now), evaluate(state, world, later)
    assert first.intervals == second.intervals == timeline(state, world)
    assert second.color is color_at(first.intervals, later)


@given(persons(), st.data())
def test_rebuilding_from_stored_events_equals_the_fold(person: Person, data: st.DataObject) -> None:
    """What the service does on every write (all of a person's stored events at once, in
    whatever order the database returns them) is the fold, event by event."""
    registered_at, district, events = person
    stored = [
        from_stored(e.event_id, e.kind, e.occurred_at, orjson.loads(orjson.dumps(event_data(e))))
        for e in data.draw(st.permutations(events))
    ]
    assert from_facts(registered_at, district, stored) == replay(*person)
    for event in events:
        assert (
            from_stored(event.event_id, event.kind, event.occurred_at, event_data(event)) == event
        )


def clip(
    intervals: tuple[Interval, ...], cut: datetime
) -> list[tuple[datetime, datetime, Color, str]]:
    return [(i.start, min(i.end or cut, cut), i.color, i.cause) for i in intervals if i.start < cut]


@settings(max_examples=150)
@given(persons(), worlds(), st.data())
def test_history_reconciles_to_the_new_timeline_and_never_rewrites_what_was_shown(
    person: Person, world: World, data: st.DataObject
) -> None:
    registered, district, events = person
    received = data.draw(st.permutations(events))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(received)), min_size=1, max_size=4)))
    rows: tuple[Recorded, ...] = ()
    now = registered + data.draw(st.integers(0, 48)) * HOUR
    first_shown = now
    shown: tuple[Interval, ...] = ()
    for step, cut in enumerate([*cuts, len(received)]):
        new = timeline(replay(registered, district, received[:cut]), world)
        rows = record(rows, reconcile(rows, new, now), now, f"step{step}")
        assert current(rows) == new
        assert len({r.row_id for r in rows}) == len(rows)
        assert clip(as_shown(rows, now), now) == clip(shown, now)
        later = now + data.draw(st.integers(0, 10 * 24)) * HOUR
        shown = as_shown(rows, later)
        if later > first_shown:
            assert (shown[0].start, shown[-1].end) == (first_shown, later)
            for a, b in pairwise(shown):
                assert a.end == b.start
                assert a.color is not b.color
        now = later
