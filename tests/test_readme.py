"""The README's tour, run as written against a real server, prints what the README shows."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime

import pytest

from codesvc.cli import build_parser
from codesvc.settings import ENV_PREFIX, Settings
from codesvc.state.rules import Rules
from tests import readme_tables
from tests.readme_tour import INSTANT, README, ROOT, commands, normalize, run, tour_block


async def test_the_readme_tour_prints_what_the_readme_shows(db_url, tmp_path):
    pairs = commands(tour_block(README.read_text()))
    assert len(pairs) >= 8
    outputs = await asyncio.to_thread(run, pairs, db_url, tmp_path)
    for (command, expected), actual in zip(pairs, outputs, strict=True):
        assert normalize(actual) == normalize(expected), f"$ {command}"


def test_the_tour_says_how_to_reach_codesvc_before_it_is_needed():
    """The install leaves ``codesvc`` in ``.venv/bin``, off the PATH (and the tour test runs
    its commands in such a shell): the tour reaches it before its first use."""
    typed = [command for command, _ in commands(tour_block(README.read_text()))]
    first = next(n for n, command in enumerate(typed) if re.search(r"(^|[\s(])codesvc ", command))
    assert ". .venv/bin/activate" in typed[:first]


def as_if_run_on(text: str, now: datetime) -> str:
    """The README's output as a run at ``now`` prints it: the tour's own times (its commands
    give only times in 2022) as written, the recording run's times moved to ``now``."""
    run_times = [
        datetime.fromisoformat(t) for t in re.findall(INSTANT, text) if not t.startswith("2022")
    ]
    if not run_times:
        return text
    shift = now - min(run_times)
    return re.sub(
        INSTANT,
        lambda m: (
            m.group(0)
            if m.group(0).startswith("2022")
            else (datetime.fromisoformat(m.group(0)) + shift).isoformat()
        ),
        text,
    )


@pytest.mark.parametrize(
    "now", [datetime(2027, 1, 1, tzinfo=UTC), datetime(2030, 6, 30, 23, 59, tzinfo=UTC)]
)
def test_the_tour_compares_the_same_whatever_the_date(now):
    pairs = commands(tour_block(README.read_text()))
    outputs = [as_if_run_on(expected, now) for _, expected in pairs]
    assert any(str(now.year) in out for out in outputs)  # the run's times did move
    for (command, expected), actual in zip(pairs, outputs, strict=True):
        assert normalize(actual) == normalize(expected), f"$ {command}"

    # The tour's own times still count: a colour from another hour is a difference...
    status = next(i for i, (c, _) in enumerate(pairs) if "/v1/me/status" in c)
    moved = outputs[status].replace("2022-02-08T02:00:00", "2022-02-08T03:00:00")
    assert normalize(moved) != normalize(pairs[status][1])
    # ...and so is the run's time where the tour's time belongs.
    as_of = re.search(rf'"as_of": "({INSTANT})"', outputs[status])
    assert as_of is not None
    since_now = outputs[status].replace("2022-02-08T02:00:00+00:00", as_of.group(1), 1)
    assert normalize(since_now) != normalize(pairs[status][1])


def configuration_table() -> dict[str, str]:
    """Each variable the README's configuration table names, with its default as written."""
    documented: dict[str, str] = {}
    for names_cell, default_cell, meaning in readme_tables.table(
        readme_tables.section(README.read_text(), "Configuration")
    ):
        names = readme_tables.code_spans(names_cell)
        defaults = default_cell.split(", ") if len(names) > 1 else [default_cell]
        if len(defaults) == 1:
            defaults *= len(names)
        assert len(defaults) == len(names), f"{names_cell}: one default for each variable"
        assert meaning, f"{names_cell}: says what it means"
        for name, default in zip(names, defaults, strict=True):
            assert name not in documented, f"{name} is listed twice"
            documented[name] = default.strip()
    return documented


def shows(written: str, default: object) -> bool:
    """Whether the README's default column says ``default``."""
    if written in ("empty", "generated") or "CODESVC_HOME/" in written:
        return default == ""  # made or found under the data directory at start
    if written == "`sql/` of the checkout":
        return default == ROOT / "sql"
    spans = readme_tables.code_spans(written)
    if len(spans) != 1:
        return False
    text = spans[0]
    if isinstance(default, int | float):
        return float(text) == float(default)
    return text == str(default)


def test_the_configuration_table_lists_exactly_the_settings():
    documented = configuration_table()
    settings = {
        ENV_PREFIX + f.name.upper(): f.default
        for f in dataclasses.fields(Settings)
        if f.name != "rules"
    }
    assert set(documented) - {f"{ENV_PREFIX}RULE_<NAME>"} == set(settings)
    wrong = {
        name: (documented[name], default)
        for name, default in settings.items()
        if not shows(documented[name], default)
    }
    assert wrong == {}, "README default differs from codesvc/settings.py"


def test_every_environment_variable_the_code_reads_is_documented():
    documented = configuration_table()
    rules = {f.name for f in dataclasses.fields(Rules)}
    package = ROOT / "codesvc"
    named: set[str] = set()
    for path in package.rglob("*"):
        if path.suffix in (".py", ".js", ".html"):
            named |= set(re.findall(r"CODESVC_[A-Z0-9_]+", path.read_text()))
    assert len(named) > 5
    for name in sorted(named):
        if name.startswith(f"{ENV_PREFIX}RULE_"):
            rule = name.removeprefix(f"{ENV_PREFIX}RULE_").lower()
            assert rule == "" or rule in rules, f"{name} names no rule"
            assert f"{ENV_PREFIX}RULE_<NAME>" in documented
        else:
            assert name in documented, f"{name} is read in codesvc/ but not in the README"
    # The table's example rule is one the rules know.
    for example in re.findall(r"CODESVC_RULE_([A-Z_]+)=", README.read_text()):
        assert example.lower() in rules, example


def test_the_command_line_table_is_the_parser():
    written = [
        usage
        for row in readme_tables.table(readme_tables.section(README.read_text(), "Command line"))
        for usage in readme_tables.usages(row[0])
    ]
    in_readme = {u.words: u for u in written}
    assert len(in_readme) == len(written), "a command is listed twice"
    parsed = {c.words: c for c in readme_tables.commands(build_parser())}
    assert set(in_readme) == set(parsed)
    for words, command in parsed.items():
        usage = in_readme[words]
        assert usage.options == command.options, f"codesvc {' '.join(words)}: options"
        assert usage.positionals == command.positionals, f"codesvc {' '.join(words)}: arguments"


def test_the_tables_are_read_as_written():
    """The readers above see what a person sees: a cell with an escaped pipe stays one."""
    text = "## T\n\n| a | b |\n|---|---|\n| `codesvc x --role a\\|b [--n N] ID` | c |\n"
    rows = readme_tables.table(readme_tables.section("\n" + text, "T"))
    assert rows == [["`codesvc x --role a|b [--n N] ID`", "c"]]
    (usage,) = readme_tables.usages(rows[0][0])
    assert usage == readme_tables.Usage(("x",), {"--role": True, "--n": False}, 1)


def served_routes() -> dict[str, tuple[str, ...] | None]:
    from codesvc.api.app import ROUTES

    return {f"{op.method} {op.path}": op.roles for r in ROUTES for op in r.operations}


def test_the_routes_table_is_the_served_document():
    served = served_routes()
    listed: dict[str, tuple[str, ...] | None] = {}
    api = readme_tables.section(README.read_text(), "HTTP API")
    for route, who, what in readme_tables.table(api[api.index("### Routes") :]):
        (name,) = readme_tables.code_spans(route)
        assert name not in listed, f"{name} is listed twice"
        assert what, f"{name}: says what it does"
        listed[name] = None if who == "anyone" else tuple(who.split(", "))
    assert set(listed) == set(served)
    wrong = {name: (listed[name], roles) for name, roles in served.items() if listed[name] != roles}
    assert wrong == {}, "README's 'who' differs from the route's roles"


def test_every_route_the_docs_name_is_served():
    served = served_routes()
    documents = [README, *sorted((ROOT / "docs").glob("*.md"))]
    named = []
    for document in documents:
        text = document.read_text()
        named += [(document.name, m[0], m[1]) for m in readme_tables.ROUTE.findall(text)]
        named += [(document.name, None, path) for path in readme_tables.PATH.findall(text)]
    assert len(named) > 60
    unknown = [
        (where, method, path)
        for where, method, path in named
        if not any(
            readme_tables.path_matches(route.split(" ", 1)[1], path)
            and method in (None, route.split(" ", 1)[0])
            for route in served
        )
    ]
    assert unknown == [], "\n".join(map(str, unknown))


def test_a_route_is_matched_only_as_written():
    assert readme_tables.path_matches("/v1/venues/{venue_id}/scans", "/v1/venues/cafe-42/scans")
    assert readme_tables.path_matches("/v1/venues/{venue_id}/scans", "/v1/venues/{venue_id}/scans")
    assert not readme_tables.path_matches("/v1/venues/{venue_id}/scans", "/v1/venues/{venue}/scans")
    assert not readme_tables.path_matches("/v1/venues/{venue_id}/scans", "/v1/venues/scans")
    assert not readme_tables.path_matches("/v1/venues", "/v1/venue")


def test_the_architecture_names_every_module():
    text = readme_tables.section(README.read_text(), "Architecture")
    rows = [
        row
        for part in text.split("\n\n")
        if part.startswith("| module |") or part.startswith("| group |")
        for row in readme_tables.table(part)
    ]
    named = {}
    for row in rows:
        module_cell, job = row[-2], row[-1]
        (module,) = readme_tables.code_spans(module_cell)
        assert module not in named, f"{module} is listed twice"
        assert job, f"{module}: says what it does"
        named[module] = job
    package = ROOT / "codesvc"
    for path in package.rglob("*.py"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        module = path.relative_to(package).as_posix()
        folder = f"{path.parent.relative_to(package).as_posix()}/"
        assert module in named or f"`{path.stem}`" in named.get(folder, ""), module
    for module in named:
        assert (package / module).exists(), f"{module} is not in codesvc/"
