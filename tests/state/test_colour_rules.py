"""The rule table of SPEC §3, row by row, with the boundaries a citizen would argue about."""

from datetime import timedelta

import pytest

from codesvc.state import Color, Event, Listing, Rules, World, evaluate

from .facts import (
    HIGH_AREA,
    MEDIUM_AREA,
    UNLISTED_AREA,
    WORLD,
    arrival,
    at,
    campaign,
    colors,
    contact,
    correction,
    discharge,
    negative,
    override,
    person,
    positive,
    status,
)

GREEN, YELLOW, RED = Color.GREEN, Color.YELLOW, Color.RED
ORIGIN = at(days=-10)


class TestTwoNegatives:
    """R1 (medium-risk arrival) is the plainest "two negative tests" hold."""

    def test_medium_risk_arrival_is_yellow_with_two_tests_needed(self) -> None:
        came = arrival(at(), MEDIUM_AREA)
        s = status(at(hours=1), came)
        assert (s.color, s.since, s.next_change_at) == (YELLOW, at(), None)
        r1 = s.reasons[0]
        assert (r1.rule, r1.event_id, r1.phase, r1.tests_needed) == ("R1", came.event_id, "hold", 2)
        assert r1.sampled_after == at()
        assert s.intervals[1].cause == f"R1:{came.event_id}"

    def test_tests_exactly_24_hours_apart_count(self) -> None:
        s = status(at(days=5), arrival(at()), negative(at(hours=1)), negative(at(hours=25)))
        assert colors(s) == [(ORIGIN, GREEN), (at(), YELLOW), (at(hours=25), GREEN)]

    def test_tests_23h59m_apart_do_not(self) -> None:
        s = status(
            at(days=5), arrival(at()), negative(at(hours=1)), negative(at(hours=24, minutes=59))
        )
        assert s.color is YELLOW
        r1 = next(r for r in s.reasons if r.rule == "R1")
        assert (r1.tests_needed, r1.next_test_from) == (1, at(hours=25))

    def test_a_third_test_24_hours_after_the_first_completes_the_pair(self) -> None:
        events: list[Event] = [
            arrival(at()),
            negative(at(hours=1)),
            negative(at(hours=2)),
            negative(at(hours=25)),
        ]
        assert colors(status(at(days=5), *events))[-1] == (at(hours=25), GREEN)

    def test_a_test_sampled_before_the_hold_began_does_not_count(self) -> None:
        s = status(at(days=5), arrival(at()), negative(at(hours=-1)), negative(at(hours=23)))
        assert s.color is YELLOW
        assert next(r for r in s.reasons if r.rule == "R1").tests_needed == 1

    def test_a_test_sampled_at_the_instant_the_hold_began_counts(self) -> None:
        s = status(at(days=5), arrival(at()), negative(at()), negative(at(hours=24)))
        assert colors(s)[-1] == (at(hours=24), GREEN)

    def test_a_positive_test_is_not_one_of_the_two(self) -> None:
        s = status(at(days=5), arrival(at()), negative(at(hours=1)), positive(at(hours=30)))
        assert s.color is RED  # R5, and R1 still waits for its second negative
        assert {r.rule for r in s.reasons} >= {"R1", "R5"}

    def test_secondary_contact_r4_is_yellow_until_two_negatives(self) -> None:
        met = contact(at(), "secondary")
        s = status(at(hours=30), met, negative(at(hours=2)))
        assert s.color is YELLOW
        assert (s.reasons[0].rule, s.reasons[0].tests_needed) == ("R4", 1)
        done = status(at(hours=30), met, negative(at(hours=2)), negative(at(hours=26)))
        assert colors(done) == [(ORIGIN, GREEN), (at(), YELLOW), (at(hours=26), GREEN)]


class TestRedFourteenDays:
    """R2 (high-risk arrival) and R3 (close contact): red, then 7 days of yellow."""

    def test_high_risk_arrival_is_red_and_names_the_earliest_end(self) -> None:
        came = arrival(at(), HIGH_AREA)
        s = status(at(days=1), came)
        assert s.color is RED
        r2 = s.reasons[0]
        assert (r2.rule, r2.tests_needed, r2.sampled_after) == ("R2", 2, at(days=10))
        assert r2.ends_at == at(days=14)

    def test_tests_on_day_10_and_11_end_red_at_day_14_then_7_days_yellow(self) -> None:
        s = status(
            at(days=12), arrival(at(), HIGH_AREA), negative(at(days=10)), negative(at(days=11))
        )
        assert colors(s) == [
            (ORIGIN, GREEN),
            (at(), RED),
            (at(days=14), YELLOW),
            (at(days=21), GREEN),
        ]
        assert (s.color, s.next_change_at) == (RED, at(days=14))
        assert (s.reasons[0].tests_needed, s.reasons[0].ends_at) == (0, at(days=14))

    def test_a_test_on_day_9_does_not_count(self) -> None:
        s = status(
            at(days=20), arrival(at(), HIGH_AREA), negative(at(days=9)), negative(at(days=10))
        )
        assert s.color is RED
        assert colors(s)[-1] == (at(), RED)
        assert s.reasons[0].tests_needed == 1

    def test_the_end_is_the_later_of_day_14_and_the_second_test(self) -> None:
        s = status(
            at(days=16), arrival(at(), HIGH_AREA), negative(at(days=13)), negative(at(days=15))
        )
        assert colors(s)[1:] == [(at(), RED), (at(days=15), YELLOW), (at(days=22), GREEN)]
        monitoring = s.reasons[0]
        assert (monitoring.phase, monitoring.color, monitoring.ends_at) == (
            "monitoring",
            YELLOW,
            at(days=22),
        )

    def test_red_stays_past_day_14_without_tests(self) -> None:
        assert status(at(days=30), arrival(at(), HIGH_AREA)).color is RED

    def test_close_contact_r3_is_the_same_hold(self) -> None:
        met = contact(at(), "close")
        s = status(at(days=17), met, negative(at(days=10)), negative(at(days=11)))
        assert colors(s)[1:] == [(at(), RED), (at(days=14), YELLOW), (at(days=21), GREEN)]
        assert s.reasons[0].rule == "R3"
        assert s.intervals[2].cause == f"R3:{met.event_id}"


class TestPositive:
    """R5: a positive test is red until discharge, then 7 days of yellow."""

    def test_negative_tests_do_not_end_it(self) -> None:
        s = status(at(days=5), positive(at()), negative(at(days=2)), negative(at(days=3)))
        assert s.color is RED
        assert s.reasons[0].rule == "R5"
        assert s.reasons[0].ends_at is None

    def test_discharge_ends_it_then_7_days_yellow(self) -> None:
        s = status(at(days=12), positive(at()), discharge(at(days=10)))
        assert colors(s) == [
            (ORIGIN, GREEN),
            (at(), RED),
            (at(days=10), YELLOW),
            (at(days=17), GREEN),
        ]
        assert (s.reasons[0].phase, s.reasons[0].ends_at) == ("monitoring", at(days=17))

    def test_a_discharge_before_the_positive_does_not_end_it(self) -> None:
        assert status(at(days=5), discharge(at(days=-1)), positive(at())).color is RED
        assert status(at(days=5), discharge(at()), positive(at())).color is RED


class TestLandingTests:
    """R6: any arrival must be followed by two negatives within 72 hours."""

    def test_green_with_a_deadline_then_yellow_at_72_hours(self) -> None:
        came = arrival(at(), UNLISTED_AREA)
        before = status(at(hours=71), came)
        assert (before.color, before.next_change_at) == (GREEN, at(hours=72))
        pending = before.reasons[0]
        assert (pending.rule, pending.phase, pending.ends_at) == ("R6", "pending", at(hours=72))
        after = status(at(hours=72), came)
        assert (after.color, after.since) == (YELLOW, at(hours=72))
        assert after.reasons[0].phase == "hold"

    def test_second_test_sampled_exactly_at_72_hours_means_no_yellow(self) -> None:
        s = status(
            at(days=5), arrival(at(), UNLISTED_AREA), negative(at(hours=48)), negative(at(hours=72))
        )
        assert colors(s) == [(ORIGIN, GREEN)]
        assert s.reasons == ()

    def test_second_test_after_72_hours_ends_the_yellow(self) -> None:
        s = status(
            at(days=5), arrival(at(), UNLISTED_AREA), negative(at(hours=60)), negative(at(hours=84))
        )
        assert colors(s) == [(ORIGIN, GREEN), (at(hours=72), YELLOW), (at(hours=84), GREEN)]
        assert s.intervals[1].cause.startswith("R6:")

    def test_an_arrival_from_an_unlisted_area_gets_only_r6(self) -> None:
        s = status(at(hours=1), arrival(at(), UNLISTED_AREA))
        assert [r.rule for r in s.reasons] == ["R6"]

    def test_a_listing_that_ended_before_the_arrival_does_not_count(self) -> None:
        world = World(listings=(Listing(MEDIUM_AREA, "medium", at(days=-9), at()),))
        s = evaluate(person(arrival(at(), MEDIUM_AREA)), world, at(hours=1))
        assert [r.rule for r in s.reasons] == ["R6"]

    def test_a_backdated_listing_makes_an_old_arrival_risky(self) -> None:
        came = arrival(at(), UNLISTED_AREA)
        world = World(listings=(Listing(UNLISTED_AREA, "high", at(days=-1)),))
        assert evaluate(person(came), world, at(days=3)).color is RED


class TestOverride:
    """R7: a colour set by hand rules while active, whatever the other holds say."""

    def test_override_until_then_back_to_the_rules(self) -> None:
        s = status(at(days=1), override(at(), RED, until=at(days=5)))
        assert colors(s) == [(ORIGIN, GREEN), (at(), RED), (at(days=5), GREEN)]
        r7 = s.reasons[0]
        assert (r7.rule, r7.event_id, r7.set_by_hand) == ("R7", "ov-1", True)
        assert (r7.office, r7.override_reason) == ("Huangpu health office", "protest at the bank")
        assert r7.ends_at == at(days=5)
        assert s.intervals[1].cause == "R7:ov-1"

    def test_green_override_beats_a_red_hold_and_is_listed_first(self) -> None:
        s = status(at(days=2), arrival(at(), HIGH_AREA), override(at(days=1), GREEN, at(days=3)))
        assert colors(s)[1:] == [(at(), RED), (at(days=1), GREEN), (at(days=3), RED)]
        assert [r.rule for r in s.reasons] == ["R7", "R2", "R6"]

    def test_a_later_override_ends_the_earlier_one(self) -> None:
        first = override(at(), RED, override_id="ov-1")
        second = override(at(days=2), YELLOW, until=at(days=3), override_id="ov-2")
        s = status(at(days=4), first, second)
        assert colors(s) == [
            (ORIGIN, GREEN),
            (at(), RED),
            (at(days=2), YELLOW),
            (at(days=3), GREEN),
        ]
        assert [i.cause for i in s.intervals[1:3]] == ["R7:ov-1", "R7:ov-2"]


class TestCampaign:
    """R8: a campaign in the person's district that they took no test in."""

    def world(self) -> World:
        return World(listings=WORLD.listings, campaigns=(campaign(at(), at(days=2)),))

    def test_no_test_in_the_window_is_yellow_until_one_negative(self) -> None:
        s = evaluate(person(negative(at(days=3))), self.world(), at(days=2, hours=1))
        assert colors(s) == [(ORIGIN, GREEN), (at(days=2), YELLOW), (at(days=3), GREEN)]
        r8 = s.reasons[0]
        assert (r8.rule, r8.event_id, r8.tests_needed, r8.sampled_after) == (
            "R8",
            "camp-1",
            1,
            at(days=2),
        )
        assert (r8.window_start, r8.window_end) == (at(), at(days=2))

    def test_while_it_runs_the_person_is_reminded(self) -> None:
        s = evaluate(person(), self.world(), at(days=1))
        assert (s.color, s.next_change_at) == (GREEN, at(days=2))
        assert (s.reasons[0].rule, s.reasons[0].phase) == ("R8", "pending")

    def test_any_test_in_the_window_even_at_its_end_avoids_it(self) -> None:
        for test in (negative(at(days=1)), positive(at(days=2)), negative(at(days=2))):
            s = evaluate(person(test), self.world(), at(days=3))
            assert "R8" not in {r.rule for r in s.reasons}
            assert all(not i.cause.startswith("R8") for i in s.intervals)

    def test_other_districts_and_later_registrations_are_not_held(self) -> None:
        elsewhere = World(campaigns=(campaign(at(), at(days=2), districts={"310104"}),))
        assert evaluate(person(), elsewhere, at(days=3)).color is GREEN
        late = person(registered_at=at(days=2))
        assert evaluate(late, self.world(), at(days=3)).color is GREEN
        assert evaluate(person(), self.world(), at(days=3)).color is YELLOW


class TestTogether:
    def test_the_most_severe_hold_decides_and_each_hold_is_a_reason(self) -> None:
        s = status(at(days=1, hours=1), arrival(at(), MEDIUM_AREA), contact(at(days=1)))
        assert s.color is RED
        assert [r.rule for r in s.reasons] == ["R3", "R1", "R6"]
        assert s.intervals[-1].cause.startswith("R3:")

    def test_equal_colours_are_caused_by_the_earliest_hold(self) -> None:
        came = arrival(at(), MEDIUM_AREA)
        s = status(at(days=1), came, contact(at(hours=5), "secondary"))
        assert [(i.color, i.cause) for i in s.intervals] == [
            (GREEN, "none"),
            (YELLOW, f"R1:{came.event_id}"),
        ]

    def test_each_arrival_is_its_own_hold(self) -> None:
        s = status(
            at(days=3),
            arrival(at(), MEDIUM_AREA),
            negative(at(hours=1)),
            negative(at(hours=25)),
            arrival(at(days=2), MEDIUM_AREA),
        )
        assert colors(s)[1:] == [(at(), YELLOW), (at(hours=25), GREEN), (at(days=2), YELLOW)]

    def test_correcting_the_arrival_returns_to_green(self) -> None:
        came = arrival(at(), HIGH_AREA)
        s = status(at(days=3), came, correction(at(days=2), came))
        assert colors(s) == [(ORIGIN, GREEN)]
        assert (s.color, s.reasons) == (GREEN, ())

    def test_time_alone_moves_the_code(self) -> None:
        state = person(arrival(at(), HIGH_AREA), negative(at(days=10)), negative(at(days=11)))
        seen = [evaluate(state, WORLD, at(days=d)).color for d in (1, 13, 14, 20, 21, 40)]
        assert seen == [RED, RED, YELLOW, YELLOW, GREEN, GREEN]

    def test_before_the_origin_the_person_is_green(self) -> None:
        s = status(at(days=-20), arrival(at(days=-10), HIGH_AREA))
        assert (s.color, s.since, s.next_change_at, s.reasons) == (
            GREEN,
            at(days=-20),
            at(days=-10),
            (),
        )

    def test_the_timeline_starts_at_an_event_before_registration(self) -> None:
        s = evaluate(person(positive(at()), registered_at=at(days=3)), WORLD, at(days=4))
        assert colors(s) == [(at(), RED)]

    def test_every_number_is_configurable(self) -> None:
        rules = Rules(test_spacing=timedelta(hours=12), landing_window=timedelta(hours=24))
        world = World(listings=WORLD.listings, rules=rules)
        s = evaluate(
            person(arrival(at(), UNLISTED_AREA), negative(at(hours=1))), world, at(hours=24)
        )
        assert (s.color, s.reasons[0].test_spacing) == (YELLOW, timedelta(hours=12))
        done = person(arrival(at(), UNLISTED_AREA), negative(at(hours=1)), negative(at(hours=13)))
        assert colors(evaluate(done, world, at(days=2))) == [(ORIGIN, GREEN)]

    def test_now_must_be_timezone_aware(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            evaluate(person(), WORLD, at().replace(tzinfo=None))
