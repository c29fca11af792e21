"""The commission's levers: risk-area listings and test campaigns, each with a dry run."""

from __future__ import annotations

import re
from datetime import datetime

import asyncpg
from aiohttp import web

from codesvc.api.clock import now
from codesvc.api.keys import POOL, SETTINGS, SWEEP_NOW, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Param, Routes, json_response, parse_body, query_flag
from codesvc.api.schemas import CampaignIn, CampaignResult, ListingIn, ListingResult, Listings
from codesvc.service import listings as store
from codesvc.state.events import format_time
from codesvc.state.world import Listing

routes = Routes("commission")

DRY_RUN = Param(
    "dry_run",
    schema={"type": "boolean"},
    description="true: change nothing; count who would turn which colour now",
)
AREA = re.compile(r"^[0-9]{6}$")


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _listing(row: asyncpg.Record) -> dict[str, object]:
    return {
        "area_code": row["area_code"],
        "level": row["level"],
        "valid_from": format_time(row["valid_from"]),
        "valid_to": _t(row["valid_to"]),
        "changed_by": row["changed_by"],
        "changed_at": _t(row["changed_at"]),
    }


def _by_district(preview: store.Preview) -> list[dict[str, object]]:
    return [
        {"district": district, "before": before.value, "after": after.value, "people": people}
        for (district, before, after), people in sorted(
            preview.by_district.items(), key=lambda i: (i[0][0], i[0][1].value, i[0][2].value)
        )
    ]


def _changes(preview: store.Preview) -> list[dict[str, object]]:
    return [
        {"before": before.value, "after": after.value, "people": people}
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
    params=(Param("area_code", description="only this area"),),
)
async def list_areas(request: web.Request) -> web.Response:
    area = request.query.get("area_code")
    if area is not None and not AREA.match(area):
        raise Problem(422, "area_code must be a 6-digit code.", errors={"area_code": "6 digits"})
    async with request.app[POOL].acquire() as conn:
        rows = await store.all_listings(conn, area)
    return json_response({"listings": [_listing(r) for r in rows]})


@routes.route(
    "PUT",
    "/v1/risk-areas/{area_code}",
    summary="List an area as medium or high risk from valid_from (backdating allowed); "
    "the same valid_from again changes or ends that listing",
    roles=("commission",),
    body=ListingIn,
    response=ListingResult,
    params=(Param("area_code", "path", description="6-digit area code"), DRY_RUN),
)
async def put_area(request: web.Request) -> web.Response:
    area = request.match_info["area_code"]
    if not AREA.match(area):
        raise Problem(422, "area_code must be a 6-digit code.", errors={"area_code": "6 digits"})
    body = await parse_body(request, ListingIn)
    if body.valid_to is not None and body.valid_to < body.valid_from:
        raise Problem(
            422, "valid_to must not be before valid_from.", errors={"valid_to": "before valid_from"}
        )
    dry_run = query_flag(request, "dry_run")
    listing = Listing(area, body.level, body.valid_from, body.valid_to)
    caller = principal(request)
    async with request.app[POOL].acquire() as conn:
        result = await store.put_listing(
            conn, listing, caller.sub, request.app[SETTINGS].rules, now(request), dry_run
        )
    if not dry_run:
        request.app[SWEEP_NOW].set()
    listing_out = {
        "area_code": area,
        "level": body.level,
        "valid_from": format_time(body.valid_from),
        "valid_to": _t(body.valid_to),
        "changed_by": caller.sub,
        "changed_at": None if dry_run else format_time(now(request)),
    }
    return json_response(
        {
            "dry_run": dry_run,
            "affected": result.affected,
            "changes": _changes(result),
            "by_district": _by_district(result),
            "listing": listing_out,
        }
    )


@routes.route(
    "POST",
    "/v1/campaigns",
    summary="A test campaign: people of these districts untested in the window turn yellow "
    "when it ends (R8)",
    roles=("commission",),
    body=CampaignIn,
    response=CampaignResult,
    params=(DRY_RUN,),
    status=201,
)
async def post_campaign(request: web.Request) -> web.Response:
    body = await parse_body(request, CampaignIn)
    if body.ends_at <= body.starts_at:
        raise Problem(422, "ends_at must be after starts_at.", errors={"ends_at": "too early"})
    dry_run = query_flag(request, "dry_run")
    async with request.app[POOL].acquire() as conn:
        campaign, result = await store.add_campaign(
            conn,
            frozenset(body.districts),
            body.starts_at,
            body.ends_at,
            principal(request).sub,
            request.app[SETTINGS].rules,
            now(request),
            dry_run,
        )
    if not dry_run:
        request.app[SWEEP_NOW].set()
    return json_response(
        {
            "dry_run": dry_run,
            "campaign_id": None if dry_run else campaign.campaign_id,
            "districts": sorted(campaign.districts),
            "starts_at": format_time(campaign.starts_at),
            "ends_at": format_time(campaign.ends_at),
            "affected": result.affected,
            "changes": _changes(result),
            "by_district": _by_district(result),
        },
        status=200 if dry_run else 201,
    )
