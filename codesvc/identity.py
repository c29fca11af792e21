"""Who a person is, handled carefully: id numbers, keyed id hashes, masked names, phones."""

from __future__ import annotations

import hashlib
import hmac
import operator
import re
import unicodedata
from datetime import date, timedelta
from typing import Final

from codesvc.messages import Text, t

__all__ = [
    "PHONE_PROBLEM",
    "PROVINCES",
    "id_hash",
    "make_id_number",
    "mask_name",
    "normalize_id_number",
    "normalize_phone",
    "validate_id_number",
    "validate_phone",
]

#: First two digits of GB/T 2260 area codes that issue resident id numbers: the mainland's
#: provinces, plus 81/82/83 used by residence permits of Hong Kong, Macao and Taiwan residents.
PROVINCES: Final = frozenset(
    str(code)
    for code in (
        *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47),
        *range(50, 55), *range(61, 66), 81, 82, 83,
    )
)  # fmt: skip

_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK: Final = "10X98765432"
_SHAPE: Final = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_EARLIEST_BIRTH: Final = date(1900, 1, 1)
_MIN_SECRET: Final = 16


#: Why a phone number is refused.
PHONE_PROBLEM: Final = t(
    "a phone number must be a mainland mobile: 11 digits starting with 1, optionally after +86"
)


def _check_digit(first17: str) -> str:
    # map() rather than a generator: this runs for every id number a batch carries.
    return _CHECK[sum(map(operator.mul, map(int, first17), _WEIGHTS)) % 11]


def normalize_id_number(s: str) -> str:
    """The id number as stored and hashed: surrounding whitespace removed, a final x upper-cased."""
    return s.strip().upper()


def validate_id_number(s: str, *, today: date | None = None) -> Text | None:
    """Why `s` is not a mainland resident id number (GB 11643), or None when it is one."""
    number = normalize_id_number(s)
    if len(number) != 18:
        return t("an id number has 18 characters; this one has {count}", count=len(number))
    if not _SHAPE.fullmatch(number):
        return t("an id number is 17 digits followed by a digit or X")
    if number[:2] not in PROVINCES:
        return t("the first 6 digits must be an area code; {area} is not one", area=number[:6])
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return t(
            "digits 7 to 14 must be a birth date YYYYMMDD; {digits} is not a date",
            digits=number[6:14],
        )
    # A day of slack: someone born today in Shanghai may still be "tomorrow" to a UTC clock.
    latest = (today or date.today()) + timedelta(days=1)
    if not _EARLIEST_BIRTH <= birth <= latest:
        return t("the birth date {birth} is not plausible", birth=birth.isoformat())
    if number[17] != _check_digit(number[:17]):
        return t("the check digit (the last character) does not match; look for a mistyped digit")
    return None


def make_id_number(area: str, birth: date, seq: int) -> str:
    """A valid id number for an area code, birth date and 3-digit sequence (odd: male).

    Raises ValueError for inputs that cannot make a valid one (such as a future birth).
    """
    if not (len(area) == 6 and area.isascii() and area.isdigit() and area[:2] in PROVINCES):
        raise ValueError(f"{area!r} is not a 6-digit area code")
    if not 0 <= seq <= 999:
        raise ValueError(f"sequence {seq} is not between 0 and 999")
    first17 = f"{area}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq:03d}"
    number = first17 + _check_digit(first17)
    problem = validate_id_number(number)
    if problem is not None:
        raise ValueError(problem)
    return number


def id_hash(secret: bytes, id_number: str) -> bytes:
    """The keyed hash (HMAC-SHA256) under which an id number is stored and looked up.

    Raises ValueError for an invalid id number or a key too short to keep hashes secret.
    """
    if len(secret) < _MIN_SECRET:
        raise ValueError(f"the id hash key must have at least {_MIN_SECRET} bytes")
    problem = validate_id_number(id_number)
    if problem is not None:
        raise ValueError(problem)
    return hmac.new(secret, normalize_id_number(id_number).encode("ascii"), hashlib.sha256).digest()


_SEPARATORS: Final = re.compile(r"[\s·・•‧･]+")
#: Scripts written without spaces, where a name is masked character by character.
_PER_CHARACTER: Final = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)


def mask_name(name: str) -> str:
    """The name as a venue scanner may show it.

    A name with any Chinese (or kana, Hangul) character keeps its first character and
    shows one `*` per other character: 张三 → 张*, 欧阳娜娜 → 欧***. Any other name keeps
    the first letter of each word and always three `*`, whatever the word's length:
    John Smith → J*** S***. A name of one character is `*`. So a Chinese mask shows the
    number of characters and the first; a Latin mask the number of words and initials.
    """
    words = [word for word in _SEPARATORS.split(name) if word]
    letters = "".join(words)
    if len(letters) <= 1:
        return "*"
    if _PER_CHARACTER.search(letters):
        return letters[0] + "*" * (len(letters) - 1)
    return " ".join(word[0] + "***" for word in words)


_PHONE_SEPARATORS: Final = re.compile(r"[\s\-().]")
_MOBILE: Final = re.compile(r"1[3-9][0-9]{9}", re.ASCII)


def normalize_phone(s: str | None) -> str | None:
    """A mainland mobile number as its 11 digits, or None when none was given.

    Raises ValueError when one was given but is not a mainland mobile number.
    """
    if s is None or not s.strip():
        return None
    # Full-width digits and signs (from a Chinese input method) count as the ASCII ones.
    digits = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", s).strip())
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not _MOBILE.fullmatch(digits):
        raise ValueError(PHONE_PROBLEM)
    return digits


def validate_phone(s: str | None) -> Text | None:
    """Why `s` is not an acceptable phone number, or None (a phone is optional)."""
    try:
        normalize_phone(s)
    except ValueError:
        return PHONE_PROBLEM
    return None
