"""Events on the wire: one model per kind, a union on ``kind``, and the batch that carries them.

Each kind has a *fact* model (``event_id``, ``kind``, ``occurred_at``, its own closed
``data``), which builds the domain's frozen event, and a *sent* model that adds whose
event it is (``person``). ``POST /v1/events`` takes sent events; an appeal's correction
adds facts about the appellant. A lab result with no person is its own branch, whose
``data`` must carry the name and phone the lab wrote down. ``override`` is never sent:
two commission members make one (``/v1/overrides``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import pydantic
from pydantic import Discriminator, Field, PlainValidator, Tag

from codesvc.messages import Text as Message
from codesvc.messages import t
from codesvc.schemas.errors import BRANCHES, field_errors, summary
from codesvc.schemas.fields import (
    Code6,
    EventId,
    IdNumber,
    In,
    Name,
    Out,
    PersonRef,
    Phone,
    Text,
    Time,
)
from codesvc.state.events import (
    CaseDischarged,
    ContactDesignated,
    Correction,
    TestResult,
    TravelArrival,
)

#: The kinds a sender may name (which of them a given sender may send is the service's rule).
KINDS = ("travel.arrival", "test.result", "contact.designated", "case.discharged", "correction")
#: The most events one batch carries.
BATCH_MAX = 1000
#: The branch of a lab result that names no person.
LAB_RECORD = "test.result without person"


# --- data, one closed model per kind -------------------------------------------------------


class TravelArrivalData(In):
    area_code: Code6 = Field(description="the area the person arrived from (GB/T 2260)")
    source: Literal["itinerary", "district_report", "self_report"]
    reporting_district: Code6 | None = Field(
        None,
        description="the district that reports the arrival; a district's sender may leave it "
        "out (it is theirs) and may name no other",
    )


class TestResultData(In):
    __test__: ClassVar[bool] = False  # a wire model, not a pytest test case

    result: Literal["negative", "positive"]
    lab_id: Text
    sample_id: Text


class LabRecordData(TestResultData):
    """A result the lab could not tie to a person: who the lab wrote down."""

    name: Name = Field(description="the name the lab recorded")
    phone: Phone


class ContactDesignatedData(In):
    level: Literal["close", "secondary"]
    case_ref: Text = Field(
        description="the event_id of a stored positive test.result of another person (it "
        "may come earlier in the same batch); otherwise the event is rejected: unknown case"
    )


class CaseDischargedData(In):
    case_ref: Text


class CorrectionData(In):
    voids: Annotated[list[EventId], Field(min_length=1, max_length=BATCH_MAX)] = Field(
        description="event ids of the same person; they count as never received"
    )
    reason: Text
    appeal_id: Text | None = None


# --- facts: what happened, when --------------------------------------------------------------


class _Envelope(In):
    event_id: EventId = Field(description="client-chosen UUID; sending it again has one effect")
    occurred_at: Time = Field(
        description="RFC 3339 with an offset: arrival, sampling, last exposure, discharge or "
        "the correction's time; at most 5 minutes in the future"
    )


class TravelArrivalFact(_Envelope):
    kind: Literal["travel.arrival"]
    data: TravelArrivalData

    def fact(self) -> TravelArrival:
        d = self.data
        return TravelArrival(
            self.event_id, self.occurred_at, d.area_code, d.source, d.reporting_district
        )


class TestResultFact(_Envelope):
    __test__: ClassVar[bool] = False

    kind: Literal["test.result"]
    data: TestResultData

    def fact(self) -> TestResult:
        d = self.data
        return TestResult(self.event_id, self.occurred_at, d.result, d.lab_id, d.sample_id)


class ContactDesignatedFact(_Envelope):
    kind: Literal["contact.designated"]
    data: ContactDesignatedData

    def fact(self) -> ContactDesignated:
        return ContactDesignated(
            self.event_id, self.occurred_at, self.data.level, self.data.case_ref
        )


class CaseDischargedFact(_Envelope):
    kind: Literal["case.discharged"]
    data: CaseDischargedData

    def fact(self) -> CaseDischarged:
        return CaseDischarged(self.event_id, self.occurred_at, self.data.case_ref)


class CorrectionFact(_Envelope):
    kind: Literal["correction"]
    data: CorrectionData

    def fact(self) -> Correction:
        d = self.data
        voids = tuple(dict.fromkeys(d.voids))  # the same id twice voids it once
        return Correction(self.event_id, self.occurred_at, voids, d.reason, d.appeal_id)


Fact = TravelArrivalFact | TestResultFact | ContactDesignatedFact | CaseDischargedFact
#: What an appeal's correction may add: facts about the appellant, never a correction.
FactIn = Annotated[Fact, Field(discriminator="kind")]
BRANCHES.update(KINDS)


# --- sent events: a fact and whose it is -------------------------------------------------------


class PersonByRef(In):
    person_ref: PersonRef


class PersonById(In):
    """A person by id number; one not yet registered is registered with these details."""

    id_number: IdNumber
    name: Name | None = None
    district: Code6 | None = Field(
        None, description="where they are registered; the id number's first 6 digits if absent"
    )
    phone: Phone | None = None


def _person_branch(value: Any) -> str | None:
    if isinstance(value, dict):
        if "person_ref" in value:
            return "by person_ref"
        if "id_number" in value:
            return "by id_number"
    return None


EventPerson = Annotated[
    Annotated[PersonByRef, Tag("by person_ref")] | Annotated[PersonById, Tag("by id_number")],
    Discriminator(
        _person_branch,
        custom_error_type="person_shape",
        custom_error_message="must be an object with person_ref or id_number",
    ),
]
BRANCHES.update({"by person_ref", "by id_number"})

_PERSON = Field(description="whose event: a registered person_ref, or an id_number")


class TravelArrivalEvent(TravelArrivalFact):
    person: EventPerson = _PERSON


class TestResultEvent(TestResultFact):
    __test__: ClassVar[bool] = False

    person: EventPerson = _PERSON


class LabRecordEvent(_Envelope):
    """A lab result with no person: kept until an appeal names its sample (SPEC §5)."""

    kind: Literal["test.result"]
    person: None = Field(None, description="absent or null: the lab could not tie it to anyone")
    data: LabRecordData

    def fact(self) -> TestResult:
        d = self.data
        return TestResult(self.event_id, self.occurred_at, d.result, d.lab_id, d.sample_id)


class ContactDesignatedEvent(ContactDesignatedFact):
    person: EventPerson = _PERSON


class CaseDischargedEvent(CaseDischargedFact):
    person: EventPerson = _PERSON


class CorrectionEvent(CorrectionFact):
    person: EventPerson = _PERSON


SentEvent = (
    TravelArrivalEvent
    | TestResultEvent
    | LabRecordEvent
    | ContactDesignatedEvent
    | CaseDischargedEvent
    | CorrectionEvent
)


def _event_branch(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("kind")
    if kind == "test.result" and value.get("person") is None:
        return LAB_RECORD
    return kind if kind in KINDS else None


_KIND_MESSAGE = "must be one of " + ", ".join(KINDS)
EventIn = Annotated[
    Annotated[TravelArrivalEvent, Tag("travel.arrival")]
    | Annotated[TestResultEvent, Tag("test.result")]
    | Annotated[LabRecordEvent, Tag(LAB_RECORD)]
    | Annotated[ContactDesignatedEvent, Tag("contact.designated")]
    | Annotated[CaseDischargedEvent, Tag("case.discharged")]
    | Annotated[CorrectionEvent, Tag("correction")],
    Discriminator(
        _event_branch, custom_error_type="event_kind", custom_error_message=_KIND_MESSAGE
    ),
]
BRANCHES.add(LAB_RECORD)
EVENT = pydantic.TypeAdapter(EventIn)


# --- the batch ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One event of a batch as validated against `EventIn`: the event, or why it is not one."""

    sent: SentEvent | None
    #: the event_id as sent, when it is a string: what the answer names
    event_id: str | None
    error: Message | None = None
    errors: dict[str, Message] | None = None


def read_item(value: object) -> Item:
    """Validate one event of a batch; a bad one is answered on its own, never fails the batch."""
    raw_id = value.get("event_id") if isinstance(value, dict) else None
    event_id = raw_id if isinstance(raw_id, str) else None
    try:
        sent: SentEvent = EVENT.validate_python(value)
    except pydantic.ValidationError as exc:
        errors = _event_errors(value, exc)
        return Item(None, event_id, t("invalid event: {fields}", fields=summary(errors)), errors)
    return Item(sent, sent.event_id)


def _event_errors(value: object, exc: pydantic.ValidationError) -> dict[str, Message]:
    found = exc.errors(include_url=False)
    if found and found[0]["type"] == "event_kind":
        if not isinstance(value, dict):
            return {"body": t("each event must be a JSON object")}
        kind = value.get("kind")
        if kind == "override":
            return {
                "kind": t(
                    "override events are never sent: one commission member proposes an "
                    "override and another approves it"
                )
            }
        if not kind:
            return {"kind": t("is required")}
        return {
            "kind": t(
                "unknown kind {kind}; must be one of {options}",
                kind=repr(kind),
                options=", ".join(KINDS),
            )
        }
    return field_errors(exc)


class EventBatch(In):
    events: Annotated[
        list[Annotated[Item, PlainValidator(read_item, json_schema_input_type=EventIn)]],
        Field(min_length=1, max_length=BATCH_MAX),
    ] = Field(description="each event is validated and answered on its own, in the order sent")


class EventResult(Out):
    event_id: str | None = Field(description="as sent (canonical when it was a valid UUID)")
    status: Literal["accepted", "duplicate", "rejected"]
    error: str | None = Field(
        None, description="why it was rejected", exclude_if=lambda value: value is None
    )
    errors: dict[str, str] | None = Field(
        None, description="one message per field path", exclude_if=lambda value: value is None
    )


class EventResults(Out):
    results: list[EventResult]
