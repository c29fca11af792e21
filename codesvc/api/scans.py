"""Citizens' codes and the venue scan: ``/v1/me/code``, ``/v1/keys``, ``/v1/scans``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

import asyncpg
import orjson
from aiohttp import web
from pydantic import Discriminator, Field, RootModel, Tag

from codesvc.api.access import status_for
from codesvc.api.clock import CLOCK, now
from codesvc.api.keys import AUTHENTICATOR, METRICS, POOL, POOLS, SETTINGS, SWEEP_NOW, principal
from codesvc.api.metrics import RequestStats
from codesvc.api.middleware import find_primary, observed, problem_for, request_id_of
from codesvc.api.problems import Problem, too_many
from codesvc.api.routing import Reply, Routes, read_body
from codesvc.api.secrets import ID_SECRET
from codesvc.codes import CodeRejected, qr
from codesvc.codes.keystore import KEYS_CHANNEL, ensure_key, load_keys
from codesvc.codes.ring import MAX_CODE, REFUSED, KeyRing
from codesvc.codes.sealing import CodeSecrets, code_secret
from codesvc.db import RECONNECT
from codesvc.identity import id_hash
from codesvc.messages import Text, t
from codesvc.schemas.errors import BRANCHES
from codesvc.schemas.fields import Color, IdNumber, In, Out, TimeOut
from codesvc.service import listen, venues
from codesvc.service.ratelimit import TokenBuckets
from codesvc.service.recorder import Limits, Refused, Scan, ScanRecorder, Shown, no_reset

routes = Routes("scans")

SCANS_ROUTE = "/v1/scans"

#: Statements in flight at once for scan groups (connections of the scans pool).
SCAN_LANES = 2


class CodeOut(Out):
    code: str = Field(description="the QR payload: an ES256 JWT, valid until expires_at")
    color: Color
    as_of: TimeOut = Field(description="when the colour in the code was computed")
    expires_at: TimeOut
    kid: str = Field(description="the key that signed it; see /v1/keys")
    qr_svg: str = Field(description="the code drawn as an SVG QR code")


class Jwks(Out):
    keys: list[dict[str, str]]


class ScanByCode(In):
    code: Annotated[str, Field(max_length=MAX_CODE, description="the scanned QR payload")]


class ScanById(In):
    id_number: IdNumber


def _scan_branch(value: Any) -> str | None:
    if not isinstance(value, dict) or ("code" in value and "id_number" in value):
        return None
    return "by id_number" if "id_number" in value else "by code"


class ScanIn(
    RootModel[
        Annotated[
            Annotated[ScanByCode, Tag("by code")] | Annotated[ScanById, Tag("by id_number")],
            Discriminator(
                _scan_branch,
                custom_error_type="scan_shape",
                custom_error_message="send exactly one of code or id_number",
            ),
        ]
    ]
):
    """Exactly one of ``code`` (a scanned QR code) or ``id_number`` (an id-card reader)."""


BRANCHES.update({"by code", "by id_number"})


class ScanOut(Out):
    color: Color
    name_masked: str
    as_of: str = Field(
        description="when the colour was read", json_schema_extra={"format": "date-time"}
    )
    scan_id: str = Field(description="the durable record of this scan")


class Door:
    """What a scan needs, in one place: the code keys, the recorder, the venues' limits."""

    def __init__(
        self,
        ring: KeyRing,
        recorder: ScanRecorder,
        scan_rate: float,
        id_scans_per_minute: float,
        stats: RequestStats,
    ) -> None:
        self.ring = ring
        self.recorder = recorder
        # In this process, a first sieve that turns a flood away before it costs the
        # database anything; the limit itself is held across processes by the recorder.
        limits = venue_limits(scan_rate, id_scans_per_minute)
        self.scans = TokenBuckets(limits.scan_rate, burst=limits.scan_burst)
        self.id_scans = TokenBuckets(limits.id_scan_rate, burst=limits.id_scan_burst)
        #: The door's own counters: requests, latency and scans by colour shown.
        self.stats = stats


def venue_limits(scan_rate: float, id_scans_per_minute: float) -> Limits:
    """A venue's limits: ``scan_rate`` scans a second (a second's worth at once) and, since
    id-card scans could enumerate people, ``id_scans_per_minute`` of those after a burst of
    ten seconds' worth (a family at the door)."""
    per_second = id_scans_per_minute / 60
    return Limits(scan_rate, max(1.0, scan_rate), per_second, max(1.0, per_second * 10))


DOOR = web.AppKey("door", Door)


@routes.route(
    "GET",
    "/v1/me/code",
    summary="My code: a signed QR payload with my colour, valid for a minute",
    roles=("citizen",),
    response=CodeOut,
    errors=(404,),
)
async def my_code(request: web.Request) -> Reply[CodeOut]:
    found = await status_for(request, principal(request).sub)
    at = now(request)
    # The code carries the colour alone: no reasons, which cost a third of an evaluation.
    status = found.status(at, explained=False)
    issued = request.app[DOOR].ring.issue(
        found.person.person_id, status.color.value, at, at, request.app[SETTINGS].code_ttl
    )
    answer = CodeOut(
        code=issued.code,
        color=cast(Color, issued.color),
        as_of=issued.at,
        expires_at=issued.expires_at,
        kid=issued.kid,
        qr_svg=qr.svg(issued.code, f"health code: {issued.color}"),
    )
    # The QR drawing is most of it and shrinks to a fifth: on a slow phone that is the
    # difference between a code in one second and not (SPEC §9).
    return Reply(answer, headers={"Cache-Control": "no-store"}, compress=True)


@routes.route(
    "GET",
    "/v1/keys",
    summary="The public keys (JWKS) that verify codes offline",
    roles=None,
    response=Jwks,
)
async def public_keys(request: web.Request) -> Reply[Jwks]:
    jwks = request.app[DOOR].ring.jwks(now(request), request.app[SETTINGS].code_ttl)
    return Reply(Jwks(keys=jwks["keys"]), headers={"Cache-Control": "public, max-age=60"})


@routes.route(
    "POST",
    "/v1/scans",
    summary="Scan a code or an id card: the colour and a masked name, recorded durably",
    roles=("scanner",),
    body=ScanIn,
    response=ScanOut,
    errors=(404, 429),
    lean=True,
)
async def scan(request: web.Request) -> web.StreamResponse:
    """The door's own lean route: the general middleware lets it pass, so it authenticates,
    counts and answers its errors itself. A request id is made only when something fails."""
    started = time.perf_counter()
    try:
        response = await _scan(request)
    except Exception as exc:  # every error a problem, as the middleware would answer it
        rid = request_id_of(request)
        if isinstance(exc, RECONNECT):
            await find_primary(request.app)
        answer = problem_for(request, exc, rid)
        answer.headers["X-Request-Id"] = rid
        observed(request, answer.status, time.perf_counter() - started, rid)
        return answer
    request.app[DOOR].stats.observe("POST", SCANS_ROUTE, 200, time.perf_counter() - started)
    return response


async def _scan(request: web.Request) -> web.Response:
    caller = request.app[AUTHENTICATOR].authenticate(request)
    if caller.role != "scanner":
        raise Problem(
            403,
            t(
                "A {role} may not call {method} {path}; it is for: {roles}.",
                role=caller.role,
                method="POST",
                path=SCANS_ROUTE,
                roles="scanner",
            ),
        )
    door = request.app[DOOR]
    venue = caller.sub
    at = now(request)
    # The buckets count in the service's time, as the limits shared through the database do.
    clock = at.timestamp()
    if wait := door.scans.take(venue, clock):
        raise too_many(_too_fast(venue), wait)
    raw = await request.read()
    code = _plain_code(raw)
    body = None
    if code is None:  # not the common shape: validate in full, with per-field errors
        body = read_body(raw, ScanIn).root
        code = body.code if isinstance(body, ScanByCode) else None
    if code is not None:
        try:
            sealed = door.ring.open(code, at)
        except CodeRejected as exc:
            refused = REFUSED[exc.reason]
            raise Problem(422, refused, title="Code refused", reason=exc.reason) from None
        shown = await door.recorder.record(Scan(venue, "code", person_id=sealed.person_id))
    else:
        assert isinstance(body, ScanById)
        if wait := door.id_scans.take(venue, clock):
            raise too_many(_too_many_ids(venue), wait)
        hashed = id_hash(request.app[ID_SECRET], body.id_number)
        shown = await door.recorder.record(Scan(venue, "id_number", id_hash=hashed))
    if type(shown) is Refused:
        raise too_many(
            _too_fast(venue) if shown.limit == "scan" else _too_many_ids(venue), shown.wait
        )
    if shown is None:
        raise Problem(
            404,
            t(
                "No one is registered with this id number; check the card and scan again, or "
                "send the person to register."
            )
            if code is None
            else t("This code names no one registered here; ask the person to refresh it."),
        )
    assert type(shown) is Shown
    counted = door.stats.scans_shown
    counted[shown.color] = counted.get(shown.color, 0) + 1
    # Through the documented model: its constructor costs ~3 us, model_construct (no
    # validation, but field handling in Python) more than twice that.
    answer = ScanOut(
        color=cast(Color, shown.color),
        name_masked=shown.name_masked,
        as_of=shown.as_of,
        scan_id=shown.scan_id,
    )
    return web.Response(body=_SCAN_OUT.to_json(answer), content_type="application/json")


#: What a door is told when the limit held across every process refuses a scan.
def _too_fast(venue: str) -> Text:
    return t(
        "Venue {venue} is scanning faster than its limit; wait a moment and scan again.",
        venue=venue,
    )


def _too_many_ids(venue: str) -> Text:
    return t(
        "Venue {venue} has made too many id-card scans; scan the person's code instead, or "
        "wait before the next id card.",
        venue=venue,
    )


_SCAN_OUT = ScanOut.__pydantic_serializer__


def _plain_code(raw: bytes) -> str | None:
    """The code of a body that is exactly ``{"code": "<string>"}`` (nearly every scan): what
    `ScanByCode` accepts, read without building the model (a test holds the two equal)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(data) is dict and len(data) == 1:
        code = data.get("code")
        if type(code) is str and len(code) <= MAX_CODE:
            return code
    return None


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Code keys, the scan recorder with its own pool, and the listener for other instances."""
    settings = app[SETTINGS]
    clock = app[CLOCK]
    secrets = CodeSecrets(code_secret(settings.code_secret, settings.home))
    ring = KeyRing(secrets)
    async with app[POOL].acquire() as conn:
        await ensure_key(conn, secrets, clock())
        ring.update(await load_keys(conn, secrets))
        _revoke_only(app, await venues.revoked_venues(conn))
    # Scan records get their own connections: a slow batch of events cannot hold up a
    # door, and synchronous_commit is on whatever the server's default says.
    scan_pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=1,
        max_size=SCAN_LANES,
        server_settings={"synchronous_commit": "on", "application_name": "codesvc scans"},
        reset=no_reset,
    )
    assert scan_pool is not None
    app[POOLS].append(scan_pool)
    metrics = app[METRICS]
    sweep_now = app[SWEEP_NOW]
    recorder = ScanRecorder(
        scan_pool,
        app[POOL],
        settings.rules,
        clock,
        settings.scan_group_ms / 1000,
        lanes=SCAN_LANES,
        limits=venue_limits(settings.scan_rate, settings.id_scan_rate),
        on_group=metrics.scan_batch.observe,
        on_due=sweep_now.set,
    )
    app[DOOR] = Door(ring, recorder, settings.scan_rate, settings.id_scan_rate, metrics.http)

    async def resync(conn: asyncpg.Connection) -> None:
        ring.update(await load_keys(conn, secrets))
        _revoke_only(app, await venues.revoked_venues(conn))

    tasks = [
        asyncio.create_task(
            listen.follow(settings.database_url, (KEYS_CHANNEL, venues.VENUES_CHANNEL), resync),
            name="follow changes",
        )
    ]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await recorder.close()
    await scan_pool.close()


def _revoke_only(app: web.Application, venues: set[str]) -> None:
    """Make the refused scanner subjects exactly ``venues``."""
    authenticator = app[AUTHENTICATOR]
    current = {sub for role, sub in authenticator.revoked_subjects if role == "scanner"}
    for venue in venues - current:
        authenticator.revoke("scanner", venue)
    for venue in current - venues:
        authenticator.reinstate("scanner", venue)
