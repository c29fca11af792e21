"""The scanner at the door in a real Chromium: enrolment, the camera, offline checks and the
queue that reaches the service when it is back.

Screenshots of the scanner's states go to each test's tmp_path, and the README's copies to
``docs/screenshots/`` with ``CODESVC_SCREENSHOTS=1``. The camera test prints the time from a code
appearing to the camera to its colour on screen (``-s`` shows it).
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import segno
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from codesvc.api.app import create_app
from codesvc.settings import Settings
from codesvc.tokens import AuthKeys
from tests.browser import CHROMIUM, CHROMIUM_ARGS, KEPT, TABLET, Shots, require_chromium
from tests.conftest import Api, City
from tests.test_pages import code_of, register, scan

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(settings: Settings, keys: AuthKeys, port: int) -> AsyncIterator[Api]:
    """The service on a fixed port, so a restarted one is the same origin to the browser."""
    server = TestServer(create_app(settings), port=port)
    async with TestClient(server) as client:
        yield Api(client, keys)


@contextlib.asynccontextmanager
async def chromium(*extra: str) -> AsyncIterator[BrowserContext]:
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra]
        )
        context = await browser.new_context(viewport=TABLET)
        try:
            yield context
        finally:
            await context.close()
            await browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    return Shots(tmp_path)


async def enrolment_code(api: Api, venue: str) -> str:
    resp = await api.client.post(
        f"/v1/venues/{venue}/enrolments", headers=api.auth("commission", "c-1")
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["enrolment_code"])


async def enrol(page: Page, api: Api, venue: str) -> None:
    code = await enrolment_code(api, venue)
    await page.goto(str(api.client.make_url("/scanner")))
    await page.fill("#enrol-code", code.lower().replace("-", " "))  # as someone might type it
    await page.click("#enrol-form button[type=submit]")
    await expect(page.locator("#door")).to_have_attribute("data-state", "ready")
    await expect(page.locator("#venue")).to_contain_text(venue)
    # The keys that check codes offline are on the device.
    await expect(page.locator("#door")).to_have_attribute("data-keys", KEPT)


async def scans_of(db_url: str, venue: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url)
    try:
        return await conn.fetch(
            "SELECT scan_id, scanned_at, uploaded_at, color, method FROM scans "
            "WHERE venue = $1 ORDER BY scanned_at",
            venue,
        )
    finally:
        await conn.close()


async def test_a_door_decides_offline_and_the_scans_reach_the_service_when_it_is_back(
    settings, keys, db_url, shots
):
    port = free_port()
    venue = "venue-metro-7"
    async with chromium() as context:
        page = await context.new_page()
        async with serve(settings, keys, port) as api:
            city = City(api)
            ref, number = await register(city, "John Smith")
            other, _ = await register(city, "李四")
            await enrol(page, api, venue)
            screen = page.locator("#door")
            await scan(page, await code_of(api, ref))
            await expect(screen).to_have_attribute("data-color", "green")
            await expect(screen).to_have_attribute("data-state", "colour")
            await expect(page.locator("#display .name")).to_have_text("J*** S***")
            await shots.take(
                page, "scanner-online-green", readme="screenshots/scanner-online-green"
            )
            codes = [await code_of(api, ref), await code_of(api, other)]
            header, claims, signature = codes[0].split(".")
            flipped = "A" if signature[10] != "A" else "B"
            forged = f"{header}.{claims}.{signature[:10]}{flipped}{signature[11:]}"
        # The service is gone: codes are checked here, with the kept keys.
        await scan(page, codes[0])
        await expect(screen).to_have_attribute("data-state", "offline")
        await expect(screen).to_have_attribute("data-color", "green")
        await expect(page.locator("#display .headline .zh")).to_have_text("绿码")
        await expect(page.locator("#display .detail")).to_contain_text(
            "checked offline — colour as of"
        )
        await expect(page.locator("#display .detail")).to_contain_text("离线核验")
        await expect(page.locator("#queue")).to_contain_text("1")
        await shots.take(page, "scanner-offline-green", readme="screenshots/scanner-offline-green")
        await scan(page, codes[1])
        await expect(page.locator("#queue")).to_contain_text("2")
        # A forged code is refused, never a colour; it is not queued.
        await scan(page, forged)
        await expect(screen).to_have_attribute("data-state", "refused")
        await expect(screen).not_to_have_attribute("data-color", "green")
        # Why, in the page's language: the offline check's English stays out of it.
        await expect(page.locator("#display .detail")).to_contain_text("此健康码已被篡改或伪造。")
        await expect(page.locator("#display .detail")).not_to_contain_text("altered")
        await shots.take(page, "scanner-forged", readme="screenshots/scanner-forged")
        # An id card cannot be checked offline: check by hand.
        await scan(page, number)
        await expect(screen).to_have_attribute("data-state", "down")
        await expect(page.locator("#display .headline .en")).to_have_text(
            "cannot reach the service — check by hand"
        )
        await shots.take(page, "scanner-check-by-hand", readme="screenshots/scanner-check-by-hand")
        assert await page.locator("#door").get_attribute("data-queued") == "2"
        # A reload while offline keeps the queue (IndexedDB) and the page (the worker).
        await page.reload()
        await expect(page.locator("#queue")).to_contain_text("2")

        async with serve(settings, keys, port) as api:
            # Back: the next online scan sends the queue with it.
            await scan(page, await code_of(api, ref))
            await expect(screen).to_have_attribute("data-state", "colour")
            await expect(page.locator("#door")).to_have_attribute("data-queued", "0")
            recorded = await scans_of(db_url, venue)
            offline = [r for r in recorded if r["uploaded_at"] is not None]
            assert [r["color"] for r in offline] == ["green", "green"]
            for r in offline:
                # Recorded with the time it happened at the door, before it was uploaded.
                assert r["scanned_at"] < r["uploaded_at"]
            assert len(recorded) == 4  # two online scans, two offline


async def test_the_camera_reads_a_real_code_and_shows_the_colour(settings, keys, tmp_path, shots):
    port = free_port()
    async with serve(settings, keys, port) as api:
        city = City(api)
        ref, _ = await register(city, "张三丰")
        code = await code_of(api, ref)
        video = tmp_path / "code.y4m"
        write_y4m(video, code)
        async with chromium(
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ) as context:
            page = await context.new_page()
            await enrol(page, api, "venue-camera-1")
            clicked = await page.evaluate("performance.now()")
            await page.click("#camera-toggle")
            screen = page.locator("#door")
            await expect(screen).to_have_attribute("data-color", "green", timeout=20_000)
            await expect(page.locator("#display .name")).to_have_text("张**")
            await expect(page.locator("#camera-toggle")).to_have_attribute("aria-pressed", "true")
            decoder = await page.locator("#video").get_attribute("data-decoder")
            times = await marks_of(
                page,
                "door-shown",
                "decoder-load",
                "camera-first-frame",
                "decoder-ready",
                "code-decoded",
                "colour-shown",
            )
            await shots.take(
                page, "scanner-camera-green", readme="screenshots/scanner-camera-green"
            )
            # This door scans with the camera: opened again, it has the QR reader ready before
            # anyone turns the camera on, and loads it only once the door is on screen.
            await page.reload()
            await expect(screen).to_have_attribute("data-state", "ready")
            reader = re.compile("^(native|zxing)$")
            await expect(screen).to_have_attribute("data-reader", reader, timeout=20_000)
            marks = await marks_of(page, "door-shown", "decoder-load", "decoder-loaded")
            assert marks["door-shown"] <= marks["decoder-load"] <= marks["decoder-loaded"]
            await page.click("#camera-toggle")
            await expect(screen).to_have_attribute("data-color", "green", timeout=20_000)
            again = await marks_of(page, "camera-first-frame", "colour-shown")
    first = times["camera-first-frame"]
    print(
        f"\ncamera to colour ({decoder} decoder), the code in view from the first frame: "
        f"colour on screen {times['colour-shown'] - first:.0f} ms after the first frame "
        f"(decoder loaded {times['decoder-ready'] - first:.0f} ms, code read "
        f"{times['code-decoded'] - first:.0f} ms); with the decoder loaded, "
        f"{times['colour-shown'] - times['decoder-ready']:.0f} ms from frame to colour"
    )
    print(
        "opened again, the reader loaded after the first paint: colour on screen "
        f"{again['colour-shown'] - again['camera-first-frame']:.0f} ms after the first frame"
    )
    assert decoder in ("native", "zxing")
    assert first <= times["decoder-ready"] <= times["code-decoded"] <= times["colour-shown"]
    # A door that had not used the camera loaded the reader when it was turned on, not before.
    assert times["decoder-load"] >= clicked


async def marks_of(page: Page, *names: str) -> dict[str, float]:
    """When each performance mark was first set, in the page's milliseconds."""
    return dict(
        await page.evaluate(
            "(names) => Object.fromEntries(names.map("
            "(n) => [n, performance.getEntriesByName(n)[0].startTime]))",
            list(names),
        )
    )


def write_y4m(path: Path, text: str, width: int = 640, height: int = 480) -> None:
    """A short video (YUV 4:2:0) of the QR code of ``text``, black on white, centred."""
    qr = segno.make(text, error="m")
    rows = [bytes(row) for row in qr.matrix_iter(scale=1, border=4)]
    scale = min(width, height) // len(rows)
    side = scale * len(rows)
    left, top = (width - side) // 2, (height - side) // 2
    luma = bytearray(b"\xeb" * (width * height))
    for y, row in enumerate(rows):
        line = b"".join((b"\x10" if dark else b"\xeb") * scale for dark in row)
        for dy in range(scale):
            start = (top + y * scale + dy) * width + left
            luma[start : start + side] = line
    chroma = b"\x80" * (width * height // 2)
    frame = b"FRAME\n" + bytes(luma) + chroma
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * 3)


async def test_an_enrolment_code_works_once_and_a_revoked_venue_loses_its_device(
    settings, keys, shots
):
    port = free_port()
    async with serve(settings, keys, port) as api, chromium() as context:
        page = await context.new_page()
        await page.goto(str(api.client.make_url("/scanner")))
        await shots.take(page, "scanner-enrol")
        code = await enrolment_code(api, "venue-shop-3")
        await page.fill("#enrol-code", code)
        await page.click("#enrol-form button[type=submit]")
        await expect(page.locator("#venue")).to_contain_text("venue-shop-3")
        token = await page.evaluate("localStorage.getItem('codesvc.scanner.token')")
        assert api.keys.verify(token).sub == "venue-shop-3"
        assert api.keys.verify(token).role == "scanner"
        # The same code on another device: refused, with what to do.
        other = await context.new_page()
        await other.goto(str(api.client.make_url("/scanner")))
        await other.evaluate("localStorage.clear()")
        await other.reload()
        await other.fill("#enrol-code", code)
        await other.click("#enrol-form button[type=submit]")
        await expect(other.locator("#setup-alert")).to_contain_text("已被使用")
        await shots.take(other, "scanner-enrol-refused")
        # Revoking the venue refuses the enrolled device at its next scan.
        resp = await api.client.post(
            "/v1/venues/venue-shop-3/revoke",
            json={"reason": "closed"},
            headers=api.auth("commission", "c-1"),
        )
        assert resp.status == 200
        ref, _ = await register(City(api), "王五")
        await scan(page, await code_of(api, ref))
        await expect(page.locator("#door")).to_have_attribute("data-state", "token")
