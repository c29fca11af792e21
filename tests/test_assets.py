"""The pages' files as sent: fingerprinted names that follow their imports, gzip, caching."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from codesvc.api import assets
from codesvc.state.areas import NAMES


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


HEAD = "<html><head>{}</head></html>"
PAGES = {
    "index.html": HEAD.format('<script type="module" src="/static/index.js"></script>'),
    "citizen.html": HEAD.format('<link rel="stylesheet" href="/static/style.css">'),
    "scanner.html": HEAD.format('<script type="module" src="/static/scan.js"></script>'),
    "sw.js": 'const VERSION = "__VERSION__"; const PAGES = ["__PAGES__"]; '
    'const PRECACHE = ["__PRECACHE__"];',
    "style.css": "body { color: black; }" * 20,
    "index.js": 'import { x } from "./lib/common.js";\nexport const y = x;\n',
    "lib/common.js": 'export const x = "' + "a" * 400 + '";\n',
    "scan.js": 'const decoder = () => import("./lib/big.js");\n',
    "lib/big.js": "export const big = 1;\n",
}


def test_a_changed_module_renames_every_module_that_imports_it(tmp_path):
    before = assets.build(write(tmp_path / "a", PAGES))
    after = assets.build(write(tmp_path / "b", {**PAGES, "lib/common.js": 'export const x = "b";'}))
    url = {a.name: a.url for a in before.files.values()}
    url_after = {a.name: a.url for a in after.files.values()}
    assert url["lib/common.js"] != url_after["lib/common.js"]
    assert url["index.js"] != url_after["index.js"]
    assert url["style.css"] == url_after["style.css"]
    assert before.version != after.version
    index = before.files[url["index.js"].removeprefix("/static/")]
    assert f'from "{url["lib/common.js"]}"' in index.body.decode()
    # The page names the fingerprinted files and preloads the modules they import.
    page = before.pages["/"].body.decode()
    assert f'src="{url["index.js"]}"' in page
    assert f'<link rel="modulepreload" href="{url["lib/common.js"]}">' in page
    # A dynamic import is rewritten too, but neither preloaded nor installed up front.
    scanner = before.pages["/scanner"].body.decode()
    assert url["lib/big.js"] not in scanner
    worker = before.worker.body.decode()
    precache = json.loads(re.search(r"PRECACHE = (\[.*?\]);", worker).group(1))
    assert url["lib/common.js"] in precache
    assert "/citizen" in precache
    assert url["lib/big.js"] not in precache


def test_compressed_once_and_only_where_it_helps(tmp_path):
    bundle = assets.build(write(tmp_path, PAGES))
    style = next(a for a in bundle.files.values() if a.name == "style.css")
    assert style.gzipped is not None
    assert gzip.decompress(style.gzipped) == style.body
    assert style.body_for("gzip, deflate, br") == (style.gzipped, "gzip")
    assert style.body_for("br") == (style.body, None)
    assert style.body_for("gzip;q=0") == (style.body, None)
    assert style.cache_control == assets.IMMUTABLE
    big = next(a for a in bundle.files.values() if a.name == "lib/big.js")
    assert big.gzipped is None  # too small to gain anything


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"lib/common.js": 'import "../index.js";'}, "import cycle"),
        ({"index.js": 'import "./missing.js";'}, "not in static/"),
        ({"index.html": '<script src="/static/gone.js"></script>'}, "missing files: gone.js"),
    ],
)
def test_a_broken_page_stops_the_service_from_starting(tmp_path, changed, message):
    with pytest.raises(ValueError, match=message):
        assets.build(write(tmp_path, {**PAGES, **changed}))


def test_district_names_come_from_the_one_python_table():
    text = assets.areas_module().decode()
    table = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    assert table == {code: list(names) for code, names in NAMES.items()}


async def test_files_are_sent_compressed_and_cached_for_good(api):
    page = await api.client.get("/citizen", headers={"Accept-Encoding": "gzip"})
    assert page.status == 200
    assert page.headers["Cache-Control"] == "no-cache"
    assert page.headers["Content-Encoding"] == "gzip"
    html = await page.text()
    script = re.search(r'src="(/static/citizen\.[0-9a-f]{10}\.js)"', html).group(1)
    resp = await api.client.get(script, headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    plain = await api.client.get(script, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert await plain.text() == await resp.text()
    again = await api.client.get(script, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    worker = await api.client.get("/sw.js")
    assert worker.headers["Cache-Control"] == "no-cache"
    assert "connect-src 'self'" in worker.headers["Content-Security-Policy"]
    assert script in await worker.text()
    scanner = await api.client.get("/scanner")
    assert "'wasm-unsafe-eval'" in scanner.headers["Content-Security-Policy"]
    assert "wasm" not in page.headers["Content-Security-Policy"]
