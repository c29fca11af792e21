"""The README's tour, run as written against a real server, prints what the README shows."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest

from tests.readme_tour import INSTANT, README, commands, normalize, run, tour_block


async def test_the_readme_tour_prints_what_the_readme_shows(db_url, tmp_path):
    pairs = commands(tour_block(README.read_text()))
    assert len(pairs) >= 8
    outputs = await asyncio.to_thread(run, pairs, db_url, tmp_path)
    for (command, expected), actual in zip(pairs, outputs, strict=True):
        assert normalize(actual) == normalize(expected), f"$ {command}"


def as_if_run_on(text: str, now: datetime) -> str:
    """The README's output as a run at ``now`` prints it: the tour's own times (its commands
    give only times in 2022) as written, the recording run's times moved to ``now``."""
    run_times = [
        datetime.fromisoformat(t) for t in re.findall(INSTANT, text) if not t.startswith("2022")
    ]
    if not run_times:
        return text
    shift = now - min(run_times)
    return re.sub(
        INSTANT,
        lambda m: (
            m.group(0)
            if m.group(0).startswith("2022")
            else (datetime.fromisoformat(m.group(0)) + shift).isoformat()
        ),
        text,
    )


@pytest.mark.parametrize(
    "now", [datetime(2027, 1, 1, tzinfo=UTC), datetime(2030, 6, 30, 23, 59, tzinfo=UTC)]
)
def test_the_tour_compares_the_same_whatever_the_date(now):
    pairs = commands(tour_block(README.read_text()))
    outputs = [as_if_run_on(expected, now) for _, expected in pairs]
    assert any(str(now.year) in out for out in outputs)  # the run's times did move
    for (command, expected), actual in zip(pairs, outputs, strict=True):
        assert normalize(actual) == normalize(expected), f"$ {command}"

    # The tour's own times still count: a colour from another hour is a difference...
    status = next(i for i, (c, _) in enumerate(pairs) if "/v1/me/status" in c)
    moved = outputs[status].replace("2022-02-08T02:00:00", "2022-02-08T03:00:00")
    assert normalize(moved) != normalize(pairs[status][1])
    # ...and so is the run's time where the tour's time belongs.
    as_of = re.search(rf'"as_of": "({INSTANT})"', outputs[status])
    assert as_of is not None
    since_now = outputs[status].replace("2022-02-08T02:00:00+00:00", as_of.group(1), 1)
    assert normalize(since_now) != normalize(pairs[status][1])
