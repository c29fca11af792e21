"""What the browser tests share: the system's Chromium, its flags, screen sizes, screenshots."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

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
#: Screenshots that the README shows are also written here when this variable names a folder
#: (``CODESVC_SCREENSHOTS=docs/screenshots``); every screenshot goes to the test's tmp_path.
SCREENSHOTS_ENV = "CODESVC_SCREENSHOTS"
#: The scanner's ``data-keys``: it has kept at least one key to check codes offline.
KEPT = re.compile(r"^[1-9]")


def require_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install it with apt-get install -y chromium")


class Shots:
    """Screenshots of each state, named in order, into the test's tmp_path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    async def take(self, page, name: str, readme: str | None = None) -> Path:  # type: ignore[no-untyped-def]
        """Save a screenshot; ``readme`` names the copy the README shows, if one is wanted."""
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        await page.screenshot(path=path, full_page=True)
        folder = os.environ.get(SCREENSHOTS_ENV)
        if readme and folder:
            os.makedirs(folder, exist_ok=True)
            shutil.copyfile(path, os.path.join(folder, f"{readme}.png"))
        return path
