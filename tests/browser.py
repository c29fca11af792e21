"""What the browser tests share: the system's Chromium, its flags, screen sizes, screenshots."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Route

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
#: The narrowest phone the pages are made for.
NARROW = {"width": 360, "height": 740}
TABLET = {"width": 800, "height": 1000}
#: Every screenshot goes to the test's tmp_path. The ones the README shows are also written
#: into ``docs/`` when this variable is set (``CODESVC_SCREENSHOTS=1``), and only then, so a
#: test run leaves the repository as it found it.
SCREENSHOTS_ENV = "CODESVC_SCREENSHOTS"
DOCS = Path(__file__).resolve().parent.parent / "docs"
#: The scanner's ``data-keys``: it has kept at least one key to check codes offline.
KEPT = re.compile(r"^[1-9]")


async def freeze(page) -> None:  # type: ignore[no-untyped-def]
    """Stop the page's clock (after ``page.clock.install()``): from now on its timers fire
    only as the test moves time on (``page.clock.run_for``), however slow or busy the
    machine is."""
    # A second on from the page's time as read: the clock runs on meanwhile, and it refuses
    # to go back. Timers due within that second fire, as if it had passed.
    await page.clock.pause_at((await page.evaluate("Date.now()") + 1000) / 1000)


async def controlled(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the service worker controls the page. Not ``wait_for_function``: under the
    pages' Content Security Policy its string predicate is refused once it must be polled."""
    await page.evaluate(
        """async () => {
            if (navigator.serviceWorker.controller) return;
            await new Promise((resolve, reject) => {
                navigator.serviceWorker.addEventListener("controllerchange", resolve);
                setTimeout(() => reject(new Error("no service worker after 20 s")), 20_000);
            });
        }"""
    )


async def drawn(image) -> None:  # type: ignore[no-untyped-def]
    """Wait until the ``<img>`` of the locator ``image`` shows a picture over 100 px wide.
    Not ``wait_for_function``, for the reason `controlled` gives: the page's own load
    events and attribute changes wake the check, so no polling and no timers (which a
    test's ``page.clock`` may hold)."""
    await image.evaluate(
        """img => new Promise((resolve) => {
            const check = () => { if (img.naturalWidth > 100) resolve(); };
            img.addEventListener("load", check);
            new MutationObserver(check).observe(img, { attributes: true });
            check();
        })"""
    )


async def marked(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page has made the performance mark ``name``, without polling."""
    await page.evaluate(
        """name => new Promise((resolve) => {
            const check = () => performance.getEntriesByName(name).length > 0 && resolve();
            new PerformanceObserver(check).observe({ type: "mark" });
            check();
        })""",
        name,
    )


def require_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install it with apt-get install -y chromium")


class Shots:
    """Screenshots of each state, named in order, into the test's tmp_path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    async def take(self, page, name: str, readme: str | None = None) -> Path:  # type: ignore[no-untyped-def]
        """Save a screenshot; ``readme`` names the copy the README shows, under ``docs/``
        (``"console/01-queue"``), written only when ``CODESVC_SCREENSHOTS`` is set."""
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        await page.screenshot(path=path, full_page=True)
        if readme and os.environ.get(SCREENSHOTS_ENV, "") not in ("", "0"):
            target = DOCS / f"{readme}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return path


def losing_the_first_answer(sent: list[str | None]) -> Callable[[Route], Awaitable[None]]:
    """A route handler for a page's creating requests: the service receives the first POST
    and does what it asks, but its answer never reaches the page (the connection drops);
    later ones pass. Each POST's ``Idempotency-Key`` is appended to ``sent``."""

    async def handle(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        sent.append(await route.request.header_value("Idempotency-Key"))
        if len(sent) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    return handle
