"""The citizen page files an appeal once, however often the citizen presses "file" after its
answer was lost on the way back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, async_playwright, expect
from yarl import URL

from tests.browser import CHROMIUM, CHROMIUM_ARGS, PHONE, losing_the_first_answer, require_chromium
from tests.conftest import Api

pytestmark = pytest.mark.browser


@pytest.fixture
async def page(api: Api) -> AsyncIterator[Page]:
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport=PHONE)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        await browser.close()
        assert errors == []


async def test_a_filing_whose_answer_was_lost_is_filed_once_when_pressed_again(
    city, api, page, conn
):
    ref = await city.register()
    sent: list[str | None] = []

    await page.route(lambda u: URL(u).path == "/v1/appeals", losing_the_first_answer(sent))
    await page.goto(str(api.client.make_url("/citizen")))
    await page.fill("#token", api.token("citizen", ref))
    await page.click("#token-form button[type=submit]")
    await expect(page.locator("#no-appeals")).to_be_visible()

    await page.click("#appeal-details summary")
    await page.select_option("#appeal-category", "other")
    await page.fill("#appeal-description", "我周一的检测结果没有显示。")
    await page.click("#appeal-form button[type=submit]")
    # The page cannot know whether it was filed, and says so rather than "not filed".
    await expect(page.locator("#appeal-result")).to_contain_text("申诉可能已经提交")
    await expect(page.locator("#appeal-result")).to_contain_text("不会重复提交")
    # The citizen presses "file" again: the service answers with the appeal it filed.
    await page.click("#appeal-form button[type=submit]")
    await expect(page.locator("#appeal-result")).to_contain_text("申诉已提交")
    await expect(page.locator("#appeals li")).to_have_count(1)
    assert len(sent) == 2
    assert sent[0] is not None
    assert sent[1] == sent[0]

    # A new appeal is a new request, with a key of its own.
    await page.click("#appeal-details summary")
    await page.select_option("#appeal-category", "other")
    await page.fill("#appeal-description", "我周三的检测结果也没有显示。")
    await page.click("#appeal-form button[type=submit]")
    await expect(page.locator("#appeals li")).to_have_count(2)
    assert len(sent) == 3
    assert sent[2] is not None
    assert sent[2] != sent[0]
    stored = await conn.fetch(
        "SELECT description FROM appeals JOIN persons USING (person_id) "
        "WHERE person_ref = $1 ORDER BY filed_at",
        ref,
    )
    assert [r["description"] for r in stored] == [
        "我周一的检测结果没有显示。",
        "我周三的检测结果也没有显示。",
    ]
