"""The JSON shapes of requests and responses, as pydantic models (they also feed OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from codesvc.identity import normalize_id_number, validate_id_number, validate_phone

Code6 = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Color = Literal["green", "yellow", "red"]


def _id_number(value: str) -> str:
    problem = validate_id_number(value)
    if problem:
        raise ValueError(problem)
    return normalize_id_number(value)


def _phone(value: str | None) -> str | None:
    if value is not None and (problem := validate_phone(value)):
        raise ValueError(problem)
    return value


IdNumber = Annotated[str, AfterValidator(_id_number)]
Phone = Annotated[str | None, AfterValidator(_phone)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonIn(Strict):
    id_number: IdNumber = Field(description="18-character resident id number; stored only hashed")
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    district: Code6 = Field(description="6-digit district code the person is registered in")
    phone: Phone = None


class PersonOut(BaseModel):
    person_ref: str
    created: bool


class EventPerson(Strict):
    person_ref: str | None = None
    id_number: str | None = None
    name: str | None = None
    district: str | None = None
    phone: str | None = None


class EventIn(BaseModel):
    """One event. ``person`` may be omitted only for a lab result the lab could not tie to a
    person; then ``data`` carries the ``name`` and ``phone`` the lab recorded."""

    event_id: str = Field(description="client-chosen UUID; resending it has one effect")
    kind: Literal[
        "travel.arrival", "test.result", "contact.designated", "case.discharged", "correction"
    ]
    occurred_at: str = Field(description="RFC 3339 with an offset")
    person: EventPerson | None = None
    data: dict[str, Any]


class EventBatch(BaseModel):
    events: Annotated[list[Any], Field(min_length=1, max_length=1000)]


class EventBatchDoc(BaseModel):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=1000)]


class EventResult(BaseModel):
    event_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    error: str | None = None
    errors: dict[str, str] | None = None


class EventResults(BaseModel):
    results: list[EventResult]


class ReasonOut(BaseModel):
    rule: str
    since: str
    event_id: str
    color: Color
    phase: str
    text: str
    tests_needed: int | None
    sampled_after: str | None
    ends_at: str | None
    set_by_hand: bool = False
    office: str | None = None
    override_reason: str | None = None


class StatusOut(BaseModel):
    person_ref: str
    color: Color
    since: str
    next_change_at: str | None
    as_of: str
    reasons: list[ReasonOut]


class IntervalOut(BaseModel):
    from_: str = Field(alias="from")
    to: str | None
    color: Color
    cause: str
    recorded_at: str | None = None
    superseded_at: str | None
    superseded_by: str | None


class HistoryOut(BaseModel):
    person_ref: str
    as_shown: bool
    intervals: list[IntervalOut]


class ListingIn(Strict):
    level: Literal["medium", "high"]
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None


class ListingOut(BaseModel):
    area_code: str
    level: str
    valid_from: str
    valid_to: str | None
    changed_by: str | None = None
    changed_at: str | None = None


class Listings(BaseModel):
    listings: list[ListingOut]


class ColorChange(BaseModel):
    before: Color
    after: Color
    people: int


class DistrictChange(ColorChange):
    district: str


class Preview(BaseModel):
    dry_run: bool
    affected: int = Field(description="people whose colour this can change")
    changes: list[ColorChange] = Field(description="colour changes as of now (dry run only)")
    by_district: list[DistrictChange] = Field(
        default_factory=list, description="the same changes per district (dry run only)"
    )


class ListingResult(Preview):
    listing: ListingOut


class CampaignIn(Strict):
    districts: Annotated[list[Code6], Field(min_length=1, max_length=50)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class CampaignResult(Preview):
    campaign_id: str | None
    districts: list[str]
    starts_at: str
    ends_at: str
