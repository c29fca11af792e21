"""``GET /v1/audit/checkpoints``: the signed heads of the audit chain, for the commission."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codesvc.api.keys import POOL, SETTINGS
from codesvc.api.routing import Routes
from codesvc.schemas.fields import BIGINT_MAX, In, Out, TimeOut, query_int
from codesvc.service import checkpoints

routes = Routes("audit")

#: Most checkpoints one page returns.
PAGE_MAX = 1000


class CheckpointsQuery(In):
    before: query_int(1, BIGINT_MAX) = Field(  # type: ignore[valid-type]
        BIGINT_MAX, description="only checkpoints of entries before this seq"
    )
    limit: query_int(1, PAGE_MAX) = Field(100, description=f"at most {PAGE_MAX}")  # type: ignore[valid-type]


class CheckpointOut(Out):
    seq: int = Field(description="the entry whose hash was signed")
    hash: str = Field(description="that entry's chain hash")
    at: TimeOut = Field(description="when it was signed")
    sig: str = Field(description="Ed25519 signature (base64url) over canonical {seq, hash, at}")


class CheckpointsOut(Out):
    public_key: str = Field(description="the Ed25519 public key (raw, base64url)")
    checkpoints: list[CheckpointOut] = Field(description="newest first")
    next_before: int | None = Field(description="pass as before= for older ones; null at the end")


@routes.route(
    "GET",
    "/v1/audit/checkpoints",
    summary="Signed checkpoints of the audit chain's head, newest first; each is also "
    "written to a file outside the database",
    roles=("commission",),
    response=CheckpointsOut,
    query=CheckpointsQuery,
)
async def list_checkpoints(request: web.Request, query: CheckpointsQuery) -> CheckpointsOut:
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            """SELECT seq, hash, at, sig FROM audit_checkpoints WHERE seq < $1
               ORDER BY seq DESC LIMIT $2""",
            query.before,
            query.limit,
        )
    key = checkpoints.signing_key(checkpoints.key_path(request.app[SETTINGS])).public_key()
    return CheckpointsOut(
        public_key=checkpoints.public_key_text(key),
        checkpoints=[
            CheckpointOut(seq=r["seq"], hash=r["hash"], at=r["at"], sig=r["sig"]) for r in rows
        ],
        next_before=rows[-1]["seq"] if len(rows) == query.limit else None,
    )
