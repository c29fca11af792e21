"""parse_event: what a feed may send, and what it is told when it gets it wrong."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from codesvc.state import (
    Color,
    Correction,
    EventInvalid,
    Override,
    TestResult,
    TravelArrival,
    event_data,
    format_time,
    parse_event,
    parse_time,
    sort_key,
)

ID = "6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"
OTHER_ID = "0b9d7c1e-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
WHEN = "2022-02-08T10:00:00+08:00"
TIME_MESSAGE = "must be an RFC 3339 time with an offset, e.g. 2022-02-08T10:00:00+08:00"

VALID: dict[str, dict[str, object]] = {
    "travel.arrival": {
        "area_code": "440306",
        "source": "district_report",
        "reporting_district": "310101",
    },
    "test.result": {"result": "negative", "lab_id": "lab-7", "sample_id": "S-1"},
    "contact.designated": {"level": "close", "case_ref": "case-9"},
    "case.discharged": {"case_ref": "case-9"},
    "correction": {"voids": [OTHER_ID], "reason": "wrong flight", "appeal_id": "ap-3"},
    "override": {
        "color": "red",
        "until": "2022-02-10T10:00:00+08:00",
        "reason": "outbreak at work",
        "office": "Huangpu health office",
        "override_id": "ov-1",
    },
}


def errors_of(kind: str, data: dict[str, object], **fields: object) -> dict[str, str]:
    args = {"event_id": ID, "kind": kind, "occurred_at": WHEN, "data": data} | fields
    with pytest.raises(EventInvalid) as caught:
        parse_event(**args)  # type: ignore[arg-type]
    return caught.value.errors


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_kind_parses_and_round_trips(kind: str) -> None:
    event = parse_event(ID, kind, WHEN, VALID[kind])
    assert event.kind == kind
    assert event.occurred_at == datetime(2022, 2, 8, 2, tzinfo=UTC)
    assert event_data(event) == {
        k: v if k != "until" else "2022-02-10T02:00:00+00:00" for k, v in VALID[kind].items()
    }
    assert parse_event(event.event_id, event.kind, event.occurred_at, event_data(event)) == event


def test_the_arrival_of_the_spec_example() -> None:
    event = parse_event(ID, "travel.arrival", WHEN, VALID["travel.arrival"])
    assert event == TravelArrival(
        ID, datetime(2022, 2, 8, 2, tzinfo=UTC), "440306", "district_report", "310101"
    )


def test_ids_and_times_are_normalised() -> None:
    event = parse_event(ID.upper(), "test.result", "2022-02-08T02:00:00Z", VALID["test.result"])
    assert event.event_id == ID
    assert event.occurred_at.tzinfo is UTC
    assert format_time(event.occurred_at) == "2022-02-08T02:00:00+00:00"


def test_an_override_carries_its_colour_and_end() -> None:
    event = parse_event(ID, "override", WHEN, VALID["override"])
    assert isinstance(event, Override)
    assert (event.color, event.until) == (Color.RED, datetime(2022, 2, 10, 2, tzinfo=UTC))


def test_optional_fields_may_be_absent_or_null() -> None:
    bare = parse_event(ID, "travel.arrival", WHEN, {"area_code": "440306", "source": "itinerary"})
    null = parse_event(
        ID,
        "travel.arrival",
        WHEN,
        {"area_code": "440306", "source": "itinerary", "reporting_district": None},
    )
    assert isinstance(bare, TravelArrival)
    assert bare == null
    assert bare.reporting_district is None
    assert "reporting_district" not in event_data(bare)


def test_correction_voids_are_normalised_and_deduplicated() -> None:
    event = parse_event(
        ID, "correction", WHEN, {"voids": [OTHER_ID.upper(), OTHER_ID], "reason": "x"}
    )
    assert isinstance(event, Correction)
    assert (event.voids, event.appeal_id) == ((OTHER_ID,), None)


def test_an_aware_datetime_is_accepted_for_occurred_at() -> None:
    shanghai = timezone(timedelta(hours=8))
    event = parse_event(
        ID, "test.result", datetime(2022, 2, 8, 10, tzinfo=shanghai), VALID["test.result"]
    )
    assert isinstance(event, TestResult)
    assert event.occurred_at == datetime(2022, 2, 8, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("event_id", "42", "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"),
        ("event_id", None, "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"),
        ("occurred_at", "2022-02-08T10:00:00", TIME_MESSAGE),
        ("occurred_at", "2022-02-08", TIME_MESSAGE),
        ("occurred_at", "8 Feb 2022", TIME_MESSAGE),
        ("occurred_at", "２０２２-02-08T10:00:00+08:00", TIME_MESSAGE),
        ("occurred_at", "2022-02-30T10:00:00+08:00", TIME_MESSAGE),
        ("occurred_at", datetime(2022, 2, 8, 10), TIME_MESSAGE),
        ("occurred_at", 1644285600, TIME_MESSAGE),
    ],
)
def test_bad_envelope_fields(field: str, value: object, message: str) -> None:
    assert errors_of("test.result", VALID["test.result"], **{field: value}) == {field: message}


def test_unknown_kind_lists_the_known_ones() -> None:
    assert errors_of("travel.arival", {}) == {
        "kind": "unknown kind 'travel.arival'; expected one of case.discharged, "
        "contact.designated, correction, override, test.result, travel.arrival"
    }


def test_every_problem_is_reported_at_once() -> None:
    errors = errors_of("travel.arrival", {"area_code": "44030"}, event_id="x", occurred_at="x")
    assert set(errors) == {"event_id", "occurred_at", "data.area_code", "data.source"}


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        (
            "travel.arrival",
            "area_code",
            "44030",
            "must be a 6-digit administrative division code, e.g. 310101",
        ),
        (
            "travel.arrival",
            "area_code",
            440306,
            "must be a 6-digit administrative division code, e.g. 310101",
        ),
        (
            "travel.arrival",
            "area_code",
            "４４０３０６",
            "must be a 6-digit administrative division code, e.g. 310101",
        ),
        (
            "travel.arrival",
            "reporting_district",
            "3101",
            "must be a 6-digit administrative division code, e.g. 310101",
        ),
        (
            "travel.arrival",
            "source",
            "rumour",
            "must be one of itinerary, district_report, self_report",
        ),
        ("test.result", "result", "Negative", "must be one of negative, positive"),
        ("test.result", "result", True, "must be one of negative, positive"),
        ("test.result", "lab_id", "", "must be a non-empty string of at most 200 characters"),
        ("test.result", "sample_id", "   ", "must be a non-empty string of at most 200 characters"),
        (
            "test.result",
            "sample_id",
            "x" * 201,
            "must be a non-empty string of at most 200 characters",
        ),
        ("contact.designated", "level", "tertiary", "must be one of close, secondary"),
        (
            "contact.designated",
            "case_ref",
            7,
            "must be a non-empty string of at most 200 characters",
        ),
        ("case.discharged", "case_ref", "", "must be a non-empty string of at most 200 characters"),
        ("correction", "voids", [], "must be a non-empty list of event ids (UUIDs)"),
        ("correction", "voids", OTHER_ID, "must be a non-empty list of event ids (UUIDs)"),
        (
            "correction",
            "voids",
            [OTHER_ID, "nope"],
            "item 1 must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80",
        ),
        ("correction", "voids", [ID], "a correction cannot void itself"),
        ("correction", "reason", "", "must be a non-empty string of at most 200 characters"),
        ("correction", "appeal_id", "", "must be a non-empty string of at most 200 characters"),
        ("override", "color", "orange", "must be one of green, yellow, red"),
        ("override", "until", "2022-02-08T09:00:00+08:00", "must be after occurred_at"),
        ("override", "until", "2022-02-08T10:00:00+08:00", "must be after occurred_at"),
        ("override", "until", "tomorrow", TIME_MESSAGE),
        ("override", "office", "", "must be a non-empty string of at most 200 characters"),
        ("override", "override_id", None, "is required"),
    ],
)
def test_bad_data_fields(kind: str, field: str, value: object, message: str) -> None:
    assert errors_of(kind, VALID[kind] | {field: value}) == {f"data.{field}": message}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_missing_required_fields_are_named(kind: str) -> None:
    errors = errors_of(kind, {})
    required = {
        "travel.arrival": {"area_code", "source"},
        "test.result": {"result", "lab_id", "sample_id"},
        "contact.designated": {"level", "case_ref"},
        "case.discharged": {"case_ref"},
        "correction": {"voids", "reason"},
        "override": {"color", "reason", "office", "override_id"},
    }[kind]
    assert errors == {f"data.{name}": "is required" for name in required}


def test_an_unknown_data_field_is_an_error_not_ignored() -> None:
    errors = errors_of("test.result", VALID["test.result"] | {"sampled_at": WHEN})
    assert errors == {"data.sampled_at": "unknown field; expected one of result, lab_id, sample_id"}


def test_data_must_be_an_object() -> None:
    assert errors_of("case.discharged", ["case-9"]) == {"data": "must be an object"}  # type: ignore[arg-type]


def test_the_error_reads_as_a_sentence() -> None:
    with pytest.raises(EventInvalid, match=r"data\.result: must be one of negative, positive"):
        parse_event(ID, "test.result", WHEN, VALID["test.result"] | {"result": "maybe"})


def test_sort_key_orders_by_time_then_id() -> None:
    early = parse_event(OTHER_ID, "case.discharged", WHEN, {"case_ref": "c"})
    late = parse_event(ID, "case.discharged", "2022-02-08T10:00:01+08:00", {"case_ref": "c"})
    tie = parse_event(ID, "case.discharged", WHEN, {"case_ref": "c"})
    assert sorted([late, tie, early], key=sort_key) == [early, tie, late]


def test_parse_time_drops_digits_past_the_microsecond() -> None:
    assert parse_time("2022-02-08T10:00:00.123456789+08:00") == datetime(
        2022, 2, 8, 2, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2022-02-08t02:00:00z") == datetime(2022, 2, 8, 2, tzinfo=UTC)
