"""The staff console in a real Chromium against a real server, through the pages only.

Screenshots go to each test's tmp_path; the README's copies, to ``docs/console/`` with
``CODESVC_SCREENSHOTS=1`` (``tests/browser.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError
from yarl import URL

from codesvc import db
from codesvc.api.app import create_app
from codesvc.api.pages import BUNDLE
from codesvc.service import accounts
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys, Principal
from tests.browser import Shots, controlled, drawn, losing_the_first_answer
from tests.builders import ago, arrival
from tests.conftest import Api, City, Clock
from tests.staff import PASSWORD, Member, add_account

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 800, "height": 1100}


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install it with apt-get install -y chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclasses.dataclass
class Desk:
    api: Api
    city: City
    clock: Clock
    settings: Settings
    browser: Browser
    shots: Shots
    pages: list[Page] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    def url(self, path: str) -> str:
        return str(self.api.client.make_url(path))

    async def page(self, viewport: dict[str, int] = DESKTOP, locale: str | None = None) -> Page:
        """A page in a browser context of its own: its own cookies, as another person's
        (and, given a ``locale``, the languages their browser asks for)."""
        context = await self.browser.new_context(viewport=viewport, locale=locale)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.pages.append(page)
        return page


@pytest.fixture
async def desk(
    settings: Settings, keys: AuthKeys, chromium: Browser, tmp_path: Path, clock: Clock
) -> AsyncIterator[Desk]:
    async with TestClient(TestServer(create_app(settings, clock))) as client:
        api = Api(client, keys)
        found = Desk(api, City(api), clock, settings, chromium, Shots(tmp_path))
        yield found
        for page in found.pages:
            await page.context.close()
        assert found.errors == []


async def shot(desk: Desk, page: Page, name: str) -> None:
    """A screenshot the README shows, as ``docs/console/{name}.png``."""
    await desk.shots.take(page, name, readme=f"console/{name}")


async def sign_in(page: Page, desk: Desk, who: Member, path: str = "/staff", otp: str = "") -> None:
    await page.goto(desk.url(path))
    await page.fill("#sign-in-sub", who.sub)
    await page.fill("#sign-in-password", who.password)
    if otp:
        await page.fill("#sign-in-otp", otp)
    await page.click("#sign-in button[type=submit]")
    await expect(page.locator("#who")).to_contain_text(who.sub)


async def yellow_arrival(desk: Desk, name: str = "张三") -> str:
    """A Huangpu resident whom Huangpu's reports made yellow (arrived from Bao'an)."""
    ref = await desk.city.register("310101", name)
    await desk.city.send(arrival(ago(hours=30), {"person_ref": ref}, reporting_district="310101"))
    return ref


async def file_on_the_citizen_page(desk: Desk, page: Page, ref: str, words: str) -> str:
    await page.goto(desk.url("/citizen"))
    await page.fill("#token", desk.api.token("citizen", ref))
    await page.click("#token-form button[type=submit]")
    await expect(page.locator("#status")).to_have_attribute("data-color", "yellow")
    await page.click("#appeal-details summary")
    await page.select_option("#appeal-category", "wrong_travel_record")
    options = await page.locator("#appeal-event option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    await page.select_option("#appeal-event", options[1])
    await page.fill("#appeal-description", words)
    await page.click("#appeal-form button[type=submit]")
    await expect(page.locator("#appeals li").first).to_contain_text("已提交")
    mine = await desk.api.client.get("/v1/me/appeals", headers=desk.api.auth("citizen", ref))
    return str((await mine.json())["appeals"][0]["appeal_id"])


async def file_by_api(desk: Desk, ref: str) -> str:
    resp = await desk.api.client.post(
        "/v1/appeals",
        json={"category": "other", "description": "颜色不对"},
        headers=desk.api.auth("citizen", ref),
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["appeal_id"])


async def test_an_officer_corrects_an_appeal_after_previewing_it(desk):
    await desk.city.list_area("440306", "medium", ago(days=10).isoformat())
    officer = await add_account(desk.settings, "huangpu-wang", district="310101", name="王伟")
    ref = await yellow_arrival(desk)
    citizen = await desk.page(viewport={"width": 390, "height": 844})
    appeal = await file_on_the_citizen_page(desk, citizen, ref, "我那天在上海，没有去过宝安区。")
    # Someone else's appeal, filed later, is due later.
    other = await yellow_arrival(desk, "李四")
    await file_by_api(desk, other)

    page = await desk.page()
    await sign_in(page, desk, officer)
    rows = page.locator("#queue tbody tr")
    await expect(rows).to_have_count(2)
    first = rows.first
    await expect(first).to_have_attribute("data-appeal", appeal)
    await expect(first).to_contain_text("剩 23 小时")
    await expect(first).to_contain_text("行程记录有误")
    await expect(page.locator("#queue-figures")).to_contain_text("未办结 2 件")
    await shot(desk, page, "01-queue")
    await first.get_by_role("button", name=f"认领申诉 {appeal}").click()
    await expect(first).to_contain_text("已认领")
    await expect(first.locator(".claimed")).to_contain_text("huangpu-wang")
    await first.get_by_role("link", name=f"打开 {appeal}").click()

    await expect(page.locator("h1")).to_have_text(f"申诉 {appeal}")
    await expect(page.locator("#description")).to_have_text("我那天在上海，没有去过宝安区。")
    disputed = page.locator("#disputed")
    await expect(disputed).to_contain_text("到达")
    await expect(disputed).to_contain_text("feeder:itinerary-feed")
    await expect(disputed).to_contain_text("黄浦区（310101）")
    await expect(page.locator("#person-color")).to_have_attribute("data-color", "yellow")
    await expect(page.locator("#person-reasons li[data-rule=R1]")).to_be_visible()
    # Only what the machine allows: claimed by this officer, so decide or escalate.
    await expect(page.locator("#claim")).to_have_count(0)
    await expect(page.locator("#decide")).to_be_visible()
    await expect(page.locator("#escalate")).to_be_visible()

    await page.fill("#note-text", "已与到达报告核对：当天记录为误报。")
    await page.click("#note-form button[type=submit]")
    await expect(page.locator("#notes li")).to_contain_text("已与到达报告核对")

    arrival_id = await page.locator("#voids input[name=void]").first.get_attribute("value")
    await page.check(f"#voids input[value='{arrival_id}']")
    await page.fill("#decision-note", "经核实，您当天不在宝安区，到达记录已作废。")
    await page.click("#preview-button")
    preview = page.locator("#preview")
    await expect(preview.locator("#preview-color")).to_have_attribute("data-color", "green")
    await expect(preview).to_contain_text("绿码")
    await expect(preview.locator("#preview-history")).to_contain_text(f"申诉 {appeal}")
    await shot(desk, page, "02-preview")
    # Nothing was written by the preview.
    status = await desk.api.client.get(
        f"/v1/persons/{ref}/status", headers=desk.api.auth("commission", "c")
    )
    assert (await status.json())["color"] == "yellow"

    await page.click("#confirm-button")
    await expect(page.locator("#appeal-status")).to_have_attribute("data-status", "corrected")
    await expect(page.locator("#person-color")).to_have_attribute("data-color", "green")
    await expect(page.locator("#events li.voided")).to_contain_text(f"appeal {appeal}")
    await shot(desk, page, "03-corrected")

    await citizen.goto(desk.url("/citizen"))
    await expect(citizen.locator("#status")).to_have_attribute("data-color", "green")
    superseded = citizen.locator("#history li.superseded", has_text="黄码")
    await expect(superseded.first).to_contain_text(f"申诉 {appeal}")


async def test_two_officers_claim_at_once_and_the_loser_is_told_who_has_it(desk):
    wang = await add_account(desk.settings, "huangpu-wang", name="王伟")
    li = await add_account(desk.settings, "huangpu-li", name="李娜")
    appeal = await file_by_api(desk, await yellow_arrival(desk))
    first, second = await desk.page(TABLET), await desk.page(TABLET)
    await sign_in(first, desk, wang)
    await sign_in(second, desk, li)
    buttons = [p.get_by_role("button", name=f"认领申诉 {appeal}") for p in (first, second)]
    await asyncio.gather(*(b.click() for b in buttons))
    rows = [p.locator(f"#queue tr[data-appeal='{appeal}']") for p in (first, second)]
    texts = [await r.locator("[role=status]").text_content() or "" for r in rows]
    for row in rows:
        await expect(row.locator("[role=status]")).not_to_have_text("")
    texts = [await r.locator("[role=status]").text_content() or "" for r in rows]
    winners = [t for t in texts if "已认领" in t and "已由" not in t]
    losers = [t for t in texts if "已由" in t]
    assert len(winners) == 1, texts
    assert len(losers) == 1, texts
    winner = "huangpu-wang" if "已认领" in texts[0] and "已由" not in texts[0] else "huangpu-li"
    assert winner in losers[0]
    loser_page = second if winner == "huangpu-wang" else first
    await shot(desk, loser_page, "04-claim-race-tablet")


async def test_an_officer_of_another_district_gets_a_not_found_page(desk):
    await add_account(desk.settings, "pudong-chen", district="310115", name="陈静")
    appeal = await file_by_api(desk, await yellow_arrival(desk))
    page = await desk.page()
    pudong = Member("pudong-chen", PASSWORD, None)
    await sign_in(page, desk, pudong, path=f"/staff/appeals/{appeal}")
    await expect(page.locator("#not-found")).to_be_visible()
    await expect(page.locator("#not-found")).to_contain_text("找不到这个申诉")
    await expect(page.locator("#description")).to_have_count(0)


async def test_the_console_is_kept_on_the_device_once_it_has_been_open(desk):
    officer = await add_account(desk.settings, "huangpu-zhou", district="310101", name="周敏")
    page = await desk.page()
    await sign_in(page, desk, officer)
    await expect(page.locator("#queue-figures")).to_contain_text("未办结 0 件")
    # Once the page is up, the service worker takes the console in: every page module of it,
    # the appeal page's included, though no appeal has been opened on this device.
    await controlled(page)
    kept = await page.evaluate(
        """async () => {
            const kept = [];
            for (const name of await caches.keys()) {
                for (const r of await (await caches.open(name)).keys()) kept.push(r.url);
            }
            return kept.map((url) => new URL(url).pathname);
        }"""
    )
    assert {"/staff", BUNDLE.url("staff-appeal.js"), BUNDLE.url("staff.css")} <= set(kept)

    # With the network gone, a console page still opens from the device and says why it can
    # show nothing, rather than the browser's own error page.
    await page.context.set_offline(True)
    opened = await page.goto(desk.url("/staff/glance"))
    assert opened is not None
    assert opened.from_service_worker
    await expect(page.locator("#notice")).to_contain_text("无法连接服务")
    await page.context.set_offline(False)
    await page.reload()
    await expect(page.locator("#now-counts")).to_contain_text("黄浦区")


async def test_a_mistyped_console_address_shows_the_services_404_on_a_device_that_keeps_it(desk):
    officer = await add_account(desk.settings, "huangpu-zhou", district="310101", name="周敏")
    appeal = await file_by_api(desk, await yellow_arrival(desk))
    page = await desk.page(locale="zh-CN")
    await sign_in(page, desk, officer)
    await expect(page.locator("#queue-figures")).to_contain_text("未办结 1 件")
    await controlled(page)

    # The worker that keeps the console on this device hands a mistyped address to the
    # service, which answers that there is no such console page: not the queue.
    for typo in (f"/staff/appealz/{appeal}", "/staff/nonsense", f"/staff/appeals/{appeal}/x"):
        opened = await page.goto(desk.url(typo))
        assert opened is not None
        assert opened.status == 404, typo
        assert not opened.from_service_worker, typo
        await expect(page.locator("body")).to_contain_text(
            f"工作台没有 {typo} 这个页面；工作台从 /staff 开始。"
        )
        await expect(page.locator("#queue")).to_have_count(0)

    # A console address the service routes is still the console, from the device.
    opened = await page.goto(desk.url(f"/staff/appeals/{appeal}"))
    assert opened is not None
    assert opened.from_service_worker
    await expect(page.locator("h1")).to_have_text(f"申诉 {appeal}")
    await expect(page.locator("#description")).to_have_text("颜色不对")

    # Offline, the console's addresses still open the kept console; a mistyped one is the
    # browser's own page for no network, never the console.
    await page.context.set_offline(True)
    opened = await page.goto(desk.url(f"/staff/appeals/{appeal}"))
    assert opened is not None
    assert opened.from_service_worker
    await expect(page.locator("#notice")).to_contain_text("无法连接服务")
    with pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"):
        await page.goto(desk.url("/staff/nonsense"))
    await expect(page.locator("#notice")).to_have_count(0)
    await page.context.set_offline(False)


async def test_sign_in_refusals_sign_out_and_ended_sessions_as_a_person_sees_them(desk):
    officer = await add_account(desk.settings, "huangpu-wang")
    member = await add_account(desk.settings, "commissioner-li", role="commission", name="李明")
    page = await desk.page()
    await page.goto(desk.url("/staff"))
    message = page.locator("#sign-in-message")
    # A wrong password, five times, then the lockout.
    for attempt in range(5):
        await page.fill("#sign-in-sub", officer.sub)
        await page.fill("#sign-in-password", f"wrong password {attempt}")
        await page.click("#sign-in button[type=submit]")
        await expect(message).to_have_attribute("data-status", "401")
    await expect(message).to_contain_text("账号或密码不正确")
    await page.fill("#sign-in-password", officer.password)
    await page.click("#sign-in button[type=submit]")
    await expect(message).to_have_attribute("data-status", "429")
    await expect(message).to_contain_text("15")
    await shot(desk, page, "05-locked-out")

    # A commission member without the one-time code is asked for it.
    await page.fill("#sign-in-sub", member.sub)
    await page.fill("#sign-in-password", member.password)
    await page.click("#sign-in button[type=submit]")
    await expect(message).to_have_attribute("data-status", "401")
    await expect(message).to_contain_text("验证码")
    await expect(page.locator("#sign-in-otp")).to_be_focused()
    await page.fill("#sign-in-password", member.password)
    await page.fill("#sign-in-otp", member.otp(desk.clock()))
    await page.click("#sign-in button[type=submit]")
    await expect(page.locator("#who")).to_contain_text("commissioner-li")
    await expect(page.get_by_role("link", name="人工设定")).to_be_visible()
    # Signing out.
    await page.click("#sign-out")
    await expect(message).to_contain_text("您已退出登录")
    await page.reload()
    await expect(page.locator("#sign-in")).to_be_visible()

    # Thirty minutes without a request end the session: the next click says so.
    other = await desk.page()
    desk.clock.offset = timedelta(minutes=16)  # the lockout has passed
    await sign_in(other, desk, officer)
    desk.clock.offset = timedelta(minutes=16 + 31)
    await other.click("#refresh")
    await expect(other.locator("#sign-in-message")).to_contain_text("30 分钟")
    await shot(desk, other, "06-session-ended")

    # An account disabled while its session is open: the next request ends it.
    await sign_in(other, desk, officer)
    async with db.connect(desk.settings.database_url) as conn:
        await accounts.disable(
            conn, officer.sub, desk.clock(), Principal("operator", "cli:test", None, 0.0)
        )
    await other.click("#refresh")
    await expect(other.locator("#sign-in-message")).to_contain_text("停用")


async def test_a_proposal_whose_answer_was_lost_is_made_once_when_sent_again(desk):
    li = await add_account(desk.settings, "commissioner-li", role="commission", name="李明")
    ref = await desk.city.register("310101")
    page = await desk.page()
    sent: list[str | None] = []

    await sign_in(page, desk, li, "/staff/overrides", otp=li.otp(desk.clock()))
    await page.route(lambda u: URL(u).path == "/v1/overrides", losing_the_first_answer(sent))
    await page.fill("#propose-person", ref)
    await page.select_option("#propose-color", "red")
    await page.fill("#propose-reason", "流调确认其为密切接触者，病例报告未及时上传。")
    await page.click("#propose-form button[type=submit]")
    await expect(page.locator("#notice")).to_contain_text("无法连接服务")
    await page.click("#propose-form button[type=submit]")
    await expect(page.locator("#overrides-message")).to_contain_text("等待另一名委员批准")
    assert len(sent) == 2
    assert sent[0] is not None
    assert sent[1] == sent[0]
    async with db.connect(desk.settings.database_url) as conn:
        proposals = await conn.fetchval(
            "SELECT count(*) FROM overrides JOIN persons USING (person_id) WHERE person_ref = $1",
            ref,
        )
    assert proposals == 1


async def test_two_commission_members_propose_and_approve_and_the_proposer_cannot(desk):
    li = await add_account(desk.settings, "commissioner-li", role="commission", name="李明")
    zhao = await add_account(desk.settings, "commissioner-zhao", role="commission", name="赵芳")
    ref = await desk.city.register("310101")
    proposer, approver = await desk.page(), await desk.page()
    await sign_in(proposer, desk, li, "/staff/overrides", otp=li.otp(desk.clock()))
    await proposer.fill("#propose-person", ref)
    await proposer.select_option("#propose-color", "red")
    await proposer.fill("#propose-reason", "流调确认其为密切接触者，病例报告未及时上传。")
    await proposer.click("#propose-form button[type=submit]")
    await expect(proposer.locator("#overrides-message")).to_contain_text("等待另一名委员批准")
    row = proposer.locator("#pending tbody tr").first
    await expect(row).to_contain_text(ref)
    await expect(row.locator("[data-own=true]")).to_be_visible()
    await expect(row.get_by_role("button")).to_have_count(0)  # no approve, no reject
    override = await row.get_attribute("data-override")
    # The service refuses the proposer anyway.
    csrf = await proposer.evaluate(
        "async () => (await (await fetch('/v1/session')).json()).csrf_token"
    )
    refused = await proposer.evaluate(
        """async ([id, csrf]) => (await fetch(`/v1/overrides/${id}/approve`,
             {method: 'POST', headers: {'X-CSRF-Token': csrf}})).status""",
        [override, csrf],
    )
    assert refused == 403
    await shot(desk, proposer, "07-override-proposed")

    await sign_in(approver, desk, zhao, "/staff/overrides", otp=zhao.otp(desk.clock()))
    pending = approver.locator(f"#pending tr[data-override='{override}']")
    await expect(pending.get_by_role("button", name=f"批准 {override}")).to_be_visible()
    await pending.get_by_role("button", name=f"批准 {override}").click()
    await expect(approver.locator("#overrides-message")).to_contain_text("commissioner-zhao")
    await expect(approver.locator(f"#decided li[data-override='{override}']")).to_have_attribute(
        "data-status", "approved"
    )
    status = await desk.city.status(ref)
    assert status["color"] == "red"


async def test_the_commission_lists_an_area_after_a_preview_by_district(desk):
    member = await add_account(desk.settings, "commissioner-li", role="commission", name="李明")
    huangpu = await desk.city.register("310101")
    pudong = await desk.city.register("310115", "李四")
    for ref, district in ((huangpu, "310101"), (pudong, "310115")):
        await desk.city.send(
            arrival(ago(days=2), {"person_ref": ref}, area="510107", reporting_district=district)
        )
    page = await desk.page()
    await sign_in(page, desk, member, "/staff/areas", otp=member.otp(desk.clock()))
    await page.fill("#listing-area", "510107")
    await page.select_option("#listing-level", "high")
    await page.fill("#listing-from", "2020-01-01T00:00")
    await page.click("#listing-preview")
    preview = page.locator("#add-listing .preview")
    await expect(preview).to_contain_text("可能受影响 2 人")
    await expect(preview.locator("tr[data-district='310101'][data-after=red]")).to_contain_text("1")
    await expect(preview.locator("tr[data-district='310115'][data-after=red]")).to_contain_text("1")
    await shot(desk, page, "08-area-preview")
    assert (await desk.city.status(huangpu))["color"] != "red"  # nothing written yet
    await preview.get_by_role("button", name="确认").click()
    await expect(page.locator("#add-listing .job")).to_contain_text("已完成：2 / 2")
    assert (await desk.city.status(huangpu))["color"] == "red"
    assert (await desk.city.status(pudong))["color"] == "red"


async def test_the_commission_looks_up_a_person_their_audit_and_the_city_at_a_glance(desk):
    member = await add_account(desk.settings, "commissioner-li", role="commission", name="李明")
    await desk.city.list_area("440306", "medium", ago(days=10).isoformat())
    ref = await yellow_arrival(desk)
    await file_by_api(desk, ref)
    page = await desk.page(TABLET)
    await sign_in(page, desk, member, "/staff/persons", otp=member.otp(desk.clock()))
    await page.fill("#lookup", ref)
    await page.press("#lookup", "Enter")
    await expect(page.locator("#color")).to_have_attribute("data-color", "yellow")
    await expect(page.locator("#events li")).to_contain_text("到达")
    await expect(page.locator("#appeals li")).to_have_count(1)
    await shot(desk, page, "09-person-tablet")

    await page.goto(desk.url(f"/staff/audit?person_ref={ref}"))
    await expect(page.locator("#chain-state")).to_have_attribute("data-intact", "true")
    await expect(page.locator("#audit")).to_contain_text("commission:commissioner-li")

    await page.goto(desk.url("/staff/venues"))
    await page.fill("#revoke-venue", "cafe-42")
    await page.fill("#revoke-reason", "扫码平板失窃")
    await page.click("#revoke-form button[type=submit]")
    revoked = page.locator("#revoked tr[data-venue='cafe-42']")
    await expect(revoked).to_contain_text("扫码平板失窃")
    await revoked.get_by_role("button", name="恢复场所 cafe-42").click()
    await expect(revoked).to_have_count(0)

    await page.set_viewport_size(DESKTOP)
    await page.goto(desk.url("/staff/glance"))
    await expect(page.locator("#now-counts")).to_contain_text("全市")
    await drawn(page.locator("#chart"))
    await expect(page.locator("#appeal-figures")).to_contain_text("黄浦区")
    await shot(desk, page, "10-glance")

    # Keyboard only: the skip link, then the navigation, reach the queue.
    await page.goto(desk.url("/staff"))
    await expect(page.locator("#queue")).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(page.locator(".skip")).to_be_focused()
    await page.click("[data-lang-toggle]")
    await expect(page.locator("h1")).to_contain_text("Appeals queue")
    await shot(desk, page, "11-queue-en")
