"""Figures for the commission: colours as shown at the time, and how appeals are worked.

A colour count at an instant reads the bitemporal history as shown (a row counts at
``t`` when it was believed at ``t`` and covered ``t``), so a late correction never
changes yesterday's figure. That also makes a count final once its instant is past:
counts older than ``FINAL_AFTER`` are stored per district in ``color_counts`` and never
computed again, so a 30-day chart costs one new day a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from codesvc.appeals.machine import OPEN

#: Steps a chart may ask for; most steps in one request.
STEPS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
MAX_STEPS = 400
#: An instant this far in the past can gain no history row shown at it: a writer's
#: transaction records its rows at the time it began, and none runs this long.
FINAL_AFTER = timedelta(hours=1)
COLORS = ("green", "yellow", "red")


@dataclass(frozen=True, slots=True)
class ColorStep:
    at: datetime
    green: int = 0
    yellow: int = 0
    red: int = 0

    def __add__(self, other: ColorStep) -> ColorStep:
        return ColorStep(
            self.at, self.green + other.green, self.yellow + other.yellow, self.red + other.red
        )


@dataclass(frozen=True, slots=True)
class AppealFigures:
    district: str | None
    filed: int
    decided: int
    open: int
    overdue: int
    median_hours_to_decision: float | None


def instants(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """``start``, ``start + step``, … up to ``end`` (at most MAX_STEPS + 1 of them)."""
    out: list[datetime] = []
    at = start
    while at <= end and len(out) <= MAX_STEPS:
        out.append(at)
        at += step
    return out


_SHOWN = """SELECT s.at, p.district, h.color, count(*) AS people
    FROM unnest($1::timestamptz[]) AS s(at)
    JOIN history h ON GREATEST(h.valid_from, h.recorded_at) <= s.at
                  AND (h.valid_to IS NULL OR h.valid_to > s.at)
                  AND (h.superseded_at IS NULL OR h.superseded_at > s.at)
    JOIN persons p ON p.person_id = h.person_id
    WHERE ($2::text IS NULL OR p.district = $2)
    GROUP BY s.at, p.district, h.color"""


async def colors(
    conn: asyncpg.Connection,
    district: str | None,
    ats: Sequence[datetime],
    now: datetime,
    by_district: bool = False,
) -> dict[str | None, list[ColorStep]]:
    """Counts of people shown each colour at each instant: for ``district`` (None: the
    city), or, with ``by_district``, for every district (keyed by it) and the city (None)."""
    final = [at for at in ats if at <= now - FINAL_AFTER]
    live = [at for at in ats if at > now - FINAL_AFTER]
    counts: dict[tuple[datetime, str], ColorStep] = {}
    async with conn.transaction():
        await _store_missing(conn, final)
        rows = await conn.fetch(
            """SELECT at, district, green, yellow, red FROM color_counts
               WHERE at = ANY($1::timestamptz[]) AND ($2::text IS NULL OR district = $2)""",
            final,
            district,
        )
    for r in rows:
        counts[(r["at"], r["district"])] = ColorStep(r["at"], r["green"], r["yellow"], r["red"])
    if live:
        for r in await conn.fetch(_SHOWN, live, district):
            key = (r["at"], r["district"])
            step = counts.get(key, ColorStep(r["at"]))
            counts[key] = step + ColorStep(r["at"], **{r["color"]: r["people"]})
    districts = sorted({d for _, d in counts})
    out: dict[str | None, list[ColorStep]] = {}
    city = [ColorStep(at) for at in ats]
    for d in districts:
        steps = [counts.get((at, d), ColorStep(at)) for at in ats]
        city = [a + b for a, b in zip(city, steps, strict=True)]
        if by_district:
            out[d] = steps
    out[None] = city
    return out


async def _store_missing(conn: asyncpg.Connection, final: Sequence[datetime]) -> None:
    """Count and store the final instants not counted yet (every district at once)."""
    if not final:
        return
    done = await conn.fetch(
        "SELECT at FROM color_count_steps WHERE at = ANY($1::timestamptz[])", list(final)
    )
    missing = sorted(set(final) - {r["at"] for r in done})
    if not missing:
        return
    rows = await conn.fetch(_SHOWN, missing, None)
    merged: dict[tuple[datetime, str], dict[str, int]] = {}
    for r in rows:
        merged.setdefault((r["at"], r["district"]), dict.fromkeys(COLORS, 0))[r["color"]] = r[
            "people"
        ]
    await conn.execute(
        """INSERT INTO color_counts (at, district, green, yellow, red)
           SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::bigint[],
                                $5::bigint[])
           ON CONFLICT DO NOTHING""",
        [at for at, _ in merged],
        [d for _, d in merged],
        [c["green"] for c in merged.values()],
        [c["yellow"] for c in merged.values()],
        [c["red"] for c in merged.values()],
    )
    await conn.execute(
        "INSERT INTO color_count_steps (at) SELECT unnest($1::timestamptz[]) "
        "ON CONFLICT DO NOTHING",
        missing,
    )


async def appeals(
    conn: asyncpg.Connection, district: str | None, now: datetime, by_district: bool = False
) -> list[AppealFigures]:
    """Appeals filed, decided (corrected or upheld), open, overdue, and the median hours
    from filing to decision: for ``district`` or the city, and per district if asked."""
    rows = await conn.fetch(
        """SELECT CASE WHEN $4 THEN district END AS district,
                  count(*) AS filed,
                  count(*) FILTER (WHERE status IN ('corrected', 'upheld')) AS decided,
                  count(*) FILTER (WHERE status = ANY($2::text[])) AS open,
                  count(*) FILTER (WHERE status = ANY($2::text[]) AND due_at < $3) AS overdue,
                  percentile_cont(0.5) WITHIN GROUP (
                      ORDER BY extract(epoch FROM decided_at - filed_at))
                      FILTER (WHERE status IN ('corrected', 'upheld')) / 3600 AS median_hours
           FROM appeals WHERE ($1::text IS NULL OR district = $1)
           GROUP BY GROUPING SETS ((), (CASE WHEN $4 THEN district END))""",
        district,
        sorted(s.value for s in OPEN),
        now,
        by_district,
    )
    figures: dict[str | None, AppealFigures] = {}
    for r in rows:
        key = r["district"]
        if key in figures:  # the two grouping sets coincide when not by district
            continue
        hours = r["median_hours"]
        figures[key] = AppealFigures(
            key,
            r["filed"],
            r["decided"],
            r["open"],
            r["overdue"],
            round(float(hours), 2) if hours is not None else None,
        )
    total = figures.pop(None, AppealFigures(district, 0, 0, 0, 0, None))
    total = AppealFigures(district, *[getattr(total, f) for f in _FIELDS])
    return [total, *(figures[d] for d in sorted(k for k in figures if k is not None))]


_FIELDS = ("filed", "decided", "open", "overdue", "median_hours_to_decision")
