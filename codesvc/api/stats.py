"""Figures for the commission (SPEC §9): colours per step as shown, appeals per district.

Staff get their own district's figures only; the commission any district or the city.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field

from codesvc.api.clock import now
from codesvc.api.colours import language
from codesvc.api.keys import POOL, principal
from codesvc.api.problems import Problem
from codesvc.api.routing import Routes
from codesvc.messages import t
from codesvc.schemas.fields import Code6, In, Out, Time, TimeOut
from codesvc.service import stats
from codesvc.state.events import format_time

routes = Routes("stats")

CITY = ZoneInfo("Asia/Shanghai")
#: The chart's default window: the last 30 days.
DEFAULT_DAYS = 30


class ScopeQuery(In):
    district: Code6 | None = Field(
        None, description="a 6-digit district (staff: theirs, the default)"
    )
    by: Literal["district"] | None = Field(
        None, description="district: also each district's figures (commission)"
    )


class WindowQuery(In):
    district: Code6 | None = Field(
        None, description="a 6-digit district (staff: theirs, the default)"
    )
    since: Time | None = Field(
        None, alias="from", description="RFC 3339; default: midnight in the city 30 days ago"
    )
    until: Time | None = Field(
        None, alias="to", description="RFC 3339; default: now (always the last step)"
    )
    step: Literal["day", "hour"] = Field("day", description="day (default) or hour")


class ColorsQuery(WindowQuery):
    by: Literal["district"] | None = Field(
        None, description="district: also each district's figures (commission)"
    )


class ChartQuery(WindowQuery):
    lang: Literal["en", "zh"] | None = Field(None, description="en, or zh (the default)")


class ColorStepOut(Out):
    at: TimeOut
    green: int
    yellow: int
    red: int


class DistrictColors(Out):
    district: str
    steps: list[ColorStepOut]


class ColorsOut(Out):
    district: str | None = Field(description="null: the whole city")
    step: str
    steps: list[ColorStepOut] = Field(description="people shown each colour at each instant")
    districts: list[DistrictColors] | None = Field(
        None, description="with by=district", exclude_if=lambda value: value is None
    )


class AppealFiguresOut(Out):
    district: str | None
    filed: int
    decided: int = Field(description="corrected or upheld")
    open: int
    overdue: int
    median_hours_to_decision: float | None

    @classmethod
    def of(cls, f: stats.AppealFigures) -> AppealFiguresOut:
        return cls(
            district=f.district,
            filed=f.filed,
            decided=f.decided,
            open=f.open,
            overdue=f.overdue,
            median_hours_to_decision=f.median_hours_to_decision,
        )


class AppealStatsOut(AppealFiguresOut):
    districts: list[AppealFiguresOut] | None = Field(
        None, description="with by=district", exclude_if=lambda value: value is None
    )


def _scope(request: web.Request, district: str | None, by: str | None) -> str | None:
    """The district asked for (staff: always theirs)."""
    caller = principal(request)
    if caller.role == "staff":
        if district not in (None, caller.district) or by:
            raise Problem(
                403,
                t(
                    "Staff see the figures of their own district ({district}) only.",
                    district=caller.district,
                ),
            )
        district = caller.district
    return district


def _window(request: web.Request, query: WindowQuery) -> list[datetime]:
    at = now(request)
    step = stats.STEPS[query.step]
    midnight = datetime.combine(at.astimezone(CITY).date(), time(), CITY)
    start = query.since or midnight - timedelta(days=DEFAULT_DAYS)
    end = min(query.until or at, at)
    if start > end:
        raise Problem(422, t("from must not be after to (or now)."), errors={"from": t("after to")})
    ats = stats.instants(start, end, step)
    if len(ats) > stats.MAX_STEPS:
        raise Problem(
            422,
            t(
                "That is more than {most} steps; shorten the window or use a longer step.",
                most=stats.MAX_STEPS,
            ),
            errors={"from": t("window too long")},
        )
    if ats[-1] < end:
        ats.append(end)  # the last step is always the end: "now" by default
    return ats


def _steps(steps: list[stats.ColorStep]) -> list[ColorStepOut]:
    return [ColorStepOut(at=s.at, green=s.green, yellow=s.yellow, red=s.red) for s in steps]


async def _colors(
    request: web.Request, query: WindowQuery, by: str | None
) -> tuple[str | None, dict[str | None, Any]]:
    district = _scope(request, query.district, by)
    ats = _window(request, query)
    async with request.app[POOL].acquire() as conn:
        found = await stats.colors(conn, district, ats, now(request), by_district=by is not None)
    return district, found


@routes.route(
    "GET",
    "/v1/stats/colors",
    summary="People shown green, yellow and red at each step (as shown at the time), for "
    "the city or a district",
    roles=("staff", "commission"),
    response=ColorsOut,
    query=ColorsQuery,
)
async def color_stats(request: web.Request, query: ColorsQuery) -> ColorsOut:
    district, found = await _colors(request, query, query.by)
    districts = None
    if len(found) > 1 or query.by:
        districts = [
            DistrictColors(district=d, steps=_steps(s)) for d, s in found.items() if d is not None
        ]
    return ColorsOut(
        district=district, step=query.step, steps=_steps(found[None]), districts=districts
    )


@routes.route(
    "GET",
    "/v1/stats/colors.svg",
    summary="The same figures drawn as a chart (SVG), for a page to show",
    roles=("staff", "commission"),
    query=ChartQuery,
    content_type="image/svg+xml",
)
async def color_chart(request: web.Request, query: ChartQuery) -> web.Response:
    district, found = await _colors(request, query, None)
    lang = query.lang or language(request)
    svg = chart(found[None], district, "en" if lang == "en" else "zh")
    return web.Response(
        text=svg,
        content_type="image/svg+xml",
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


@routes.route(
    "GET",
    "/v1/stats/appeals",
    summary="Appeals filed, decided, open and overdue, and the median hours to a decision",
    roles=("staff", "commission"),
    response=AppealStatsOut,
    query=ScopeQuery,
)
async def appeal_stats(request: web.Request, query: ScopeQuery) -> AppealStatsOut:
    district = _scope(request, query.district, query.by)
    by = query.by is not None
    async with request.app[POOL].acquire() as conn:
        total, *each = await stats.appeals(conn, district, now(request), by_district=by)
    return AppealStatsOut(
        **AppealFiguresOut.of(total).model_dump(),
        districts=[AppealFiguresOut.of(f) for f in each] if by else None,
    )


# --- the chart --------------------------------------------------------------------------

_LINES = (
    # colour, stroke, dash (so the lines differ without colour too), words
    ("green", "#1a7f37", "", ("绿码", "green")),
    ("yellow", "#b08800", "8 4", ("黄码", "yellow")),
    ("red", "#cf222e", "2 3", ("红码", "red")),
)
W, H, LEFT, RIGHT, TOP, BOTTOM = 760, 280, 56, 92, 34, 36


def chart(steps: list[stats.ColorStep], district: str | None, lang: str) -> str:
    """A line chart of the three counts; labelled for screen readers (title, desc)."""
    en = lang == "en"
    where = district or ("the city" if en else "全市")
    title = (
        f"People by colour, {where}" if en else f"各颜色人数 · {where}"
    )  # the page names districts
    top = max([max(s.green, s.yellow, s.red) for s in steps] + [1])
    scale = _nice(top)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / max(1, len(steps) - 1))

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / scale

    last = steps[-1]
    desc = (
        f"Last step {format_time(last.at)}: green {last.green}, yellow {last.yellow}, "
        f"red {last.red}."
        if en
        else f"最后一步 {format_time(last.at)}：绿码 {last.green}，黄码 {last.yellow}，"
        f"红码 {last.red}。"
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
        f'aria-labelledby="t d" font-family="Noto Sans CJK SC, sans-serif" font-size="12">',
        f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>',
        f'<rect width="{W}" height="{H}" fill="#fff"/>',
        f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for k in range(5):
        v = scale * k // 4
        out.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#d0d7de" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>'
        )
    every = max(1, len(steps) // 8)
    for i, s in enumerate(steps):
        if i % every == 0 or i == len(steps) - 1:
            day = s.at.astimezone(CITY)
            out.append(
                f'<text x="{x(i):.1f}" y="{H - 14}" text-anchor="middle">'
                f"{day.month}/{day.day}</text>"
            )
    labels = []
    for name, stroke, dash, words in _LINES:
        values = [getattr(s, name) for s in steps]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline fill="none" stroke="{stroke}" stroke-width="2.5"{dashed} '
            f'points="{points}"/>'
        )
        labels.append((y(values[-1]), stroke, f"{words[1] if en else words[0]} {values[-1]}"))
    # Labels at the lines' ends, pushed apart where the lines end close together.
    placed: list[float] = []
    for at, stroke, label in sorted(labels, reverse=True):
        at = min([at, *(p - 15 for p in placed)])
        placed.append(at)
        out.append(
            f'<text x="{W - RIGHT + 6}" y="{at + 4:.1f}" fill="{stroke}">{escape(label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _nice(top: int) -> int:
    """A round axis maximum at or above ``top`` (1, 2 or 5 times a power of ten, times 4)."""
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            if m * magnitude * 4 >= top:
                return m * magnitude * 4
        magnitude *= 10
