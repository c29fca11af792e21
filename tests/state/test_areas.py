"""Explanations name the area a person arrived from, not just its code."""

from codesvc.state.areas import area_name


def test_a_known_area_is_named_with_its_code_in_either_language():
    assert area_name("440306", "zh") == "深圳市宝安区（440306）"
    assert area_name("440306", "en") == "Bao'an, Shenzhen (440306)"


def test_an_unknown_area_is_shown_by_its_code():
    assert area_name("110101", "en") == "110101"
