"""The fold's accumulator: order-free, idempotent, corrections that stick, rebuilt at once."""

import pytest

from codesvc.state import (
    Color,
    Event,
    EventConflict,
    PersonState,
    apply,
    event_data,
    from_facts,
    from_stored,
    replay,
)

from .facts import DISTRICT, arrival, at, correction, negative, override, person, positive


def test_events_are_kept_sorted_whatever_the_arrival_order() -> None:
    first, second, third = negative(at(days=1)), arrival(at()), positive(at(days=2))
    state = person(first, third, second)
    assert state.events == (second, first, third)


def test_an_event_received_twice_has_one_effect() -> None:
    came = arrival(at())
    once = person(came)
    assert apply(once, came) is once


def test_the_same_id_with_other_content_is_a_conflict() -> None:
    came = arrival(at())
    forged = type(came)(came.event_id, at(days=1), came.area_code, came.source)
    with pytest.raises(EventConflict, match=came.event_id):
        apply(person(came), forged)


def test_a_correction_removes_what_it_voids_and_keeps_itself() -> None:
    came, test = arrival(at()), negative(at(hours=1))
    fix = correction(at(days=1), came)
    state = person(came, test, fix)
    assert state.events == (test, fix)
    assert state.voided == {came.event_id}


def test_a_voided_event_arriving_after_its_correction_stays_void() -> None:
    came = arrival(at())
    fix = correction(at(days=1), came)
    assert person(fix, came) == person(came, fix)
    assert person(fix, came).events == (fix,)


def test_a_correction_cannot_void_a_correction() -> None:
    came = arrival(at())
    fix = correction(at(days=1), came)
    undo = correction(at(days=2), fix)
    for state in (person(came, fix, undo), person(undo, fix, came), person(fix, undo, came)):
        assert state.events == (fix, undo)
        assert state.voided == {came.event_id}


def test_state_rebuilt_from_stored_events_is_the_fold() -> None:
    came = arrival(at())
    red_by_hand = override(at(days=1), Color.RED, at(days=2))
    events = [came, negative(at(hours=3)), red_by_hand, correction(at(days=3), came)]
    stored = [
        from_stored(e.event_id, e.kind, e.occurred_at, event_data(e)) for e in reversed(events)
    ]
    assert stored == list(reversed(events))
    state = from_facts(at(days=-10), DISTRICT, stored)
    assert state == person(*events)
    assert state.voided == {came.event_id}


def test_what_a_lab_wrote_about_an_unlinked_person_is_not_a_fact() -> None:
    test = negative(at())
    data = event_data(test) | {"name": "张三", "phone": "13800138000"}
    assert from_stored(test.event_id, test.kind, test.occurred_at, data) == test


def test_registration_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        PersonState.new(at().replace(tzinfo=None), DISTRICT)


def test_replay_is_a_fold_of_apply() -> None:
    events: list[Event] = [arrival(at()), negative(at(hours=1)), negative(at(hours=26))]
    state = PersonState.new(at(days=-1), DISTRICT)
    for event in events:
        state = apply(state, event)
    assert state == replay(at(days=-1), DISTRICT, reversed(events))
