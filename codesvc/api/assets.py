"""The pages' files as the service sends them: fingerprinted, precompressed, cached for good.

Built once at start-up from ``static/`` (no build step to run by hand). Every script,
stylesheet and vendored file gets a name carrying a hash of its content
(``/static/common.3f2a9c1b7d.js``), which a browser may keep for a year without asking
again; a script's relative imports are rewritten to those names, so a changed module
changes the name of every module that imports it. The HTML pages keep their addresses,
revalidate on every load (their ETag makes that a 304), and list their modules as
``modulepreload`` so a phone fetches them all in one round trip instead of one per import
level. Everything compressible is gzipped once, here, not per request.

Also built here: ``areas.js``, the district and area names from ``codesvc.state.areas``
(one table for Python and the pages), ``console-paths.js``, the console's addresses from
``console_paths`` (the table the service routes), and the service worker that keeps the
pages' shells on the device (``/sw.js``). The worker knows two shells: the public pages
(index, citizen, scanner), fetched when it installs, and the staff console, fetched the
first time a console page is open on the device, so that no citizen's phone downloads the
console. It is given the same table of console addresses and serves the console's page at
those only: any other address under ``/staff`` goes to the service, whose 404 is what a
mistyped address shows.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codesvc.api import console_paths
from codesvc.state.areas import NAMES

SOURCE = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
}
#: Files that compress well; gzip is kept only where it saves at least this fraction.
COMPRESSIBLE = {".html", ".css", ".js", ".svg", ".wasm"}
MIN_SAVING = 0.1
#: Files this large (the QR decoder's WebAssembly) are gzipped at level 1: level 9 would add
#: half a second to every process start to save a tenth on a file a door fetches once.
LARGE = 256 * 1024
#: A fingerprinted file never changes under its name: cached for a year, never revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Pages and the worker: the browser asks each time; the ETag makes an unchanged one a 304.
REVALIDATE = "no-cache"
#: Largest file the service worker fetches when it installs; bigger ones (the QR decoder's
#: WebAssembly) are kept the first time a page that needs them loads them.
PRECACHE_MAX = 200_000
#: The pages, by address, and their files under ``static/``.
PAGES = {
    "/": "index.html",
    "/citizen": "citizen.html",
    "/scanner": "scanner.html",
    "/staff": "staff.html",
}
#: The shells the service worker keeps: their pages, and whether it fetches them when it
#: installs (the public pages) or when one of their pages is first open (the console).
SHELLS = {"public": (("/", "/citizen", "/scanner"), True), "console": (("/staff",), False)}
#: Every console address is the one shell at ``/staff``, whose script loads the page's module.
CONSOLE = console_paths.ROOT
# A segment of a route's template that names a value: the worker and the console's script
# take it for any one non-empty segment, so it may not narrow that with a pattern.
_VARIABLE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
#: How the worker and the console match an address to a route's template: one text,
#: written into both (the worker is a classic script, so it cannot import a module).
ROUTE_MATCH = "route-match.js"
#: The service worker's template; served at /sw.js (its scope is the whole site).
WORKER = "sw.js"

# A relative specifier in a script: "./common.js", '../share.js' (imports and plain strings
# alike, so `new URL("./x.wasm", import.meta.url)` is rewritten too).
_RELATIVE = re.compile(r"""(["'])(\.{1,2}/[A-Za-z0-9_./-]+\.(?:js|css|svg|wasm))\1""")
# The static imports among them (the ones a page should preload).
_STATIC_IMPORT = re.compile(
    r"""(?:^|[;}\s])(?:import|export)\b[^"'();]*?\bfrom\s*(["'])(\.{1,2}/[^"']+)\1"""
    r"""|(?:^|[;}\s])import\s*(["'])(\.{1,2}/[^"']+)\3""",
)
# A script loaded when the code runs: import("./x.js"), in a call or a table of them.
_DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["'](\.{1,2}/[^"']+\.js)["']\s*\)""")
_HTML_REF = re.compile(r"""(\b(?:href|src)=")/static/([^"]+)(")""")


@dataclass(frozen=True, slots=True)
class Asset:
    """One file as sent: its body, the gzipped body when that is smaller, and its headers."""

    name: str
    url: str
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str
    cache_control: str
    imports: tuple[str, ...] = field(default=())
    #: Scripts it imports when it runs (``import("./x.js")``), e.g. the console's pages.
    loads: tuple[str, ...] = field(default=())

    def body_for(self, accept_encoding: str) -> tuple[bytes, str | None]:
        """The body to send and its Content-Encoding for a request's ``Accept-Encoding``."""
        if self.gzipped is not None and accepts_gzip(accept_encoding):
            return self.gzipped, "gzip"
        return self.body, None


@dataclass(frozen=True, slots=True)
class Bundle:
    """Every file the pages use, by the name after ``/static/``, the pages and the worker."""

    files: Mapping[str, Asset]
    pages: Mapping[str, Asset]
    worker: Asset
    version: str

    def url(self, name: str) -> str:
        """The address a file of ``static/`` is served at, by its name there."""
        return next(a.url for a in self.files.values() if a.name == name)


def accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip()
            return not q or _quality(q) > 0
    return False


def _quality(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def areas_module(names: Mapping[str, tuple[str, str]] = NAMES) -> bytes:
    """The district and area names as an ES module, from the one table Python uses."""
    table = json.dumps(dict(sorted(names.items())), ensure_ascii=False, indent=1)
    return (
        "// Generated by the service from codesvc/state/areas.py: code → [中文, English].\n"
        f"export const AREAS = Object.freeze({table});\n"
    ).encode()


def console_module(paths: Iterable[tuple[str, str, str]], matcher: bytes) -> bytes:
    """The console's addresses, as routed, the view each shows, and ``matcher`` (the
    worker's own ``routed``, from ``ROUTE_MATCH``), as an ES module."""
    table = json.dumps([[path, view] for path, view, _ in paths], indent=1)
    return (
        "// Generated by the service from codesvc/api/console_paths.py: each console address,\n"
        "// as the service routes it, and the view the console shows there.\n"
        f"export const PATHS = Object.freeze({table});\n\n"
        + matcher.decode()
        + "export { routed };\n"
    ).encode()


def _console_templates(paths: Iterable[tuple[str, str, str]]) -> list[str]:
    templates = [path for path, _, _ in paths]
    for template in templates:
        for part in template.split("/"):
            if "{" in part and not _VARIABLE.fullmatch(part):
                raise ValueError(f"console path {template}: a value is a whole segment, {{name}}")
    return templates


def build(
    source: Path = SOURCE, console: Iterable[tuple[str, str, str]] = console_paths.PATHS
) -> Bundle:
    """Read ``source`` and make every file ready to send."""
    raw = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted(source.rglob("*"))
        if path.is_file() and path.suffix in CONTENT_TYPES
    }
    raw["areas.js"] = areas_module()
    console = tuple(console)
    matcher = raw.pop(ROUTE_MATCH)
    raw["console-paths.js"] = console_module(console, matcher)
    worker_template = raw.pop(WORKER)
    pages = {address: raw.pop(name) for address, name in PAGES.items()}

    files: dict[str, Asset] = {}  # by logical name, e.g. "vendor/zxing-wasm/es/share.js"
    for name in _dependency_order(raw):
        files[name] = _fingerprinted(name, _rewrite_script(name, raw[name], files))

    served = {asset.url.removeprefix("/static/"): asset for asset in files.values()}
    built_pages = {address: _page(address, body, files) for address, body in pages.items()}
    version = hashlib.sha256(
        "".join(sorted(a.etag for a in (*files.values(), *built_pages.values()))).encode()
    ).hexdigest()[:16]
    shells = {
        name: {
            "pages": list(addresses),
            "files": [*addresses, *_shell_files([pages[a] for a in addresses], files)],
            "eager": eager,
        }
        for name, (addresses, eager) in SHELLS.items()
    }
    worker = _worker(worker_template, version, shells, _console_templates(console), matcher)
    return Bundle(served, built_pages, worker, version)


def _shell_files(pages: Iterable[bytes], files: Mapping[str, Asset]) -> list[str]:
    """What a shell's pages load at start: their files, what those import, and the modules
    their own scripts load when they run (the console's pages); not what is loaded later
    on demand (the QR decoder), nor anything over ``PRECACHE_MAX``."""
    named = [n for body in pages for n in _page_names(body)]
    started = [*named, *(m for n in named for m in files[n].loads)]
    return sorted(
        {files[n].url for n in _closure(started, files) if len(files[n].body) <= PRECACHE_MAX}
    )


def _references(name: str, body: bytes) -> list[str]:
    """The files a script names by relative path, as logical names."""
    if not name.endswith(".js"):
        return []
    base = posixpath.dirname(name)
    return [
        posixpath.normpath(posixpath.join(base, m.group(2)))
        for m in _RELATIVE.finditer(body.decode())
    ]


def _dependency_order(raw: Mapping[str, bytes]) -> list[str]:
    """Names ordered so that every file comes after the files it names (no cycles)."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"import cycle among the page scripts: {' → '.join((*path, name))}")
        state[name] = "visiting"
        for ref in _references(name, raw[name]):
            if ref not in raw:
                raise ValueError(f"{name} refers to {ref}, which is not in static/")
            visit(ref, (*path, name))
        state[name] = "done"
        order.append(name)

    for name in raw:
        visit(name, ())
    return order


def _rewrite_script(
    name: str, body: bytes, done: Mapping[str, Asset]
) -> tuple[bytes, tuple[str, ...], tuple[str, ...]]:
    if not name.endswith(".js"):
        return body, (), ()
    base = posixpath.dirname(name)
    text = body.decode()
    imports = [
        posixpath.normpath(posixpath.join(base, m.group(2) or m.group(4)))
        for m in _STATIC_IMPORT.finditer(text)
    ]
    loads = [
        posixpath.normpath(posixpath.join(base, m.group(1))) for m in _DYNAMIC_IMPORT.finditer(text)
    ]

    def fingerprint(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(base, match.group(2)))
        return f"{match.group(1)}{done[target].url}{match.group(1)}"

    return _RELATIVE.sub(fingerprint, text).encode(), tuple(imports), tuple(loads)


def _fingerprinted(name: str, rewritten: tuple[bytes, tuple[str, ...], tuple[str, ...]]) -> Asset:
    body, imports, loads = rewritten
    digest = hashlib.sha256(body).hexdigest()
    stem, suffix = posixpath.splitext(posixpath.basename(name))
    return _asset(name, f"/static/{stem}.{digest[:10]}{suffix}", body, IMMUTABLE, imports, loads)


def _asset(
    name: str,
    url: str,
    body: bytes,
    cache_control: str,
    imports: Iterable[str] = (),
    loads: Iterable[str] = (),
) -> Asset:
    suffix = posixpath.splitext(name)[1]
    gzipped = None
    if suffix in COMPRESSIBLE:
        packed = gzip.compress(body, compresslevel=1 if len(body) > LARGE else 9, mtime=0)
        if len(packed) <= len(body) * (1 - MIN_SAVING):
            gzipped = packed
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(
        name,
        url,
        body,
        gzipped,
        CONTENT_TYPES[suffix],
        etag,
        cache_control,
        tuple(imports),
        tuple(loads),
    )


def _closure(names: Iterable[str], files: Mapping[str, Asset]) -> list[str]:
    """``names`` and every file they import statically, each once, imports first."""
    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen:
            return
        for dep in files[name].imports:
            visit(dep)
        seen.append(name)

    for name in names:
        visit(name)
    return seen


def _page_names(body: bytes) -> list[str]:
    return [m.group(2) for m in _HTML_REF.finditer(body.decode())]


def _page(address: str, body: bytes, files: Mapping[str, Asset]) -> Asset:
    text = body.decode()
    named = _page_names(body)
    missing = [n for n in named if n not in files]
    if missing:
        raise ValueError(f"{PAGES[address]} refers to missing files: {', '.join(missing)}")
    text = _HTML_REF.sub(lambda m: f"{m.group(1)}{files[m.group(2)].url}{m.group(3)}", text)
    # Every module the page's scripts import, fetched at once with the page's own files.
    modules = [n for n in _closure(named, files) if n not in named and n.endswith(".js")]
    preload = "".join(f'<link rel="modulepreload" href="{files[n].url}">\n' for n in modules)
    text = text.replace("</head>", preload + "</head>", 1)
    return _asset(PAGES[address], address, text.encode(), REVALIDATE)


def _worker(
    template: bytes,
    version: str,
    shells: Mapping[str, object],
    console: list[str],
    matcher: bytes,
) -> Asset:
    text = (
        template.decode()
        .replace("/* __ROUTED__ */\n", matcher.decode())
        .replace('"__VERSION__"', json.dumps(version))
        .replace('{"__CONSOLE__": 0}', json.dumps({"page": CONSOLE, "paths": console}, indent=1))
        .replace('{"__SHELLS__": 0}', json.dumps(shells, indent=1))
    )
    return _asset(WORKER, "/sw.js", text.encode(), REVALIDATE)
