"""Accessibility checks for any page a browser test has open: axe-core, narrow screens.

axe-core (npm ``axe-core``, MPL-2.0) is vendored in ``tests/vendor/axe-core/`` so a test run
fetches nothing. It is injected through the DevTools protocol, which the pages' Content
Security Policy does not apply to, so the pages are checked exactly as served.

Use it on any page, the staff console's included::

    await assert_accessible(page, "queue, two appeals")
    await assert_fits(page)            # nothing wider than the screen (360 px phones)

axe-core waits on timers as it works. A test that stops the page's clock (``page.clock``) to
hold a state adds ``REAL_TIMERS`` to its context first (``context.add_init_script``): axe
then runs on the browser's own timers, which the test's clock does not hold.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
#: The impacts that fail a page; "moderate" and "minor" findings are reported, not failed.
FAILING = ("serious", "critical")
#: Kept before ``page.clock.install()`` replaces them (init scripts run in the order added).
REAL_TIMERS = (
    "window.__realTimers = {setTimeout: window.setTimeout.bind(window),"
    " clearTimeout: window.clearTimeout.bind(window)};"
)


def _axe_on_real_timers() -> str:
    return (
        "(() => { const t = window.__realTimers || window;"
        " (function (setTimeout, clearTimeout) {\n"
        + AXE.read_text(encoding="utf-8")
        + "\n}).call(window, t.setTimeout, t.clearTimeout); })()"
    )


async def assert_accessible(page, state: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    """No serious or critical axe-core violation on ``page`` as it is now; returns the rest."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(_axe_on_real_timers())
    results = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations'], runOnly: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
    )
    violations = results["violations"]
    failing = [v for v in violations if v["impact"] in FAILING]
    assert not failing, f"{state}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:4])
        for v in failing
    )
    return [v for v in violations if v["impact"] not in FAILING]


async def assert_fits(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing on the page is wider than the window: no sideways scrolling."""
    width, scroll, wide = await page.evaluate(
        """() => {
            const name = (e) => e.tagName.toLowerCase() + (e.id ? `#${e.id}` : "")
                + (e.classList.length ? `.${[...e.classList].join(".")}` : "");
            const wide = [...document.body.querySelectorAll("*")]
                .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                .filter((e) => !e.parentElement.closest(".table-wrap"))
                .slice(0, 5).map(name);
            return [window.innerWidth, document.documentElement.scrollWidth, wide];
        }"""
    )
    assert scroll <= width, f"the page is {scroll} px wide in a {width} px window: {wide}"
