"""The commission's levers: risk-area listings and test campaigns, each with a dry run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from codesvc.messages import t
from codesvc.schemas.fields import Code6, Color, In, Out, QueryBool, Time, TimeOut, rule


class AreaPath(In):
    area_code: Code6 = Field(description="6-digit area code (GB/T 2260)")


class AreaQuery(In):
    area_code: Code6 | None = Field(None, description="only this area")


class DryRunQuery(In):
    dry_run: QueryBool = Field(
        False, description="true: change nothing; count who would turn which colour now"
    )


class ListingIn(In):
    level: Literal["medium", "high"]
    valid_from: Time
    valid_to: Time | None = Field(None, description="not before valid_from; open-ended if absent")

    @field_validator("valid_to")
    @classmethod
    def _not_before_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value < start:
            raise rule(t("must not be before valid_from"))
        return value


class ListingOut(Out):
    area_code: str
    level: str
    valid_from: TimeOut
    valid_to: TimeOut | None
    changed_by: str | None = None
    changed_at: TimeOut | None = None


class Listings(Out):
    listings: list[ListingOut]


class ColorChange(Out):
    before: Color
    after: Color
    people: int


class DistrictChange(ColorChange):
    district: str


class Preview(Out):
    dry_run: bool
    affected: int | None = Field(
        description="people whose colour this can change, counted by a dry run; null for a "
        "change made, whose job counts them (GET /v1/jobs/{job_id}: total)"
    )
    changes: list[ColorChange] = Field(description="colour changes as of now (dry run only)")
    by_district: list[DistrictChange] = Field(
        default_factory=list, description="the same changes per district (dry run only)"
    )
    job_id: str | None = Field(
        None,
        description="the job re-evaluating the people (GET /v1/jobs/{job_id}); null for a dry run",
    )


class ListingResult(Preview):
    listing: ListingOut


class CampaignIn(In):
    districts: Annotated[list[Code6], Field(min_length=1, max_length=50)]
    starts_at: Time
    ends_at: Time = Field(description="after starts_at")

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("starts_at")
        if start is not None and value <= start:
            raise rule(t("must be after starts_at"))
        return value


class CampaignResult(Preview):
    campaign_id: str | None
    districts: list[str]
    starts_at: TimeOut
    ends_at: TimeOut


class JobPath(In):
    job_id: Annotated[str, StringConstraints(pattern=r"^j_[0-9a-f]{16}$")] = Field(
        description="as a listing or campaign change returned it"
    )


class JobOut(Out):
    job_id: str
    kind: Literal["listing", "campaign"]
    state: Literal["running", "done", "failed"]
    total: int | None = Field(description="people to re-evaluate; null until counted")
    done: int = Field(description="people re-evaluated so far")
    started_at: TimeOut
    finished_at: TimeOut | None
    error: str | None = Field(None, description="why the last step failed, if one did")
