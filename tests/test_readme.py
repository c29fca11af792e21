"""The README's tour, run as written against a real server, prints what the README shows."""

from __future__ import annotations

import asyncio

from tests.readme_tour import README, commands, normalize, run, tour_block


async def test_the_readme_tour_prints_what_the_readme_shows(db_url, tmp_path):
    pairs = commands(tour_block(README.read_text()))
    assert len(pairs) >= 8
    outputs = await asyncio.to_thread(run, pairs, db_url, tmp_path)
    for (command, expected), actual in zip(pairs, outputs, strict=True):
        assert normalize(actual) == normalize(expected), f"$ {command}"
