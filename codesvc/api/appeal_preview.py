"""``POST /v1/appeals/{id}/preview``: see a decision's effect before it is written."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from codesvc.api.appeals import (
    AppealOut,
    AppealPath,
    CorrectionsIn,
    ResolveIn,
    answering,
    appeal_body,
)
from codesvc.api.clock import now
from codesvc.api.colours import LANG, history_body, language
from codesvc.api.keys import POOL, SETTINGS, principal
from codesvc.api.routing import Routes
from codesvc.schemas.colours import HistoryOut, StatusOut
from codesvc.schemas.fields import Out
from codesvc.service import appeals as service
from codesvc.service.appeals.preview import preview_resolve

routes = Routes("appeals")


class PreviewOut(Out):
    dry_run: bool = Field(description="always true: nothing was written")
    appeal: AppealOut = Field(description="the appeal as it would be")
    status: StatusOut | None = Field(description="the person's colour and reasons afterwards")
    history: HistoryOut = Field(description="their history afterwards, as believed")
    history_as_shown: HistoryOut = Field(description="and as shown at the time")


@routes.route(
    "POST",
    "/v1/appeals/{appeal_id}/preview",
    summary="A dry run of resolve: the appeal, colour, reasons and history the person would "
    "have afterwards, computed by the same engine; nothing is written",
    roles=("staff", "commission"),
    body=ResolveIn,
    response=PreviewOut,
    path_params=AppealPath,
    headers=(LANG,),
    errors=(404, 409),
)
async def preview(request: web.Request, path: AppealPath, body: ResolveIn) -> PreviewOut:
    actor = service.actor_of(principal(request))
    fixes = body.corrections or CorrectionsIn()
    at = now(request)
    with answering("correct" if body.outcome == "corrected" else "uphold"):
        async with request.app[POOL].acquire() as conn:
            found = await preview_resolve(
                conn,
                path.appeal_id,
                actor,
                outcome=body.outcome,
                note=body.note,
                corrections=service.Corrections(fixes.void, fixes.add),
                now=at,
                rules=request.app[SETTINGS].rules,
            )
    ref = found.dossier.appeal.person_ref
    lang = language(request)
    return PreviewOut(
        dry_run=True,
        appeal=appeal_body(found.dossier, actor, at),
        status=StatusOut.of(ref, found.status, lang, at) if found.status else None,
        history=history_body(ref, found.history, at, shown=False),
        history_as_shown=history_body(ref, found.history, at, shown=True),
    )
