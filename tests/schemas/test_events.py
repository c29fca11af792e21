"""What a feed may send as an event, and what it is told when it gets it wrong."""

from datetime import UTC, datetime, timedelta

import pytest

from codesvc.schemas.events import read_item
from codesvc.service.events import Rejected, check
from codesvc.state import (
    Correction,
    TravelArrival,
    event_data,
    format_time,
    from_stored,
    parse_time,
    sort_key,
)

ID = "6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"
OTHER_ID = "0b9d7c1e-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
WHEN = "2022-02-08T10:00:00+08:00"
TIME_MESSAGE = "must be an RFC 3339 time with an offset, e.g. 2022-02-08T10:00:00+08:00"
CODE_MESSAGE = "must be a 6-digit administrative division code, e.g. 310101"
LINE_MESSAGE = "must be text on one line, not blank, without control characters"
PERSON = {"person_ref": "p_HNR2ZRX5PEQD"}

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
}


def sent(kind: str, data: object, **fields: object) -> dict[str, object]:
    return {"event_id": ID, "kind": kind, "occurred_at": WHEN, "person": PERSON, "data": data} | (
        fields
    )


def parsed(kind: str, data: object, **fields: object):  # type: ignore[no-untyped-def]
    item = read_item(sent(kind, data, **fields))
    assert item.sent is not None, item.errors
    return item.sent.fact()


def errors_of(kind: str, data: object, **fields: object) -> dict[str, str]:
    item = read_item(sent(kind, data, **fields))
    assert item.sent is None
    assert item.errors is not None
    return item.errors


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_kind_parses_and_round_trips_through_storage(kind: str) -> None:
    event = parsed(kind, VALID[kind])
    assert event.kind == kind
    assert event.occurred_at == datetime(2022, 2, 8, 2, tzinfo=UTC)
    assert event_data(event) == VALID[kind]
    assert from_stored(event.event_id, event.kind, event.occurred_at, event_data(event)) == event


def test_the_arrival_of_the_spec_example() -> None:
    assert parsed("travel.arrival", VALID["travel.arrival"]) == TravelArrival(
        ID, datetime(2022, 2, 8, 2, tzinfo=UTC), "440306", "district_report", "310101"
    )


def test_ids_and_times_are_normalised() -> None:
    event = parsed(
        "test.result", VALID["test.result"], event_id=ID.upper(), occurred_at="2022-02-08T02:00:00Z"
    )
    assert event.event_id == ID
    assert event.occurred_at.tzinfo is UTC
    assert format_time(event.occurred_at) == "2022-02-08T02:00:00+00:00"


def test_optional_fields_may_be_absent_or_null() -> None:
    bare = parsed("travel.arrival", {"area_code": "440306", "source": "itinerary"})
    null = parsed(
        "travel.arrival", {"area_code": "440306", "source": "itinerary", "reporting_district": None}
    )
    assert isinstance(bare, TravelArrival)
    assert bare == null
    assert bare.reporting_district is None
    assert "reporting_district" not in event_data(bare)


def test_correction_voids_are_normalised_and_deduplicated() -> None:
    event = parsed("correction", {"voids": [OTHER_ID.upper(), OTHER_ID], "reason": "x"})
    assert isinstance(event, Correction)
    assert (event.voids, event.appeal_id) == ((OTHER_ID,), None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("event_id", "42", "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"),
        ("event_id", None, "must be text"),
        ("event_id", f"{{{ID}}}", "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"),
        ("occurred_at", "2022-02-08T10:00:00", TIME_MESSAGE),
        ("occurred_at", "2022-02-08", TIME_MESSAGE),
        ("occurred_at", "8 Feb 2022", TIME_MESSAGE),
        ("occurred_at", "２０２２-02-08T10:00:00+08:00", TIME_MESSAGE),
        ("occurred_at", "2022-02-30T10:00:00+08:00", TIME_MESSAGE),
        ("occurred_at", "2022-02-08T10:00:00+08:00\n", TIME_MESSAGE),
        ("occurred_at", "0001-01-01T00:00:00+01:00", TIME_MESSAGE),
        ("occurred_at", 1644285600, TIME_MESSAGE),
    ],
)
def test_bad_envelope_fields(field: str, value: object, message: str) -> None:
    assert errors_of("test.result", VALID["test.result"], **{field: value}) == {field: message}


def test_unknown_kinds_and_overrides_are_named() -> None:
    assert errors_of("travel.arival", {}) == {
        "kind": "unknown kind 'travel.arival'; must be one of travel.arrival, test.result, "
        "contact.designated, case.discharged, correction"
    }
    assert "two commission members" not in errors_of("override", {})["kind"]
    assert "one commission member proposes an override" in errors_of("override", {})["kind"]


def test_every_problem_is_reported_at_once() -> None:
    errors = errors_of("travel.arrival", {"area_code": "44030"}, event_id="x", occurred_at="x")
    assert set(errors) == {"event_id", "occurred_at", "data.area_code", "data.source"}


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        ("travel.arrival", "area_code", "44030", CODE_MESSAGE),
        ("travel.arrival", "area_code", "440306\n", CODE_MESSAGE),
        ("travel.arrival", "area_code", "４４０３０６", CODE_MESSAGE),
        ("travel.arrival", "area_code", 440306, "must be text"),
        ("travel.arrival", "reporting_district", "3101", CODE_MESSAGE),
        ("travel.arrival", "source", "rumour",
         "must be one of itinerary, district_report, self_report"),
        ("test.result", "result", "Negative", "must be one of negative, positive"),
        ("test.result", "lab_id", "", "must not be empty"),
        ("test.result", "sample_id", "   ", LINE_MESSAGE),
        ("test.result", "sample_id", "S-1\x00", LINE_MESSAGE),
        ("test.result", "sample_id", "x" * 201, "must have at most 200 characters"),
        ("contact.designated", "level", "tertiary", "must be one of close, secondary"),
        ("case.discharged", "case_ref", "", "must not be empty"),
        ("correction", "voids", [], "must have at least 1 item(s)"),
        ("correction", "reason", "", "must not be empty"),
    ],
)  # fmt: skip
def test_bad_data_fields(kind: str, field: str, value: object, message: str) -> None:
    assert errors_of(kind, VALID[kind] | {field: value}) == {f"data.{field}": message}


def test_a_bad_void_is_named_by_its_position() -> None:
    errors = errors_of("correction", VALID["correction"] | {"voids": [OTHER_ID, "nope"]})
    assert errors == {"data.voids.1": "must be a UUID, e.g. 6f1c2a4e-0d6b-4c8e-9a51-1f7b3c2d9e80"}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_missing_required_fields_are_named(kind: str) -> None:
    required = {
        "travel.arrival": {"area_code", "source"},
        "test.result": {"result", "lab_id", "sample_id"},
        "contact.designated": {"level", "case_ref"},
        "case.discharged": {"case_ref"},
        "correction": {"voids", "reason"},
    }[kind]
    assert errors_of(kind, {}) == {f"data.{name}": "is required" for name in required}


def test_an_unknown_data_field_is_an_error_not_ignored() -> None:
    errors = errors_of("test.result", VALID["test.result"] | {"sampled_at": WHEN})
    assert errors == {"data.sampled_at": "unknown field"}


def test_data_must_be_an_object() -> None:
    assert errors_of("case.discharged", ["case-9"]) == {"data": "must be a JSON object"}


def test_a_person_is_a_reference_or_an_id_number() -> None:
    assert errors_of("case.discharged", VALID["case.discharged"], person={"name": "x"}) == {
        "person": "must be an object with person_ref or id_number"
    }
    errors = errors_of(
        "case.discharged", VALID["case.discharged"], person={"id_number": "310101199001011235"}
    )
    assert "check digit" in errors["person.id_number"]


def test_a_lab_result_without_a_person_carries_who_the_lab_wrote_down() -> None:
    item = read_item(
        {k: v for k, v in sent("test.result", VALID["test.result"]).items() if k != "person"}
    )
    assert item.errors == {"data.name": "is required", "data.phone": "is required"}
    lab = VALID["test.result"] | {"name": "张三", "phone": "+86 138-0013-8000"}
    item = read_item(sent("test.result", lab, person=None))
    assert item.sent is not None
    assert item.sent.data.phone == "13800138000"  # type: ignore[union-attr]


def test_what_no_schema_can_say_is_checked_for_every_sender() -> None:
    now = datetime(2022, 2, 8, 2, tzinfo=UTC)
    itself = parsed("correction", {"voids": [ID], "reason": "x"})
    with pytest.raises(Rejected) as caught:
        check(itself, now)
    assert caught.value.errors == {"data.voids": "a correction cannot void itself"}
    future = parsed("test.result", VALID["test.result"])
    with pytest.raises(Rejected, match="in the future"):
        check(future, now - timedelta(minutes=6))
    assert check(future, now - timedelta(minutes=4)).event == future


def test_the_error_reads_as_a_sentence() -> None:
    item = read_item(sent("test.result", VALID["test.result"] | {"result": "maybe"}))
    assert item.error == "invalid event: data.result: must be one of negative, positive"


def test_sort_key_orders_by_time_then_id() -> None:
    early = parsed("case.discharged", {"case_ref": "c"}, event_id=OTHER_ID)
    late = parsed("case.discharged", {"case_ref": "c"}, occurred_at="2022-02-08T10:00:01+08:00")
    tie = parsed("case.discharged", {"case_ref": "c"})
    assert sorted([late, tie, early], key=sort_key) == [early, tie, late]


def test_parse_time_drops_digits_past_the_microsecond() -> None:
    assert parse_time("2022-02-08T10:00:00.123456789+08:00") == datetime(
        2022, 2, 8, 2, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2022-02-08t02:00:00z") == datetime(2022, 2, 8, 2, tzinfo=UTC)
