"""Identity: id numbers and their check digit, keyed id hashes, masked names, phones."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from codesvc.identity import (
    PROVINCES,
    id_hash,
    make_id_number,
    mask_name,
    normalize_id_number,
    normalize_phone,
    validate_id_number,
    validate_phone,
)

TODAY = date(2022, 2, 24)
SECRET = b"k" * 32


@pytest.mark.parametrize("number", ["11010519491231002X", "310101199001011234"])
def test_valid_id_numbers(number: str) -> None:
    assert validate_id_number(number, today=TODAY) is None


def test_a_lowercase_x_and_surrounding_space_are_normalised() -> None:
    assert validate_id_number(" 11010519491231002x\n", today=TODAY) is None
    assert normalize_id_number(" 11010519491231002x\n") == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "an id number has 18 characters; this one has 0"),
        ("1101051949123100", "an id number has 18 characters; this one has 16"),
        ("11010519491231002XX", "an id number has 18 characters; this one has 19"),
        ("1101051949123100X2", "an id number is 17 digits followed by a digit or X"),
        ("11010519491231002Y", "an id number is 17 digits followed by a digit or X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "17 digits followed by a digit or X"),
        ("001234199001011230", "the first 6 digits must be an area code; 001234 is not one"),
        ("710101199001011231", "710101 is not one"),
        ("310101199002301234", "digits 7 to 14 must be a birth date YYYYMMDD; 19900230 is not"),
        ("310101189912311234", "the birth date 1899-12-31 is not plausible"),
        ("310101202202261234", "the birth date 2022-02-26 is not plausible"),
        ("310101199001011235", "the check digit (the last character) does not match"),
    ],
)
def test_invalid_id_numbers_say_why(number: str, message: str) -> None:
    problem = validate_id_number(number, today=TODAY)
    assert problem is not None
    assert message in problem


def test_a_birth_tomorrow_is_allowed_for_clocks_behind_shanghai() -> None:
    assert validate_id_number(make_id_number("310101", date(2022, 2, 25), 1), today=TODAY) is None


def test_make_id_number_computes_the_check_digit() -> None:
    assert make_id_number("110105", date(1949, 12, 31), 2) == "11010519491231002X"
    assert make_id_number("310101", date(1990, 1, 1), 123) == "310101199001011234"


@pytest.mark.parametrize(
    ("area", "birth", "seq", "message"),
    [
        ("31010", date(1990, 1, 1), 1, "not a 6-digit area code"),
        ("３１０１０１", date(1990, 1, 1), 1, "not a 6-digit area code"),
        ("990101", date(1990, 1, 1), 1, "not a 6-digit area code"),
        ("310101", date(1990, 1, 1), 1000, "sequence 1000 is not between 0 and 999"),
        ("310101", date(1890, 1, 1), 1, "not plausible"),
        ("310101", date(2999, 1, 1), 1, "not plausible"),
    ],
)
def test_make_id_number_refuses_what_cannot_be_valid(
    area: str, birth: date, seq: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_id_number(area, birth, seq)


areas = st.tuples(st.sampled_from(sorted(PROVINCES)), st.from_regex(r"[0-9]{4}", fullmatch=True))
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@given(areas, births, st.integers(0, 999))
def test_made_id_numbers_validate(area: tuple[str, str], birth: date, seq: int) -> None:
    number = make_id_number("".join(area), birth, seq)
    assert len(number) == 18
    assert validate_id_number(number, today=TODAY) is None


@given(areas, births, st.integers(0, 999), st.integers(0, 17), st.characters())
def test_any_single_character_change_fails_validation(
    area: tuple[str, str], birth: date, seq: int, position: int, replacement: str
) -> None:
    number = make_id_number("".join(area), birth, seq)
    assume(replacement != number[position])
    assume(not (number[position] == "X" and replacement == "x"))
    changed = number[:position] + replacement + number[position + 1 :]
    assert validate_id_number(changed, today=TODAY) is not None


def test_id_hash_is_an_hmac_of_the_normalised_number() -> None:
    digest = id_hash(SECRET, "11010519491231002x ")
    assert digest == hmac.new(SECRET, b"11010519491231002X", hashlib.sha256).digest()
    assert digest == id_hash(SECRET, "11010519491231002X")
    assert digest != id_hash(b"other-key-" * 4, "11010519491231002X")
    assert digest != hashlib.sha256(b"11010519491231002X").digest()


def test_id_hash_refuses_invalid_numbers_and_short_keys() -> None:
    with pytest.raises(ValueError, match="check digit"):
        id_hash(SECRET, "310101199001011235")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        id_hash(b"short", "310101199001011234")


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("张", "*"),
        ("J", "*"),
        ("", "*"),
        ("   ", "*"),
        ("John Smith", "J*** S***"),
        ("  John   Smith ", "J*** S***"),
        ("Jo Li", "J*** L***"),
        ("Madonna", "M***"),
        ("Jean-Luc Picard", "J*** P***"),
        ("阿依古丽·买买提", "阿******"),
        ("John 张", "J****"),
        ("김민준", "김**"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


SEPARATORS = re.compile(r"[\s·・•‧･]+")


@given(st.text(min_size=2, max_size=20).filter(lambda s: "*" not in s))
def test_a_mask_shows_nothing_but_initials(name: str) -> None:
    masked = mask_name(name)
    words = [word for word in SEPARATORS.split(name) if word]
    initials = {word[0] for word in words}
    assert masked != name
    assert set(masked) <= initials | {"*", " "}
    assert len([c for c in masked if c not in "* "]) <= len(words)


@given(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=2, max_size=5))
def test_a_chinese_name_keeps_only_its_first_character(name: str) -> None:
    assert mask_name(name) == name[0] + "*" * (len(name) - 1)


@given(st.lists(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True), min_size=1, max_size=4))
def test_a_latin_mask_hides_the_length_of_each_word(words: list[str]) -> None:
    name = " ".join(words)
    assume(len(name) >= 2)
    assert mask_name(name) == " ".join(word[0] + "***" for word in words)


@pytest.mark.parametrize(
    ("phone", "normalised"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("13812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+86-138-1234-5678", "13812345678"),
        ("0086 19912345678", "19912345678"),
        ("86 138 1234 5678", "13812345678"),
        ("(138) 1234 5678", "13812345678"),
        # Full-width digits, as a Chinese input method types them.
        ("１３８１２３４５６７８", "13812345678"),
    ],
)
def test_acceptable_phones(phone: str | None, normalised: str | None) -> None:
    assert validate_phone(phone) is None
    assert normalize_phone(phone) == normalised


@pytest.mark.parametrize(
    "phone",
    [
        "12812345678",
        "1381234567",
        "138123456789",
        "021-12345678",
        "+1 138 1234 5678",
        "1381234567x",
        "8613812345678 0",
    ],
)
def test_unacceptable_phones(phone: str) -> None:
    assert validate_phone(phone) == (
        "a phone number must be a mainland mobile: 11 digits starting with 1, optionally after +86"
    )
    with pytest.raises(ValueError, match="mainland mobile"):
        normalize_phone(phone)
