"""The commission's levers: risk-area listings and test campaigns, each with a dry run."""

from __future__ import annotations

from aiohttp import web

from codesvc.api.clock import now
from codesvc.api.idempotency import connection
from codesvc.api.keys import POOL, SETTINGS, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Reply, Routes
from codesvc.messages import t
from codesvc.schemas.areas import (
    AreaPath,
    AreaQuery,
    CampaignIn,
    CampaignResult,
    ColorChange,
    DistrictChange,
    DryRunQuery,
    JobOut,
    JobPath,
    ListingIn,
    ListingOut,
    ListingResult,
    Listings,
)
from codesvc.service import jobs
from codesvc.service import listings as store
from codesvc.state.world import Listing

routes = Routes("commission")


def _by_district(preview: store.Preview) -> list[DistrictChange]:
    return [
        DistrictChange(district=district, before=before.value, after=after.value, people=people)
        for (district, before, after), people in sorted(
            preview.by_district.items(), key=lambda i: (i[0][0], i[0][1].value, i[0][2].value)
        )
    ]


def _changes(preview: store.Preview) -> list[ColorChange]:
    return [
        ColorChange(before=before.value, after=after.value, people=people)
        for (before, after), people in sorted(
            preview.changes.items(), key=lambda item: (item[0][0].value, item[0][1].value)
        )
    ]


@routes.route(
    "GET",
    "/v1/risk-areas",
    summary="The risk-area listings",
    roles=("citizen", "scanner", "feeder", "staff", "commission"),
    response=Listings,
    query=AreaQuery,
)
async def list_areas(request: web.Request, query: AreaQuery) -> Listings:
    async with request.app[POOL].acquire() as conn:
        rows = await store.all_listings(conn, query.area_code)
    return Listings(
        listings=[
            ListingOut(
                area_code=r["area_code"],
                level=r["level"],
                valid_from=r["valid_from"],
                valid_to=r["valid_to"],
                changed_by=r["changed_by"],
                changed_at=r["changed_at"],
            )
            for r in rows
        ]
    )


@routes.route(
    "PUT",
    "/v1/risk-areas/{area_code}",
    summary="List an area as medium or high risk from valid_from (backdating allowed); "
    "the same valid_from again changes or ends that listing",
    roles=("commission",),
    body=ListingIn,
    response=ListingResult,
    path_params=AreaPath,
    query=DryRunQuery,
)
async def put_area(
    request: web.Request, path: AreaPath, query: DryRunQuery, body: ListingIn
) -> ListingResult:
    dry_run = query.dry_run
    listing = Listing(path.area_code, body.level, body.valid_from, body.valid_to)
    caller = principal(request)
    at = now(request)
    async with request.app[POOL].acquire() as conn:
        result = await store.put_listing(
            conn, listing, caller, request.app[SETTINGS].rules, at, dry_run
        )
    return ListingResult(
        dry_run=dry_run,
        affected=result.affected,
        changes=_changes(result),
        by_district=_by_district(result),
        job_id=result.job_id,
        listing=ListingOut(
            area_code=path.area_code,
            level=body.level,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            changed_by=caller.sub,
            changed_at=None if dry_run else at,
        ),
    )


@routes.route(
    "POST",
    "/v1/campaigns",
    summary="A test campaign: people of these districts untested in the window turn yellow "
    "when it ends (R8); 201 when created, 200 for a dry run",
    roles=("commission",),
    body=CampaignIn,
    response=CampaignResult,
    query=DryRunQuery,
    status=(201, 200),
    idempotent=True,
)
async def post_campaign(
    request: web.Request, query: DryRunQuery, body: CampaignIn
) -> Reply[CampaignResult]:
    dry_run = query.dry_run
    async with connection(request) as conn:
        campaign, result = await store.add_campaign(
            conn,
            frozenset(body.districts),
            body.starts_at,
            body.ends_at,
            principal(request),
            request.app[SETTINGS].rules,
            now(request),
            dry_run,
        )
    answer = CampaignResult(
        dry_run=dry_run,
        campaign_id=None if dry_run else campaign.campaign_id,
        districts=sorted(campaign.districts),
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        affected=result.affected,
        changes=_changes(result),
        by_district=_by_district(result),
        job_id=result.job_id,
    )
    return Reply(answer, 200 if dry_run else 201)


@routes.route(
    "GET",
    "/v1/jobs/{job_id}",
    summary="A city-wide job (a listing or campaign being applied): its state and progress",
    roles=("commission",),
    response=JobOut,
    path_params=JobPath,
    errors=(404,),
)
async def get_job(request: web.Request, path: JobPath) -> JobOut:
    async with request.app[POOL].acquire() as conn:
        job = await jobs.get(conn, path.job_id)
    if job is None:
        raise Problem(
            404, t("There is no job {job}; use the job_id a change returned.", job=path.job_id)
        )
    return JobOut(
        job_id=job.job_id,
        kind=job.kind,  # type: ignore[arg-type]
        state=job.state,  # type: ignore[arg-type]
        total=job.total,
        done=job.done,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
    )
