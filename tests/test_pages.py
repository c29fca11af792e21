"""The pages in a real Chromium against a real server: what a citizen and a door see.

Each test leaves screenshots of the states it reached in its tmp_path (``*.png``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import BrowserContext, Page, Route, async_playwright, expect
from yarl import URL

from codesvc.api.app import create_app
from codesvc.api.pages import BUNDLE
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    KEPT,
    PHONE,
    TABLET,
    Shots,
    drawn,
    freeze,
    require_chromium,
)
from tests.builders import ago, arrival, id_number, negative
from tests.conftest import Api, City
from tests.netproxy import DatabaseLink
from tests.staff import ShiftedClock

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrowserContext]:
    """One Chromium for the module, on a fresh profile; each test's server is its own origin,
    so no test sees another's stored tokens."""
    require_chromium()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE,
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def page(browser: BrowserContext) -> AsyncIterator[Page]:
    page = await browser.new_page()
    # Anything the page logs as an error (a script that failed, a refused request) is a bug.
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await page.close()
    assert errors == []


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    return Shots(tmp_path)


def url(api: Api, path: str) -> str:
    return str(api.client.make_url(path))


async def sign_in_citizen(page: Page, api: Api, ref: str) -> None:
    await page.goto(url(api, "/citizen"))
    await page.fill("#token", api.token("citizen", ref))
    await page.click("#token-form button[type=submit]")


# --- the index ----------------------------------------------------------------------------


async def test_index_links_the_pages_in_either_language(api, page, shots):
    await page.goto(url(api, "/"))
    await expect(page.locator("h1")).to_have_text("健康码")
    await expect(page.locator("a[href='/citizen']")).to_contain_text("我的健康码")
    await expect(page.locator("a[href='/scanner']")).to_contain_text("场所扫码")
    await shots.take(page, "index-zh")
    await page.click("[data-lang-toggle]")
    await expect(page.locator("a[href='/citizen']")).to_contain_text("My health code")
    assert await page.get_attribute("html", "lang") == "en"
    await shots.take(page, "index-en")


async def test_pages_allow_talking_to_this_service_only(api):
    resp = await api.client.get("/citizen")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    policy = resp.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in policy
    assert "default-src 'none'" in policy
    again = await api.client.get("/citizen", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    script = await api.client.get(BUNDLE.url("scanner.js"))
    assert script.content_type == "text/javascript"
    # Only the page files are served: nothing else of the package, however it is named.
    for name in ("..%2Fpages.py", "%2E%2E%2F__init__.py", "pages.py"):
        resp = await api.client.get(URL(f"/static/{name}", encoded=True))
        assert resp.status == 404, name
        assert resp.content_type == "application/problem+json"


# --- the citizen --------------------------------------------------------------------------


async def test_citizen_sees_yellow_with_the_reason_then_green_after_two_tests(
    city, api, page, shots
):
    await city.list_area("440306", "medium", ago(days=10).isoformat())
    ref = await city.register()
    me = {"person_ref": ref}
    await city.send(arrival(ago(hours=30), me, reporting_district="310101"))

    await page.clock.install()
    await sign_in_citizen(page, api, ref)
    status = page.locator("#status")
    await expect(status).to_have_attribute("data-color", "yellow")
    await expect(status).to_contain_text("黄码")
    await expect(status).to_contain_text("yellow")
    await expect(page.locator("#reasons li[data-rule=R1]")).to_contain_text("中风险")
    await expect(page.locator("#next-change")).to_contain_text("不会自动变化")
    # The QR code is drawn, and it counts down to its renewal.
    qr = page.locator("#qr")
    await expect(qr).to_be_visible()
    await drawn(qr)
    await expect(page.locator("#code-countdown")).to_contain_text("秒")
    await expect(page.locator("#code")).to_have_attribute("data-color", "yellow")
    await shots.take(page, "citizen-yellow-zh")
    # Before the code expires (60 s) the page has drawn a new one.
    first = await qr.get_attribute("src")
    await page.clock.fast_forward(52_000)
    await expect(qr).not_to_have_attribute("src", first or "")
    await expect(qr).to_be_visible()
    await expect(page.locator("#code-countdown")).to_contain_text("有效期还剩 5")

    await page.click("[data-lang-toggle]")
    await expect(page.locator("#reasons li[data-rule=R1]")).to_contain_text("medium-risk")
    await expect(page.locator("#since")).to_contain_text("since")
    await expect(page.locator("#code-countdown")).to_contain_text("seconds")
    await shots.take(page, "citizen-yellow-en")

    await city.send(negative(ago(hours=29), me), negative(ago(hours=3), me))
    await page.reload()  # the token survives a reload of the tab
    await expect(status).to_have_attribute("data-color", "green")
    await expect(status).to_contain_text("绿码")
    await expect(status).to_contain_text("green")
    await expect(page.locator("#reasons")).to_contain_text("Nothing holds your code")
    # The yellow that was shown open-ended is struck through, with what superseded it.
    superseded = page.locator("#history li.superseded", has_text="yellow")
    await expect(superseded.locator("del")).to_have_count(1)
    await expect(superseded).to_contain_text("by new information (record")
    current = page.locator("#history li.current", has_text="yellow")
    await expect(current).to_contain_text("medium-risk area (R1)")
    await expect(page.locator("#code")).to_have_attribute("data-color", "green")
    await shots.take(page, "citizen-green-en")


async def test_citizen_files_an_appeal_against_the_arrival(city, api, page, shots):
    await city.list_area("440306", "medium", ago(days=10).isoformat())
    ref = await city.register()
    await city.send(arrival(ago(hours=30), {"person_ref": ref}, reporting_district="310104"))
    await sign_in_citizen(page, api, ref)
    await expect(page.locator("#no-appeals")).to_be_visible()

    await page.click("#appeal-details summary")
    await page.select_option("#appeal-category", "wrong_travel_record")
    await page.click("#appeal-form button[type=submit]")
    # Nothing filled in: the service says what to fix, next to the field.
    await expect(page.locator("[data-field=description]")).to_be_visible()
    await expect(page.locator("#appeal-result")).to_contain_text("申诉未能提交")
    # The service's own words, in the page's language (not the browser's English).
    await expect(page.locator("#appeal-result")).to_contain_text("部分字段无效")
    await expect(page.locator("#appeal-result")).not_to_contain_text("invalid")

    event_ids = await page.locator("#appeal-event option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    await page.select_option("#appeal-event", event_ids[1])
    await page.fill("#appeal-description", "我那天在上海，没有去过宝安区。")
    await page.click("#appeal-form button[type=submit]")
    appeal = page.locator("#appeals li").first
    await expect(appeal).to_contain_text("已提交")
    await expect(appeal).to_contain_text("行程记录有误")
    # Routed to the district that reported the arrival, shown by its name.
    await expect(appeal).to_contain_text("徐汇区卫生健康部门")
    await expect(page.locator("#no-appeals")).to_be_hidden()
    await expect(page.locator("[data-field=description]")).to_be_hidden()
    await shots.take(page, "citizen-appeal-filed")

    await appeal.get_by_role("button", name="撤回申诉").click()
    await expect(page.locator("#appeals li").first).to_contain_text("已撤回")


async def test_citizen_with_a_bad_token_is_told_and_asked_again(api, page, shots):
    await page.goto(url(api, "/citizen"))
    await page.fill("#token", "not-a-token")
    await page.click("#token-form button[type=submit]")
    await expect(page.locator("#alert")).to_contain_text("此令牌无法使用")
    await expect(page.locator("#alert")).to_contain_text("未通过身份验证")
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#me")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0
    await shots.take(page, "citizen-bad-token")


# --- the scanner --------------------------------------------------------------------------


@dataclasses.dataclass
class Door:
    api: Api
    city: City
    clock: ShiftedClock
    server: TestServer


@contextlib.asynccontextmanager
async def door_server(settings: Settings, keys: AuthKeys) -> AsyncIterator[Door]:
    clock = ShiftedClock()
    # One id-card scan per ten seconds, so a test reaches the limit at the second card.
    app = create_app(dataclasses.replace(settings, id_scan_rate=6.0), clock=clock)
    server = TestServer(app)
    async with TestClient(server) as client:
        api = Api(client, keys)
        yield Door(api, City(api), clock, server)


@pytest.fixture
async def door(settings: Settings, keys: AuthKeys) -> AsyncIterator[Door]:
    async with door_server(settings, keys) as door:
        yield door


async def open_scanner(
    page: Page, api: Api, venue: str = "venue-cafe-42", shots: Shots | None = None
) -> None:
    await page.set_viewport_size(TABLET)
    await page.goto(url(api, "/scanner"))
    await page.fill("#token", api.token("scanner", venue))
    if shots:
        await shots.take(page, "scanner-setup")
    await page.click("#token-form button[type=submit]")
    await expect(page.locator("#door")).to_have_attribute("data-state", "ready")
    # The keys that check codes when the service cannot be reached are on the device.
    await expect(page.locator("#door")).to_have_attribute("data-keys", KEPT)


async def scan(page: Page, value: str) -> None:
    await page.fill("#scan-input", value)
    await page.press("#scan-input", "Enter")


async def code_of(api: Api, ref: str) -> str:
    resp = await api.client.get("/v1/me/code", headers=api.auth("citizen", ref))
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["code"])


async def register(city: City, name: str) -> tuple[str, str]:
    number = id_number("310101")
    resp = await city.client.post(
        "/v1/persons",
        json={"id_number": number, "name": name, "district": "310101"},
        headers=city.feeder,
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["person_ref"]), number


async def test_scanner_shows_the_colour_and_masked_name_and_says_why_it_cannot(door, page, shots):
    api, city = door.api, door.city
    await city.list_area("440306", "medium", ago(days=10).isoformat())
    ref, number = await register(city, "张三丰")
    await city.send(arrival(ago(hours=30), {"person_ref": ref}))
    code = await code_of(api, ref)
    await page.clock.install()
    await open_scanner(page, api, shots=shots)
    await expect(page.locator("#venue")).to_contain_text("venue-cafe-42")
    await shots.take(page, "scanner-ready")

    screen = page.locator("#door")
    await scan(page, code)
    await expect(screen).to_have_attribute("data-color", "yellow")
    await expect(page.locator("#display .headline .zh")).to_have_text("黄码")
    await expect(page.locator("#display .headline .en")).to_have_text("yellow")
    await expect(page.locator("#display .name")).to_have_text("张**")
    await expect(page.locator("#scan-input")).to_be_focused()
    await shots.take(page, "scanner-yellow")
    # A few seconds later the screen is clear for the next person.
    await page.clock.fast_forward(6000)
    await expect(screen).to_have_attribute("data-state", "ready")
    await expect(page.locator("#display .name")).to_have_text("")

    # An id card gives the same answer; the second card within ten seconds is refused.
    await scan(page, number)
    await expect(page.locator("#display .name")).to_have_text("张**")
    await expect(screen).to_have_attribute("data-color", "yellow")
    await scan(page, number)
    await expect(screen).to_have_attribute("data-state", "busy")
    await expect(screen).not_to_have_attribute("data-color", "yellow")
    await expect(page.locator("#display .detail")).to_contain_text("秒后可再扫")
    await shots.take(page, "scanner-too-many")

    # An altered code: refused, never a colour.
    header, claims, signature = code.split(".")
    middle = len(claims) // 2
    flipped = "B" if claims[middle] == "A" else "A"
    tampered = f"{header}.{claims[:middle]}{flipped}{claims[middle + 1 :]}.{signature}"
    await scan(page, tampered)
    await expect(screen).to_have_attribute("data-state", "refused")
    await expect(page.locator("#display .headline")).to_contain_text("码无效")
    await expect(screen).not_to_have_attribute("data-color", "yellow")
    await shots.take(page, "scanner-forged")

    # Two minutes later the same code has expired: the person is asked to refresh it.
    door.clock.offset = timedelta(minutes=2)
    await scan(page, code)
    await expect(screen).to_have_attribute("data-state", "expired")
    await expect(page.locator("#display .headline .zh")).to_have_text("码已过期，请刷新")
    await expect(page.locator("#display .headline .en")).to_have_text(
        "code expired, ask them to refresh"
    )
    await shots.take(page, "scanner-expired")

    # The commission revokes the venue: the door says its token is no longer accepted.
    door.clock.offset = timedelta()
    resp = await api.client.post(
        "/v1/venues/venue-cafe-42/revoke", json={"reason": "stolen tablet"}, headers=city.commission
    )
    assert resp.status == 200, await resp.text()
    await scan(page, await code_of(api, ref))
    await expect(screen).to_have_attribute("data-state", "token")
    await expect(page.locator("#display .headline")).to_contain_text("令牌已失效")
    await expect(page.locator("#display .detail")).to_contain_text("已被吊销")
    await shots.take(page, "scanner-revoked")


async def test_the_scanner_in_chinese_shows_the_services_refusal_in_chinese(door, page):
    """What the service says about a refused code reaches the door in the page's language,
    whatever the browser's own: no English in the text under the headline."""
    api, city = door.api, door.city
    ref, _ = await register(city, "李四")
    code = await code_of(api, ref)
    await open_scanner(page, api)
    screen, detail = page.locator("#door"), page.locator("#display .detail")
    # The code as someone would forge it: the same seal, a colour of their choosing.
    header, claims, signature = code.split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    payload["color"] = "red" if payload["color"] != "red" else "green"
    altered = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    forged = f"{header}.{altered}.{signature}"
    await scan(page, forged)
    await expect(screen).to_have_attribute("data-state", "refused")
    await expect(detail).to_have_text("此健康码已被篡改或伪造，不能凭此放行。")
    await expect(page.locator("#display .headline .zh")).to_contain_text("码无效")
    door.clock.offset = timedelta(minutes=2)
    await scan(page, code)
    await expect(screen).to_have_attribute("data-state", "expired")
    await expect(detail).to_have_text("此健康码已过期，请本人刷新后重扫。")
    for shown in (
        await detail.inner_text(),
        await page.locator("#display .headline .zh").inner_text(),
    ):
        assert not re.search("[A-Za-z]", shown), shown


async def test_scanner_says_check_by_hand_for_an_id_card_when_the_service_is_gone(
    settings, keys, page, shots
):
    async with door_server(settings, keys) as door:
        ref, number = await register(door.city, "John Smith")
        code = await code_of(door.api, ref)
        await open_scanner(page, door.api)
        screen = page.locator("#door")
        await scan(page, code)
        await expect(screen).to_have_attribute("data-color", "green")
        await expect(page.locator("#display .name")).to_have_text("J*** S***")
        await shots.take(page, "scanner-green")
        await door.server.close()

        # An id number cannot be checked without the service (a code can: test_door_pages).
        await scan(page, number)
        await expect(screen).to_have_attribute("data-state", "down")
        await expect(screen).not_to_have_attribute("data-color", "green")
        await expect(page.locator("#display .headline .zh")).to_have_text("无法连接 — 请人工核验")
        await expect(page.locator("#display .headline .en")).to_have_text(
            "cannot reach the service — check by hand"
        )
        await expect(page.locator("#display .name")).to_have_text("")
        await shots.take(page, "scanner-unreachable")


async def test_scanner_treats_an_answer_slower_than_three_seconds_as_none(door, page):
    ref, _ = await register(door.city, "李四")
    code = await code_of(door.api, ref)
    await page.clock.install()
    await open_scanner(page, door.api)
    # The door's screen, each state it shows, in order.
    await page.evaluate(
        """() => {
            const door = document.querySelector("#door");
            window.seen = [];
            new MutationObserver(() => {
                if (window.seen.at(-1) !== door.dataset.state) window.seen.push(door.dataset.state);
            }).observe(door, { attributes: true, attributeFilter: ["data-state"] });
        }"""
    )
    stalled: list[Route] = []
    asked = asyncio.Event()

    async def stall(route: Route) -> None:
        stalled.append(route)  # never answered: the service has gone quiet
        asked.set()

    await page.route("**/v1/scans", stall)
    # The page's time stands still unless the test moves it: no real waiting, no race.
    await freeze(page)
    screen = page.locator("#door")
    await scan(page, code)
    await expect(screen).to_have_attribute("data-state", "checking")
    await asyncio.wait_for(asked.wait(), timeout=10)
    # Two seconds without an answer: the door is still waiting for it.
    await page.clock.run_for(2000)
    await expect(screen).to_have_attribute("data-state", "checking")
    # Past three: no answer counts as none, and the code is checked on the device instead.
    await page.clock.run_for(1500)
    await expect(screen).to_have_attribute("data-state", "offline")
    await expect(page.locator("#display .detail")).to_contain_text("checked offline")
    assert await page.evaluate("window.seen") == ["checking", "offline"]
    await page.unroute("**/v1/scans")
    for route in stalled:
        with contextlib.suppress(Exception):  # the page gave up on it
            await route.abort()


async def test_scanner_waits_as_told_while_the_database_is_down(
    settings, keys, db_url, page, shots
):
    async with DatabaseLink(db_url) as link:
        linked = dataclasses.replace(settings, database_url=link.url)
        async with door_server(linked, keys) as door:
            ref, _ = await register(door.city, "王五")
            code = await code_of(door.api, ref)
            await open_scanner(page, door.api)
            await link.cut()
            sent: list[str] = []
            page.on("request", lambda r: sent.append(r.url) if "/v1/scans" in r.url else None)

            screen = page.locator("#door")
            await scan(page, code)
            # The service answered 503: the code is checked on the device, and queued.
            await expect(screen).to_have_attribute("data-state", "offline")
            await expect(page.locator("#display .detail")).to_contain_text("checked offline")
            await expect(page.locator("#queue")).to_contain_text("1")
            await shots.take(page, "scanner-database-down")
            assert len(sent) == 1
            # Within Retry-After the next scan is not sent: it is checked on the device too.
            await scan(page, code)
            await expect(page.locator("#queue")).to_contain_text("2")
            await expect(screen).to_have_attribute("data-state", "offline")
            assert len(sent) == 1
            await link.restore()
