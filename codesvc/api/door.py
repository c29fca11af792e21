"""The door device: uploading scans it decided offline, and enrolling it without a pasted token.

``POST /v1/scans/offline``: a scanner that lost the network checked codes with the
published keys and queued them; it sends them here when it is back. ``POST
/v1/venues/{venue_id}/enrolments``: the commission makes a one-time enrolment code for a
venue; ``POST /v1/scanner/enrol``: the venue's device trades that code for its own
long-lived scanner token (its ``sub`` is the venue, so revoking the venue refuses it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field, StringConstraints

from codesvc.api.clock import now
from codesvc.api.keys import AUTH_KEYS, AUTHENTICATOR, POOL, principal
from codesvc.api.problems import Problem, too_many
from codesvc.api.routing import Reply, Routes
from codesvc.api.scans import DOOR
from codesvc.codes import CodeRejected
from codesvc.codes.ring import MAX_CODE, KeyRing
from codesvc.messages import t
from codesvc.schemas.fields import LINE, EventId, In, Out, Time, TimeOut
from codesvc.service import enrolments, offline_scans
from codesvc.service.ratelimit import TokenBuckets
from codesvc.settings import ConfigError

log = logging.getLogger("codesvc.door")
routes = Routes("door")

#: Most scans in one upload; a door that was offline for a long day sends several.
MAX_UPLOAD = 500
#: An offline scan older than this is refused: the door's queue is for outages, not archives.
MAX_OFFLINE_AGE = timedelta(days=7)
#: How far a door's clock may run ahead of the service's, or behind the code's issue time.
CLOCK_SKEW = timedelta(minutes=5)
#: A scanner token from enrolment lasts a year; revoking the venue ends it at once.
SCANNER_TOKEN_TTL = 365 * 24 * 3600
#: Tries to redeem an enrolment code, per client address: a burst, then one every 10 s.
ENROL_RATE = 0.1
ENROL_BURST = 5.0

#: Enrolment attempts per client address (set up by ``create_app``).
ENROL_TRIES = web.AppKey("enrol_tries", TokenBuckets)


def enrol_tries() -> TokenBuckets:
    return TokenBuckets(ENROL_RATE, burst=ENROL_BURST)


class OfflineScanIn(In):
    scan_id: EventId = Field(description="chosen by the door; the same scan uploaded again is one")
    code: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE, pattern=LINE)]
    scanned_at: Time = Field(description="when the door scanned it, RFC 3339 with an offset")


class OfflineUploadIn(In):
    scans: Annotated[list[OfflineScanIn], Field(min_length=1, max_length=MAX_UPLOAD)]


class OfflineResult(Out):
    scan_id: str
    status: Literal["recorded", "duplicate", "rejected"]
    error: str | None = None


class OfflineUploadOut(Out):
    results: list[OfflineResult]


class VenuePath(In):
    venue_id: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z_.:-]+$")
    ] = Field(description="the venue: its devices' scanner tokens have it as sub")


class EnrolmentOut(Out):
    venue: str
    enrolment_code: str = Field(description="give it to the venue's device once; single use")
    expires_at: TimeOut


class EnrolIn(In):
    enrolment_code: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=LINE)]


class EnrolledOut(Out):
    venue: str
    token: str = Field(description="this device's scanner token; keep it on the device")
    expires_at: TimeOut


@routes.route(
    "POST",
    "/v1/scans/offline",
    summary="Upload scans the door decided offline, with the time each happened",
    roles=("scanner",),
    body=OfflineUploadIn,
    response=OfflineUploadOut,
    errors=(429,),
)
async def upload_offline(request: web.Request, body: OfflineUploadIn) -> OfflineUploadOut:
    venue = principal(request).sub
    at = now(request)
    if wait := request.app[DOOR].scans.take(venue, at.timestamp()):
        raise too_many(
            t("Venue {venue} is sending faster than its limit; send again shortly.", venue=venue),
            wait,
        )
    refused: dict[str, str] = {}
    accepted: dict[str, offline_scans.OfflineScan] = {}
    for item in body.scans:  # the same scan id twice in one upload counts once
        if item.scan_id in refused or item.scan_id in accepted:
            continue
        checked = _offline_scan(request.app[DOOR].ring, item, at)
        if isinstance(checked, str):
            refused[item.scan_id] = checked
        else:
            accepted[item.scan_id] = checked
    async with request.app[POOL].acquire() as conn:
        outcome = await offline_scans.record(conn, venue, list(accepted.values()), at)
    results = []
    for scan_id in dict.fromkeys(item.scan_id for item in body.scans):
        if scan_id in refused:
            results.append(
                OfflineResult(scan_id=scan_id, status="rejected", error=refused[scan_id])
            )
        elif outcome.get(scan_id) == offline_scans.RECORDED:
            results.append(OfflineResult(scan_id=scan_id, status="recorded"))
        elif outcome.get(scan_id) == offline_scans.DUPLICATE:
            results.append(OfflineResult(scan_id=scan_id, status="duplicate"))
        else:
            results.append(OfflineResult(scan_id=scan_id, status="rejected", error=_TAKEN))
    return OfflineUploadOut(results=results)


_TAKEN = "Another venue recorded a scan with this id; the door must choose new ids."


def _offline_scan(
    ring: KeyRing, item: OfflineScanIn, at: datetime
) -> offline_scans.OfflineScan | str:
    """The scan to record, or why it is refused: what the door should have refused, too."""
    scanned_at = item.scanned_at
    if scanned_at > at + CLOCK_SKEW:
        return "scanned_at is in the future; check the door's clock."
    if scanned_at < at - MAX_OFFLINE_AGE:
        return "scanned_at is more than 7 days ago; such a scan is no longer taken."
    try:
        sealed = ring.open(item.code, scanned_at)
    except CodeRejected as exc:
        if exc.reason == "expired":
            return "The code had expired when it was scanned; the door should have refused it."
        return str(exc)
    if scanned_at.timestamp() < sealed.issued_at - CLOCK_SKEW.total_seconds():
        return "scanned_at is before the code was issued; check the door's clock."
    return offline_scans.OfflineScan(item.scan_id, sealed.person_id, scanned_at, sealed.color)


@routes.route(
    "POST",
    "/v1/venues/{venue_id}/enrolments",
    summary="Make a one-time code that enrols a venue's scanner device",
    roles=("commission",),
    response=EnrolmentOut,
    status=201,
    path_params=VenuePath,
    errors=(409,),
)
async def create_enrolment(request: web.Request, path: VenuePath) -> Reply[EnrolmentOut]:
    async with request.app[POOL].acquire() as conn:
        made = await enrolments.create(conn, path.venue_id, principal(request), now(request))
    if made is None:
        raise Problem(
            409,
            t(
                "Venue {venue} is revoked; reinstate it before enrolling a device.",
                venue=path.venue_id,
            ),
        )
    code, expires_at = made
    answer = EnrolmentOut(venue=path.venue_id, enrolment_code=code, expires_at=expires_at)
    return Reply(answer, status=201, headers={"Cache-Control": "no-store"})


@routes.route(
    "POST",
    "/v1/scanner/enrol",
    summary="A venue's device trades its enrolment code for its own scanner token",
    roles=None,
    body=EnrolIn,
    response=EnrolledOut,
    errors=(403, 429, 503),
)
async def enrol(request: web.Request, body: EnrolIn) -> Reply[EnrolledOut]:
    if wait := request.app[ENROL_TRIES].take(request.remote or "", now(request).timestamp()):
        raise too_many(t("Too many enrolment attempts from this device; wait and try again."), wait)
    async with request.app[POOL].acquire() as conn:
        venue = await enrolments.redeem(conn, body.enrolment_code, now(request))
    if venue is None:
        raise Problem(
            403,
            t(
                "This enrolment code is not valid: it was mistyped, used already or has "
                "expired. Ask the health commission for a new one."
            ),
        )
    if ("scanner", venue) in request.app[AUTHENTICATOR].revoked_subjects:
        raise Problem(
            403, t("Venue {venue} is revoked; its devices cannot be enrolled.", venue=venue)
        )
    try:
        token = request.app[AUTH_KEYS].sign("scanner", venue, ttl=SCANNER_TOKEN_TTL)
    except ConfigError as exc:
        log.error("cannot issue scanner tokens: %s", exc)
        raise Problem(
            503, t("This service cannot issue scanner tokens now; tell its operators.")
        ) from None
    expires_at = now(request) + timedelta(seconds=SCANNER_TOKEN_TTL)
    answer = EnrolledOut(venue=venue, token=token, expires_at=expires_at)
    return Reply(answer, headers={"Cache-Control": "no-store"})
