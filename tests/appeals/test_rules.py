"""Appeal rules: filing checks, routing, due times, the queue and machine-checkable evidence."""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codesvc.appeals.machine import AppealState
from codesvc.appeals.rules import (
    DEFAULT_POLICY,
    AppealPolicy,
    Category,
    due_at,
    evidence_matches,
    is_overdue,
    limit_reached,
    queue_key,
    queue_order,
    route,
    validate_filing,
)

S = AppealState
CST = timezone(timedelta(hours=8))
NOW = datetime(2022, 2, 24, 12, 0, tzinfo=CST)
EVENT_ID = "6f1c2a3e-8a53-4b1e-9a59-0c0d4f9b2f11"
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Appeal:
    appeal_id: str
    state: AppealState
    filed_at: datetime
    due_at: datetime


def test_categories_are_the_api_strings() -> None:
    assert [c.value for c in Category] == [
        "wrong_travel_record",
        "missing_test_result",
        "wrong_test_result",
        "other",
    ]


def test_policy_defaults() -> None:
    assert DEFAULT_POLICY.due_after == timedelta(hours=24)
    assert DEFAULT_POLICY.daily_limit == 3
    assert DEFAULT_POLICY.daily_window == timedelta(hours=24)
    assert DEFAULT_POLICY.description_max == 2000


def test_policy_from_settings_reads_hours_and_whole_numbers() -> None:
    policy = AppealPolicy.from_mapping(
        {"due_after": "12", "daily_limit": 5, "daily_window": timedelta(hours=6)}
    )
    assert policy == AppealPolicy(
        due_after=timedelta(hours=12), daily_limit=5, daily_window=timedelta(hours=6)
    )
    assert AppealPolicy.from_mapping({"due_after": 1.5}).due_after == timedelta(minutes=90)
    assert AppealPolicy.from_mapping({}) == DEFAULT_POLICY


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"due_afterr": 1}, "unknown appeal policy settings: due_afterr"),
        ({"daily_limit": "three"}, "daily_limit: 'three' is not a whole number"),
        ({"daily_limit": 2.5}, "daily_limit: 2.5 is not a whole number"),
        ({"daily_limit": True}, "daily_limit: True is not a whole number"),
        ({"due_after": "soon"}, "due_after: 'soon' is not a number of hours"),
        ({"due_after": "inf"}, "due_after: 'inf' is not a number of hours"),
        ({"daily_limit": 0}, "daily_limit must be positive"),
        ({"due_after": -1}, "due_after must be positive"),
    ],
)
def test_policy_settings_are_checked(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AppealPolicy.from_mapping(settings)


def test_the_district_that_reported_the_disputed_event_works_the_appeal() -> None:
    assert route("310115", "310101") == "310115"
    assert route(None, "310101") == "310101"
    assert route("", "310101") == "310101"


def test_due_time() -> None:
    assert due_at(NOW) == NOW + timedelta(hours=24)
    assert due_at(NOW, AppealPolicy(due_after=timedelta(hours=4))) == NOW + 4 * HOUR
    with pytest.raises(ValueError, match="UTC offset"):
        due_at(datetime(2022, 2, 24, 12, 0))


def test_only_open_appeals_become_overdue() -> None:
    due = NOW
    assert not is_overdue(due, NOW, S.SUBMITTED)
    assert is_overdue(due, NOW + timedelta(seconds=1), S.SUBMITTED)
    assert is_overdue(due, NOW + HOUR, S.IN_REVIEW)
    assert is_overdue(due, NOW + HOUR, S.ESCALATED)
    for closed in (S.CORRECTED, S.UPHELD, S.WITHDRAWN):
        assert not is_overdue(due, NOW + HOUR, closed)
    assert is_overdue(due, (NOW + HOUR).astimezone(UTC), S.SUBMITTED)


def test_overdue_appeals_come_first_then_by_due_then_by_filing() -> None:
    def appeal(name: str, filed_hours_ago: float, due_in_hours: float) -> Appeal:
        filed = NOW - timedelta(hours=filed_hours_ago)
        return Appeal(name, S.SUBMITTED, filed, NOW + timedelta(hours=due_in_hours))

    later = appeal("later", 1, 23)
    soon = appeal("soon", 20, 4)
    soon_filed_earlier = appeal("soon-earlier", 21, 4)
    late = appeal("late", 30, -6)
    very_late = appeal("very-late", 40, -16)
    closed = Appeal("closed", S.UPHELD, NOW - 50 * HOUR, NOW - 26 * HOUR)
    ordered = queue_order([later, soon, closed, late, soon_filed_earlier, very_late], NOW)
    assert [a.appeal_id for a in ordered] == [
        "very-late",
        "late",
        "closed",
        "soon-earlier",
        "soon",
        "later",
    ]
    assert queue_key(late, NOW) < queue_key(soon, NOW)


appeals = st.builds(
    Appeal,
    appeal_id=st.uuids().map(str),
    state=st.sampled_from(list(AppealState)),
    filed_at=st.integers(-100, 0).map(lambda h: NOW + timedelta(hours=h)),
    due_at=st.integers(-50, 50).map(lambda h: NOW + timedelta(hours=h)),
)


@given(st.lists(appeals, max_size=20))
def test_queue_property(queue: list[Appeal]) -> None:
    ordered = queue_order(queue, NOW)
    assert sorted(map(id, ordered)) == sorted(map(id, queue))
    overdue = [is_overdue(a.due_at, NOW, a.state) for a in ordered]
    assert overdue == sorted(overdue, reverse=True)
    for a, b in itertools.pairwise(ordered):
        if is_overdue(a.due_at, NOW, a.state) == is_overdue(b.due_at, NOW, b.state):
            assert (a.due_at, a.filed_at) <= (b.due_at, b.filed_at)


def test_daily_limit_counts_a_rolling_24_hours() -> None:
    recent = [NOW - HOUR, NOW - 5 * HOUR]
    assert not limit_reached(recent, NOW)
    assert limit_reached([*recent, NOW - 23 * HOUR], NOW)
    assert not limit_reached([*recent, NOW - 24 * HOUR], NOW)
    assert limit_reached([NOW], NOW, AppealPolicy(daily_limit=1))


def test_a_complete_filing_has_no_errors() -> None:
    assert validate_filing("other", "I was at home all week.", None, None) == {}
    assert (
        validate_filing(
            Category.MISSING_TEST_RESULT,
            "My test of 20 Feb never showed up.",
            {"lab_id": "lab-7", "sample_id": "S-20220220-0042"},
            None,
        )
        == {}
    )
    assert validate_filing("wrong_travel_record", "Never went there.", {}, EVENT_ID) == {}
    assert validate_filing("wrong_test_result", "Not my test.", None, EVENT_ID.upper()) == {}


def test_missing_test_result_needs_lab_and_sample() -> None:
    errors = validate_filing("missing_test_result", "Not linked.", {"lab_id": " "}, None)
    assert set(errors) == {"evidence.lab_id", "evidence.sample_id"}
    assert "lab that tested you" in errors["evidence.lab_id"]
    assert "sample id" in errors["evidence.sample_id"]


@pytest.mark.parametrize("category", ["wrong_travel_record", "wrong_test_result"])
def test_disputing_a_record_names_it(category: str) -> None:
    errors = validate_filing(category, "That is wrong.", None, None)
    assert errors.keys() == {"disputed_event_id"}
    assert "event_id shown with the reason" in errors["disputed_event_id"]


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        (("travel", "x", None, None), "category", "choose one of: wrong_travel_record"),
        ((None, "x", None, None), "category", "missing_test_result, wrong_test_result, other"),
        (("other", "  ", None, None), "description", "describe what is wrong"),
        (("other", 42, None, None), "description", "describe what is wrong"),
        (("other", "x" * 2001, None, None), "description", "at most 2000 characters (it has 2001)"),
        (("other", "x", ["lab"], None), "evidence", "must be an object"),
        (("other", "x", {"lab_id": 7}, None), "evidence.lab_id", "as text"),
        (("other", "x", {"note": "y" * 201}, None), "evidence.note", "at most 200 characters"),
        (("other", "x", {str(i): "v" for i in range(21)}, None), "evidence", "at most 20"),
        (("other", "x", None, "not-a-uuid"), "disputed_event_id", "a UUID"),
        (("other", "x", None, 12), "disputed_event_id", "a UUID"),
    ],
)
def test_filing_errors_say_how_to_fix_them(
    fields: tuple[object, object, object, object], field: str, fragment: str
) -> None:
    category, description, evidence, event_id = fields
    errors = validate_filing(category, description, evidence, event_id)  # type: ignore[arg-type]
    assert field in errors
    assert fragment in errors[field]


def test_description_limit_follows_the_policy() -> None:
    policy = AppealPolicy(description_max=10)
    assert validate_filing("other", "x" * 10, None, None, policy) == {}
    assert "description" in validate_filing("other", "x" * 11, None, None, policy)


PHONE = "13812345678"


@pytest.mark.parametrize(
    ("lab_name", "lab_phone", "name", "phone"),
    [
        ("张三", PHONE, "张三", PHONE),
        ("张 三", "+86 138-1234-5678", "张三", PHONE),
        ("Zhang San", "0086 13812345678", "ZHANG  SAN", "+8613812345678"),
        ("ｚｈａｎｇ ｓａｎ", "１３８１２３４５６７８", "zhang san", PHONE),
        ("张三\u3000", "(138) 1234 5678", "张三", "86 138 1234 5678"),
    ],
)
def test_evidence_matches_after_normalising(
    lab_name: str, lab_phone: str, name: str, phone: str
) -> None:
    assert evidence_matches(lab_name, lab_phone, name, phone)


@pytest.mark.parametrize(
    ("lab_name", "lab_phone", "name", "phone"),
    [
        ("张三", PHONE, "张山", PHONE),
        ("張三", PHONE, "张三", PHONE),
        ("张三", PHONE, "张三丰", PHONE),
        ("Zhang San", PHONE, "Zhang Sen", PHONE),
        ("张三", "13812345679", "张三", PHONE),
        ("张三", "1381234567", "张三", "1381234567"),
        ("张三", PHONE, "张三", None),
        ("张三", None, "张三", PHONE),
        (None, PHONE, "张三", PHONE),
        ("   ", PHONE, "   ", PHONE),
        ("张三", "", "张三", ""),
        ("张三", "no phone", "张三", "no phone"),
    ],
)
def test_evidence_is_matched_strictly(
    lab_name: str | None, lab_phone: str | None, name: str | None, phone: str | None
) -> None:
    assert not evidence_matches(lab_name, lab_phone, name, phone)


@given(
    st.text(min_size=1, max_size=10).filter(
        lambda s: "".join(unicodedata.normalize("NFKC", s).casefold().split())
    ),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.integers(0, 10),
    st.integers(1, 9),
)
def test_any_changed_phone_digit_breaks_the_match(
    name: str, phone: str, position: int, shift: int
) -> None:
    assert evidence_matches(name, phone, name, "+86 " + phone)
    changed = phone[:position] + str((int(phone[position]) + shift) % 10) + phone[position + 1 :]
    assert not evidence_matches(name, changed, name, phone)
