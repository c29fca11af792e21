"""The field types every wire model is made of, each with its JSON Schema and its message.

A pattern here is written once and serves three readers: pydantic-core's regex engine
(which validates), the JSON Schema in the OpenAPI document (ECMA regex), and the message
a sender reads. They are kept to the syntax the three engines read alike: ASCII classes
spelled out, anchored with ``^...$`` and no look-around.

Checks no JSON Schema can say (a check digit, a mainland mobile number) are *rules*:
they raise errors of type `RULE`, and the field's description says what they check.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from codesvc.identity import (
    PHONE_PROBLEM,
    normalize_id_number,
    normalize_phone,
    validate_id_number,
)
from codesvc.messages import Text as Message
from codesvc.messages import t
from codesvc.state.events import format_time, parse_time

#: The error type of a check beyond the JSON Schema (see the module's docstring).
RULE = "rule"


def rule(message: Message) -> PydanticCustomError:
    """A broken rule, with the message the sender reads."""
    return PydanticCustomError(RULE, "{problem}", {"problem": message})


class In(BaseModel):
    """A request shape: closed (an unknown field is an error, so a misspelt optional field is
    never dropped without a word) and strict (``"1"`` is not a number, ``"true"`` not a
    boolean), as its JSON Schema says."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    """A response shape; answers are serialized through it, by the names the schema shows."""

    model_config = ConfigDict(strict=True, serialize_by_alias=True, validate_by_name=True)


def _anchored(pattern: str) -> str:
    return f"^{pattern}$"


#: pattern -> what a sender is told when a value does not match it
PATTERN_MESSAGES: dict[str, Message] = {}


def _pattern(core: str, message: Message) -> str:
    anchored = _anchored(core)
    PATTERN_MESSAGES[anchored] = message
    return anchored


CODE6 = _pattern("[0-9]{6}", t("must be a 6-digit administrative division code, e.g. 310101"))
UUID = _pattern(
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    t("must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"),
)
#: RFC 3339 with an offset, years 1900 to 2999 (no leap second: datetime has none).
TIME = _pattern(
    r"(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]"
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])",
    t("must be an RFC 3339 time with an offset, e.g. 2022-02-08T10:00:00+08:00"),
)
#: One line of text: not blank, no control characters (no NUL, no newline).
LINE = _pattern(
    r"[ ]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*",
    t("must be text on one line, not blank, without control characters"),
)
#: Text of one or more lines: not blank, no control characters but tab and line breaks.
PROSE = _pattern(
    r"[ \t\n\r]*[^\x00-\x20\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*",
    t("must be text, not blank, without control characters"),
)
ID_NUMBER_SHAPE = _pattern(
    "[0-9]{17}[0-9Xx]", t("an id number is 17 digits followed by a digit or X")
)
PHONE_SHAPE = _pattern(
    "[+]?[ -]*[0-9][0-9 -]*",
    PHONE_PROBLEM,
)
#: An id the service made (a_..., o_...): a name for it, not a guess at its form.
IDENT = _pattern(
    "[0-9A-Za-z_-]{1,64}", t("must be an id as the service gave it, e.g. a_3f9c0e1d2b4a")
)
PERSON_REF = _pattern("p_[0-9A-Z]{4,32}", t("must be a person_ref, e.g. p_HNR2ZRX5PEQD"))

_TIME = re.compile(TIME)

#: Longest identifier or reason (lab_id, sample_id, case_ref, a correction's reason).
MAX_TEXT = 200
#: Longest name, as /v1/persons has always allowed.
MAX_NAME = 100

Code6 = Annotated[str, StringConstraints(pattern=CODE6)]
Color = Literal["green", "yellow", "red"]


def _canonical_uuid(value: str) -> str:
    return value.lower()


#: A UUID in its hyphenated form; kept lowercase, as PostgreSQL prints it.
EventId = Annotated[str, StringConstraints(pattern=UUID), AfterValidator(_canonical_uuid)]


def _strip(value: str) -> str:
    return value.strip(" ")


#: An identifier or a short reason: one line, at most `MAX_TEXT` characters.
Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=LINE),
    AfterValidator(_strip),
]
#: A person's name: one line, at most `MAX_NAME` characters.
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME, pattern=LINE),
    AfterValidator(_strip),
]
#: A note or a decision explained: lines of text, at most 2000 characters.
Note = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000, pattern=PROSE),
    AfterValidator(str.strip),
]


def _time(value: object) -> datetime:
    if isinstance(value, str) and _TIME.fullmatch(value) is not None:
        try:
            return parse_time(value)
        except ValueError:  # the shape of a time, but no such day (30 February)
            pass
    raise PydanticCustomError("string_pattern_mismatch", PATTERN_MESSAGES[TIME], {"pattern": TIME})


_TIME_TEXT = Annotated[
    str, StringConstraints(pattern=TIME), Field(json_schema_extra={"format": "date-time"})
]
#: A time a sender gives: RFC 3339 with an offset; held as an aware datetime in UTC.
Time = Annotated[datetime, PlainValidator(_time, json_schema_input_type=_TIME_TEXT)]
#: A time the service gives, in RFC 3339 (UTC, ``+00:00``).
TimeOut = Annotated[
    datetime,
    PlainSerializer(
        format_time,
        return_type=Annotated[str, Field(json_schema_extra={"format": "date-time"})],
    ),
]


def _id_number(value: str) -> str:
    problem = validate_id_number(value)
    if problem:
        raise rule(problem)
    return normalize_id_number(value)


def _phone(value: str) -> str:
    try:
        phone = normalize_phone(value)
    except ValueError:
        raise rule(PHONE_PROBLEM) from None
    assert phone is not None  # the shape requires a digit
    return phone


IdNumber = Annotated[
    str,
    StringConstraints(pattern=ID_NUMBER_SHAPE),
    AfterValidator(_id_number),
    Field(
        description="18-character resident id number (GB 11643; the check digit and the "
        "birth date are checked); stored only as a keyed hash"
    ),
]
Phone = Annotated[
    str,
    StringConstraints(max_length=32, pattern=PHONE_SHAPE),
    AfterValidator(_phone),
    Field(description="a mainland mobile number, 11 digits starting with 1, optionally after +86"),
]
PersonRef = Annotated[str, StringConstraints(pattern=PERSON_REF)]


#: The largest value of a PostgreSQL bigint: ids and cursors above it cannot exist.
BIGINT_MAX = 2**63 - 1


def whole_number(raw: str, low: int, high: int) -> int | None:
    """``raw`` as an integer in [low, high], or None: ASCII digits only (``int`` would
    also take "²" or "٣", and a database integer has limits)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(high)):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def _whole(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: A whole number in a body: JSON Schema counts 3.0 as an integer, and so does this.
Whole = Annotated[int, BeforeValidator(_whole)]


def _query_bool(value: object) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise PydanticCustomError("bool_parsing", "must be true or false")  # see schemas.errors


#: A query parameter that is ``true`` or ``false``; anything else (even empty) is an error.
QueryBool = Annotated[bool, PlainValidator(_query_bool, json_schema_input_type=bool)]


def query_int(low: int, high: int) -> Any:
    """A whole-number query parameter in [low, high]."""

    def parse(value: object) -> int:
        number = whole_number(value, low, high) if isinstance(value, str) else None
        if number is None:
            raise PydanticCustomError(
                "int_parsing",
                "must be a whole number from {low} to {high}",
                {"low": low, "high": high},
            )
        return number

    return Annotated[
        int, PlainValidator(parse, json_schema_input_type=Annotated[int, Field(ge=low, le=high)])
    ]


def _keys_by_pattern(schema: dict[str, Any]) -> None:
    """Say of a dict's keys what is checked: pydantic writes a key pattern as
    ``patternProperties``, which lets every other key through; ``propertyNames`` does not."""
    (pattern, values), *rest = schema.pop("patternProperties").items()
    assert not rest
    schema["propertyNames"] = {**schema.get("propertyNames", {}), "pattern": pattern}
    schema["additionalProperties"] = values


#: Named values (an appeal's evidence): one-line names and one-line values.
NamedValues = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=LINE)],
        Annotated[str, StringConstraints(max_length=1000, pattern=LINE)],
    ],
    Field(max_length=50, json_schema_extra=_keys_by_pattern),
]
