"""Pages anyone can use: every page in each state it can show, at 360 px, checked by axe-core.

No serious or critical violation; nothing wider than the screen; and a colour is never the
only signal (each colour state carries its words and a sign).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import BrowserContext, Page, Route, async_playwright, expect

from tests.a11y import assert_accessible, assert_fits
from tests.browser import CHROMIUM, CHROMIUM_ARGS, KEPT, NARROW, require_chromium
from tests.builders import ago, arrival, id_number
from tests.staff import add_account
from tests.test_door_pages import enrolment_code
from tests.test_pages import code_of, register, scan

pytestmark = pytest.mark.browser


@pytest.fixture
async def context() -> AsyncIterator[BrowserContext]:
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport=NARROW)
        yield context
        await context.close()
        await browser.close()


async def check(page: Page, state: str) -> None:
    await assert_accessible(page, state)
    await assert_fits(page)


async def words_and_sign(page: Page, words: str) -> None:
    """A colour shown with its words and a sign, not by its hue alone."""
    text = await page.locator("#display").inner_text()
    assert words in text
    assert await page.locator("#display .sign").inner_text() != ""


async def cut_network(route: Route) -> None:
    await route.abort("internetdisconnected")


async def test_the_index_and_the_citizen_page_in_every_state(api, city, context):
    page = await context.new_page()
    await page.goto(str(api.client.make_url("/")))
    await check(page, "index, Chinese")
    await page.click("[data-lang-toggle]")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await check(page, "index, English")
    await page.click("[data-lang-toggle]")

    await page.goto(str(api.client.make_url("/citizen")))
    await expect(page.locator("#login")).to_be_visible()
    await check(page, "citizen, asked for a token")
    await page.fill("#token", "not-a-token")
    await page.click("#token-form button[type=submit]")
    await expect(page.locator("#alert")).to_be_visible()
    await check(page, "citizen, token refused")

    await city.list_area("440306", "medium", ago(days=10).isoformat())
    ref = await city.register()
    await city.send(arrival(ago(hours=30), {"person_ref": ref}, reporting_district="310101"))
    await page.goto(str(api.client.make_url("/citizen")) + "#token=" + api.token("citizen", ref))
    await expect(page.locator("#reasons li[data-rule=R1]")).to_be_visible()
    await expect(page.locator("#qr")).to_be_visible()
    status = await page.locator("#status").inner_text()
    assert "黄码" in status
    assert "yellow" in status.lower()
    await check(page, "citizen, yellow with reasons and history")
    await page.click("#appeal-details summary")
    await page.click("#appeal-form button[type=submit]")
    await expect(page.locator("[data-field=description]")).to_be_visible()
    await check(page, "citizen, appeal form with a field error")
    events = await page.locator("#appeal-event option").evaluate_all("o => o.map(x => x.value)")
    await page.select_option("#appeal-event", events[1])
    await page.fill("#appeal-description", "我那天在上海，没有去过宝安区。")
    await page.click("#appeal-form button[type=submit]")
    await expect(page.locator("#appeal-result")).to_contain_text("申诉已提交")
    await expect(page.locator("#appeals li")).to_have_count(1)
    await check(page, "citizen, an appeal filed")
    await page.click("[data-lang-toggle]")
    await expect(page.locator("#reasons li[data-rule=R1]")).to_contain_text("medium-risk")
    await check(page, "citizen, English")

    # Offline: no code and no colour, and it says why.
    await page.route("**/v1/**", cut_network)
    await page.reload()
    await expect(page.locator("#code")).to_have_attribute("data-state", "offline")
    await expect(page.locator("#status")).not_to_have_attribute("data-color", "yellow")
    await expect(page.locator("#qr")).to_be_hidden()
    await expect(page.locator("#alert")).to_contain_text("cannot be refreshed")
    await check(page, "citizen, offline")


async def test_the_scanner_in_every_state(api, city, context):
    page = await context.new_page()
    await page.goto(str(api.client.make_url("/scanner")))
    await check(page, "scanner, enrolment")
    await page.fill("#enrol-code", "WRONG-CODE-1")
    await page.click("#enrol-form button[type=submit]")
    await expect(page.locator("#setup-alert")).to_be_visible()
    await check(page, "scanner, enrolment refused")
    await page.fill("#enrol-code", await enrolment_code(api, "venue-a11y"))
    await page.click("#enrol-form button[type=submit]")
    screen = page.locator("#door")
    await expect(page.locator("#venue")).to_contain_text("venue-a11y")
    await expect(screen).to_have_attribute("data-keys", KEPT)
    await check(page, "scanner, ready")

    await city.list_area("440306", "medium", ago(days=10).isoformat())
    ref, number = await register(city, "张三丰")
    await city.send(arrival(ago(hours=30), {"person_ref": ref}))
    code = await code_of(api, ref)
    await scan(page, code)
    await expect(screen).to_have_attribute("data-color", "yellow")
    await words_and_sign(page, "黄码")
    await check(page, "scanner, yellow")
    header, claims, signature = code.split(".")
    await scan(page, f"{header}.{claims}x.{signature}")
    await expect(screen).to_have_attribute("data-state", "refused")
    await check(page, "scanner, refused")
    await scan(page, id_number("310104"))  # valid, and no one's
    await expect(screen).to_have_attribute("data-state", "unknown")
    await check(page, "scanner, no such person")
    await scan(page, "1234")
    await expect(screen).to_have_attribute("data-state", "refused")

    await page.route("**/v1/**", cut_network)
    await scan(page, code)
    await expect(screen).to_have_attribute("data-state", "offline")
    await words_and_sign(page, "黄码")
    await words_and_sign(page, "checked offline")
    await check(page, "scanner, checked offline")
    await scan(page, number)
    await expect(screen).to_have_attribute("data-state", "down")
    await check(page, "scanner, check by hand")
    await page.unroute("**/v1/**")

    await page.click("#door [data-lang-toggle]")
    await expect(page.locator("#scan-input")).to_be_visible()
    await check(page, "scanner, English")
    resp = await api.client.post(
        "/v1/venues/venue-a11y/revoke", json={"reason": "test"}, headers=city.commission
    )
    assert resp.status == 200
    await scan(page, await code_of(api, ref))
    await expect(screen).to_have_attribute("data-state", "token")
    await check(page, "scanner, token no longer accepted")


async def test_the_staff_console_signed_out_and_at_work(api, city, context, settings):
    officer = await add_account(settings, "huangpu-a11y", district="310101", name="王伟")
    await city.list_area("440306", "medium", ago(days=10).isoformat())
    ref = await city.register("310101", "张三")
    await city.send(arrival(ago(hours=30), {"person_ref": ref}, reporting_district="310101"))
    resp = await api.client.post(
        "/v1/appeals",
        json={"category": "other", "description": "颜色不对，我没有去过宝安区。"},
        headers=api.auth("citizen", ref),
    )
    assert resp.status == 201, await resp.text()
    appeal = (await resp.json())["appeal_id"]

    page = await context.new_page()
    await page.goto(str(api.client.make_url("/staff")))
    await expect(page.locator("#sign-in-sub")).to_be_visible()
    await check(page, "console, sign-in")
    await page.fill("#sign-in-sub", officer.sub)
    await page.fill("#sign-in-password", "not the password")
    await page.click("#sign-in button[type=submit]")
    await expect(page.locator("#sign-in-message")).to_be_visible()
    await check(page, "console, sign-in refused")
    await page.fill("#sign-in-password", officer.password)
    await page.click("#sign-in button[type=submit]")
    await expect(page.locator("#who")).to_contain_text(officer.sub)
    await expect(page.locator(f"a[href='/staff/appeals/{appeal}']")).to_be_visible()
    await check(page, "console, the queue")
    await page.goto(str(api.client.make_url(f"/staff/appeals/{appeal}")))
    await expect(page.get_by_text("颜色不对").first).to_be_visible()
    await check(page, "console, an appeal")
