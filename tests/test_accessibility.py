"""Pages anyone can use: every page in each state a user meets, at 360 px, checked by axe-core.

No serious or critical violation; nothing wider than the screen; and a colour is never the
only signal (each colour state carries its words and a sign). States that come with time (a
door still waiting for an answer, a screen clearing for the next person) are reached by
moving the page's clock (``page.clock``), never by sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import BrowserContext, Page, Route, async_playwright, expect

from tests.a11y import REAL_TIMERS, assert_accessible, assert_fits
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KEPT,
    NARROW,
    drawn,
    freeze,
    require_chromium,
)
from tests.builders import ago, arrival, id_number, positive
from tests.staff import ShiftedClock, add_account
from tests.test_door_pages import enrolment_code
from tests.test_pages import Door, code_of, door_server, register, scan

pytestmark = pytest.mark.browser


@pytest.fixture
async def context() -> AsyncIterator[BrowserContext]:
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport=NARROW)
        # axe keeps the browser's timers: a test may stop the page's clock to hold a state.
        await context.add_init_script(REAL_TIMERS)
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

    async def opened(ref: str) -> None:
        await page.goto(
            str(api.client.make_url("/citizen")) + "#token=" + api.token("citizen", ref)
        )

    # Green, with its words; then loading, while the service has not answered yet.
    fine = await city.register()
    held: list[Route] = []

    async def hold(route: Route) -> None:
        held.append(route)

    await page.route("**/v1/me/code", hold)
    await opened(fine)
    await expect(page.locator("#loading")).to_be_visible()
    await check(page, "citizen, loading")
    for route in held:
        await route.continue_()
    await page.unroute("**/v1/me/code")
    await expect(page.locator("#status")).to_have_attribute("data-color", "green")
    await expect(page.locator("#status")).to_contain_text("绿码")
    await expect(page.locator("#qr")).to_be_visible()
    await check(page, "citizen, green")

    # Red: a positive test.
    ill = await city.register()
    await city.send(positive(ago(hours=5), {"person_ref": ill}))
    await opened(ill)
    await expect(page.locator("#status")).to_have_attribute("data-color", "red")
    await expect(page.locator("#status")).to_contain_text("红码")
    await check(page, "citizen, red")

    await city.list_area("440306", "medium", ago(days=10).isoformat())
    ref = await city.register()
    await city.send(arrival(ago(hours=30), {"person_ref": ref}, reporting_district="310101"))
    await opened(ref)
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


async def test_the_scanner_in_every_state(settings, keys, context):
    async with door_server(settings, keys) as door:
        await scanner_states(door, await context.new_page())


async def scanner_states(door: Door, page: Page) -> None:
    api, city = door.api, door.city
    await page.clock.install()
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
    await expect(screen).to_have_attribute("data-state", "ready")
    await check(page, "scanner, idle")

    await city.list_area("440306", "medium", ago(days=10).isoformat())
    ref, number = await register(city, "张三丰")
    await city.send(arrival(ago(hours=30), {"person_ref": ref}))
    code = await code_of(api, ref)
    await scan(page, code)
    await expect(screen).to_have_attribute("data-color", "yellow")
    await words_and_sign(page, "黄码")
    await check(page, "scanner, yellow")
    # The colour goes after a few seconds: the door is idle again for the next person.
    await page.clock.fast_forward(6000)
    await expect(screen).to_have_attribute("data-state", "ready")
    await check(page, "scanner, idle after a colour")

    # The service is slow to answer: the door shows that it is checking, and it stays so
    # (the page's clock stands still) until the test lets time pass.
    held: list[Route] = []

    async def hold(route: Route) -> None:
        held.append(route)

    await page.route("**/v1/scans", hold)
    await freeze(page)
    await scan(page, code)
    await expect(screen).to_have_attribute("data-state", "checking")
    await check(page, "scanner, checking")
    await page.clock.run_for(3500)  # no answer in 3 s counts as none: checked on the device
    await expect(screen).to_have_attribute("data-state", "offline")
    await check(page, "scanner, no answer in time, checked offline")
    for route in held:
        await route.abort()
    await page.unroute("**/v1/scans")
    await page.clock.resume()

    # Two minutes later the code has expired.
    door.clock.offset = timedelta(minutes=2)
    await scan(page, code)
    await expect(screen).to_have_attribute("data-state", "expired")
    await check(page, "scanner, expired code")
    door.clock.offset = timedelta()
    code = await code_of(api, ref)

    header, claims, signature = code.split(".")
    await scan(page, f"{header}.{claims}x.{signature}")
    await expect(screen).to_have_attribute("data-state", "refused")
    await check(page, "scanner, refused")
    await scan(page, id_number("310104"))  # valid, and no one's
    await expect(screen).to_have_attribute("data-state", "unknown")
    await check(page, "scanner, no such person")
    # The door allows one id card per ten seconds: the second is told to wait.
    await scan(page, number)
    await expect(screen).to_have_attribute("data-state", "busy")
    await check(page, "scanner, too many scans")
    await scan(page, "1234")
    await expect(screen).to_have_attribute("data-state", "refused")

    # The network is down.
    await page.route("**/v1/**", cut_network)
    await scan(page, code)
    await expect(screen).to_have_attribute("data-state", "offline")
    await words_and_sign(page, "黄码")
    await words_and_sign(page, "checked offline")
    await check(page, "scanner, network down, checked offline")
    await page.clock.fast_forward(11_000)  # past the id cards' pause
    await scan(page, number)
    await expect(screen).to_have_attribute("data-state", "down")
    await check(page, "scanner, network down, check by hand")
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
    # The case, claimed, with a correction previewed before anything is written.
    await page.click("#claim")
    await expect(page.locator("#decide")).to_be_visible()
    await page.locator("#voids input[name=void]").first.check()
    await page.fill("#decision-note", "经核实，到达记录有误，已作废。")
    await page.click("#preview-button")
    await expect(page.locator("#preview-color")).to_have_attribute("data-color", "green")
    await check(page, "console, an appeal with a correction previewed")


async def test_the_commission_console_page_by_page(api, city, context, settings):
    member = await add_account(settings, "commissioner-a11y", role="commission", name="李明")
    ref = await city.register("310101", "张三")
    await city.send(
        arrival(ago(days=2), {"person_ref": ref}, area="510107", reporting_district="310101")
    )
    page = await context.new_page()
    await page.goto(str(api.client.make_url("/staff/areas")))
    await page.fill("#sign-in-sub", member.sub)
    await page.fill("#sign-in-password", member.password)
    await page.fill("#sign-in-otp", member.otp(ShiftedClock()()))
    await page.click("#sign-in button[type=submit]")
    await expect(page.locator("#who")).to_contain_text(member.sub)
    await check(page, "console, risk areas and campaigns")

    # Listings: a preview per district, then the job that applies it.
    await page.fill("#listing-area", "510107")
    await page.select_option("#listing-level", "high")
    await page.fill("#listing-from", "2020-01-01T00:00")
    await page.click("#listing-preview")
    preview = page.locator("#add-listing .preview")
    await expect(preview).to_contain_text("可能受影响 1 人")
    await check(page, "console, a listing's preview")
    await preview.get_by_role("button", name="确认").click()
    await expect(page.locator("#add-listing .job")).to_contain_text("已完成：1 / 1")
    await check(page, "console, a listing's job, done")

    # Overrides: one proposed, awaiting another member.
    await page.goto(str(api.client.make_url("/staff/overrides")))
    await page.fill("#propose-person", ref)
    await page.select_option("#propose-color", "green")
    await page.fill("#propose-reason", "流调确认其未到过该地区。")
    await page.click("#propose-form button[type=submit]")
    await expect(page.locator("#pending tbody tr").first).to_contain_text(ref)
    await check(page, "console, an override awaiting a second member")

    # The audit of a person, with the chain checked.
    await page.goto(str(api.client.make_url(f"/staff/audit?person_ref={ref}")))
    await expect(page.locator("#chain-state")).to_have_attribute("data-intact", "true")
    await check(page, "console, a person's audit")

    # A person, the city at a glance, the venues.
    await page.goto(str(api.client.make_url("/staff/persons")))
    await page.fill("#lookup", ref)
    await page.press("#lookup", "Enter")
    await expect(page.locator("#color")).to_have_attribute("data-color", "red")
    await check(page, "console, a person")
    await page.goto(str(api.client.make_url("/staff/glance")))
    await expect(page.locator("#now-counts")).to_contain_text("全市")
    await drawn(page.locator("#chart"))
    await check(page, "console, at a glance")
    await page.goto(str(api.client.make_url("/staff/venues")))
    await page.fill("#revoke-venue", "cafe-42")
    await page.fill("#revoke-reason", "扫码平板失窃")
    await page.click("#revoke-form button[type=submit]")
    await expect(page.locator("#revoked tr[data-venue='cafe-42']")).to_be_visible()
    await check(page, "console, revoked venues")
