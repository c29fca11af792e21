"""Rules and the world: the numbers the commission may change, and what it lists."""

from datetime import timedelta

import pytest

from codesvc.state import RULES, Campaign, Listing, Rules, World

from .facts import at


def test_defaults_are_the_spec_numbers() -> None:
    assert RULES.to_dict() == {
        "test_spacing": 86400,
        "negatives_to_clear": 2,
        "red_minimum": 14 * 86400,
        "red_tests_after": 10 * 86400,
        "red_negatives_to_clear": 2,
        "red_monitoring": 7 * 86400,
        "discharge_monitoring": 7 * 86400,
        "landing_window": 72 * 3600,
        "landing_negatives": 2,
        "campaign_negatives": 1,
    }


def test_configuration_round_trips_and_keeps_defaults() -> None:
    rules = Rules.from_mapping(
        {"red_minimum": 7 * 86400, "landing_negatives": 1, "test_spacing": 1.5}
    )
    assert rules.red_minimum == timedelta(days=7)
    assert rules.test_spacing == timedelta(seconds=1.5)
    assert rules.red_tests_after == RULES.red_tests_after
    assert Rules.from_mapping(rules.to_dict()) == rules


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"red_minimun": 1}, "unknown rule 'red_minimun'"),
        ({"negatives_to_clear": 1.5}, "must be an integer count"),
        ({"negatives_to_clear": True}, "must be an integer count"),
        ({"negatives_to_clear": 0}, "must be at least 1"),
        ({"landing_window": "72h"}, "must be a number of seconds"),
        ({"landing_window": -1}, "must be at least 0"),
    ],
)
def test_bad_configuration_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rules.from_mapping(values)


def test_a_listing_covers_from_its_start_up_to_its_end() -> None:
    listing = Listing("440306", "medium", at(), at(days=1))
    just_before = at() - timedelta(microseconds=1)
    assert [listing.covers(t) for t in (just_before, at(), at(days=1))] == [False, True, False]
    assert Listing("440306", "high", at()).covers(at(days=1000))


def test_risk_level_is_the_most_severe_listing_in_force() -> None:
    world = World(
        listings=(
            Listing("440306", "medium", at(days=-5)),
            Listing("440306", "high", at(), at(days=2)),
            Listing("510107", "high", at(days=-5)),
        )
    )
    assert world.risk_level("440306", at(days=-1)) == "medium"
    assert world.risk_level("440306", at(days=1)) == "high"
    assert world.risk_level("440306", at(days=2)) == "medium"
    assert world.risk_level("440306", at(days=-6)) is None
    assert world.risk_level("320106", at()) is None


def test_world_data_is_checked() -> None:
    with pytest.raises(ValueError, match="level must be one of medium, high"):
        Listing("440306", "low", at())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        Listing("440306", "high", at().replace(tzinfo=None))
    with pytest.raises(ValueError, match="ends_at must be after starts_at"):
        Campaign("c", frozenset({"310101"}), at(), at())


def test_campaigns_are_found_by_district() -> None:
    first = Campaign("c1", frozenset({"310101", "310104"}), at(), at(days=1))
    second = Campaign("c2", frozenset({"310104"}), at(), at(days=1))
    world = World(campaigns=(first, second))
    assert world.campaigns_in("310104") == (first, second)
    assert world.campaigns_in("310101") == (first,)
    assert world.campaigns_in("310115") == ()
