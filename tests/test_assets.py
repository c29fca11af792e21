"""The pages' files as sent: fingerprinted names that follow their imports, gzip, caching."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from codesvc.api import assets, console_paths
from codesvc.api.pages import BUNDLE
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
    "staff.html": HEAD.format('<script type="module" src="/static/desk.js"></script>'),
    "sw.js": 'const VERSION = "__VERSION__"; const SHELLS = {"__SHELLS__": 0};',
    "route-match.js": "function routed(template, pathname) { return template === pathname; }\n",
    "style.css": "body { color: black; }" * 20,
    "index.js": 'import { x } from "./lib/common.js";\nexport const y = x;\n',
    "lib/common.js": 'export const x = "' + "a" * 400 + '";\n',
    "scan.js": 'import { decoder } from "./cam.js";\n',
    "cam.js": 'export const decoder = () => import("./lib/big.js");\n',
    "lib/big.js": "export const big = 1;\n",
    "desk.js": 'const PAGES = [[/a/, () => import("./desk-a.js")]];\n',
    "desk-a.js": 'import { x } from "./lib/common.js";\n',
}


def shells(bundle: assets.Bundle) -> dict[str, dict]:  # type: ignore[type-arg]
    worker = bundle.worker.body.decode()
    return json.loads(re.search(r"SHELLS = (\{.*?\n\});", worker, re.S).group(1))


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
    # A module's dynamic import (the QR decoder behind the camera) is rewritten too, but
    # neither preloaded nor installed up front.
    scanner = before.pages["/scanner"].body.decode()
    assert url["lib/big.js"] not in scanner
    public = shells(before)["public"]
    assert public["eager"] is True
    assert url["lib/common.js"] in public["files"]
    assert "/citizen" in public["files"]
    assert url["lib/big.js"] not in public["files"]


def test_the_console_is_a_shell_of_its_own_with_every_page_module(tmp_path):
    bundle = assets.build(write(tmp_path, PAGES))
    console = shells(bundle)["console"]
    # Kept when a console page is first open on a device, not by every citizen's phone.
    assert console["eager"] is False
    assert console["pages"] == ["/staff"]
    # The page modules its router imports, and what they import, are all kept with it.
    expected = {"/staff", *(bundle.url(n) for n in ("desk.js", "desk-a.js", "lib/common.js"))}
    assert set(console["files"]) == expected
    assert bundle.url("desk-a.js") not in shells(bundle)["public"]["files"]
    assert f'src="{bundle.url("desk.js")}"' in bundle.pages["/staff"].body.decode()


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
    # Only fingerprinted names are served: a plain one is not a page file.
    plain = await api.client.get("/static/citizen.js")
    assert plain.status == 404
    assert plain.content_type == "application/problem+json"


@pytest.mark.parametrize("address", ["/staff", "/staff/appeals/AP-1", "/staff/glance"])
async def test_the_console_files_are_sent_like_every_other_page(api, address):
    page = await api.client.get(address, headers={"Accept-Encoding": "gzip"})
    assert page.status == 200
    assert page.headers["Cache-Control"] == "no-cache"
    assert page.headers["Content-Encoding"] == "gzip"
    html = await page.text()
    named = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {n.rsplit(".", 1)[-1] for n in named} == {"js", "css"}
    router = next(n for n in named if n.endswith(".js"))
    modules = re.findall(
        r'"(/static/staff-[a-z]+\.[0-9a-f]{10}\.js)"', await (await api.client.get(router)).text()
    )
    assert len(modules) == 8  # queue, appeal, person(s), glance, areas, overrides, audit, venues
    for name in [*named, *modules]:
        assert re.fullmatch(r"/static/[a-z-]+\.[0-9a-f]{10}\.(js|css)", name), name
        resp = await api.client.get(name, headers={"Accept-Encoding": "gzip"})
        assert resp.status == 200, name
        assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable", name
        assert resp.headers["Content-Encoding"] == "gzip", name
    # The service worker keeps the console and every page module of it.
    worker = await (await api.client.get("/sw.js")).text()
    console = json.loads(re.search(r"SHELLS = (\{.*?\n\});", worker, re.S).group(1))["console"]
    assert set(modules) <= set(console["files"])
    assert {*named, "/staff"} <= set(console["files"])


async def test_the_worker_and_the_console_know_the_addresses_the_service_routes(api):
    served = {r.resource.canonical for r in api.client.app.router.routes() if r.method == "GET"}
    routed = sorted(path for path in served if console_paths.under(path))
    assert "/staff/appeals/{appeal_id}" in routed
    worker = await (await api.client.get("/sw.js")).text()
    kept = json.loads(re.search(r"CONSOLE = (\{.*?\n\});", worker, re.S).group(1))
    assert kept == {"page": "/staff", "paths": [path for path, _, _ in console_paths.PATHS]}
    assert sorted(kept["paths"]) == routed
    # The console's script reads the same table, and has a view for each of its addresses.
    table = await (await api.client.get(BUNDLE.url("console-paths.js"))).text()
    paths = json.loads(re.search(r"PATHS = Object\.freeze\((\[.*?\n\])\);", table, re.S).group(1))
    assert sorted(path for path, _ in paths) == routed
    router = (assets.SOURCE / "staff.js").read_text()
    views = router[router.index("const VIEWS = {") : router.index("};")]
    assert {view for _, view in paths} == set(re.findall(r"^  (\w+)\b", views, re.M))


@pytest.mark.parametrize(
    "address", ["/staff/nonsense", "/staff/appealz/AP-1", "/staff/appeals/AP-1/x", "/staff/x/"]
)
async def test_a_console_address_the_service_does_not_route_is_its_404(api, address):
    resp = await api.client.get(address, headers={"Accept": "text/html"})
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    problem = await resp.json(content_type=None)
    assert problem["detail"] == (
        f"There is no console page at {address}; the console starts at /staff."
    )
    chinese = await api.client.get(address, headers={"Accept-Language": "zh-CN"})
    assert (await chinese.json(content_type=None))["detail"] == (
        f"工作台没有 {address} 这个页面；工作台从 /staff 开始。"
    )


@pytest.mark.parametrize(
    ("address", "page"),
    [
        ("/staff/", "/staff"),
        ("/staff/areas/", "/staff/areas"),
        ("/staff/appeals/AP-1/?tab=notes", "/staff/appeals/AP-1?tab=notes"),
    ],
)
async def test_a_console_address_typed_with_a_slash_after_it_leads_to_its_page(api, address, page):
    resp = await api.client.get(address, allow_redirects=False)
    assert resp.status == 308
    assert resp.headers["Location"] == page
    followed = await api.client.get(address)
    assert followed.status == 200
    assert followed.content_type == "text/html"


def test_a_console_path_the_worker_could_not_match_stops_the_service_from_starting(tmp_path):
    with pytest.raises(ValueError, match="a value is a whole segment"):
        assets.build(write(tmp_path, PAGES), console=[("/staff/{id:[0-9]+}", "one", "")])
