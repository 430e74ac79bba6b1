"""The dashboard on any screen and for every reader, in headless Chromium (dash_duo), checked by axe-core.

axe-core (npm, pinned in package.json; `npm ci` installs it into node_modules/, as .ci/run does) is injected
into the live demo page at 1920, 1366 and 390 px wide: no serious or critical violation, and at 390 px
(a phone) nothing makes the page scroll sideways. The alerts box scrolls on its own, so a keyboard must be
able to reach it. Without axe-core the test fails and says how to install it: it never skips.

Run: python -m pytest --headless -q tests/test_dashboard_a11y_browser.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from components import ids

from .test_dashboard_browser import CARD_NUMBER, SEEN_WITHIN, open_dashboard, text_of, wait_until

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = ((1920, 1080), (1366, 768), (390, 844))
BLOCKING = ("serious", "critical")
# Landmarks and headings are only "moderate" to axe, but the page promises them: checked as strictly.
PROMISED = ("landmark-one-main", "page-has-heading-one", "heading-order", "landmark-unique")


def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed ({AXE} is missing): run `npm ci` in {AXE.parents[2]} "
                    "(package.json pins it; .ci/run does this)", pytrace=False)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def alerting_app():
    """The demo page with a day of history, one firing alert and one pending one (every colour the page uses)."""
    app = create_app({"db": ":memory:", "demo": True})
    writer = app.server.extensions["feed_writer"]
    writer.backfill()
    writer.simulate("processing_failure")
    writer.simulate("denial_51")
    return app


def axe_version() -> str:
    return json.loads((AXE.parent / "package.json").read_text(encoding="utf-8"))["version"]


def violations(dash_duo, source: str, regions: tuple[str, ...] = ()) -> list[dict]:
    """axe-core's violations on the page, or only inside the CSS selectors ``regions``."""
    driver = dash_duo.driver
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(source)
    driver.set_script_timeout(SEEN_WITHIN)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(arguments[0].length ? {include: arguments[0].map(s => [s])} : document,"
        "        {resultTypes: ['violations']})"
        "  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        "     nodes: v.nodes.slice(0, 4).map(n => ({target: n.target.join(' '), why: n.failureSummary}))}))))"
        "  .catch(e => done({error: String(e)}));", list(regions))
    assert not isinstance(result, dict), f"axe-core failed to run: {result}"
    return result


def described(found: list[dict]) -> str:
    return json.dumps(found, indent=1)


def sideways(dash_duo) -> dict:
    """How wide the page is against the window, and the widest elements that stick out (none when it fits)."""
    return dash_duo.driver.execute_script("""
        const width = window.innerWidth, page = document.documentElement.scrollWidth;
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
            const box = el.getBoundingClientRect();
            if (box.width > 0 && box.right > width + 0.5) {
                // Inside a box that scrolls on its own, sticking out is that box's business, not the page's.
                let clipped = false;
                for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                    const o = getComputedStyle(p).overflowX;
                    if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
                }
                if (!clipped) out.push((el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' +
                                        String(el.className).split(' ').join('.')) + ' right=' + Math.round(box.right));
            }
        }
        return {width: width, page: page, out: out.slice(0, 8)};
    """)


def settle_within(dash_duo, width: int) -> None:
    """Wait until the page is no wider than the window (charts redraw to a new width a moment after a resize);
    fail with what still sticks out."""
    last: dict = {}

    def fits() -> bool:
        last.update(sideways(dash_duo))
        return last["page"] <= last["width"]

    try:
        WebDriverWait(dash_duo.driver, SEEN_WITHIN, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda _: fits())
    except TimeoutException:
        pytest.fail(f"at {width} px the page scrolls sideways (document {last.get('page')} px wide in a "
                    f"{last.get('width')} px window); sticking out: {last.get('out')}", pytrace=False)


def test_no_serious_violation_and_no_sideways_scroll_at_desktop_laptop_and_phone_widths(dash_duo, alerting_app):
    source = axe_source()
    open_dashboard(dash_duo, alerting_app)
    wait_until(dash_duo, lambda: len(dash_duo.find_elements(f"#{ids.STATUS_CHART} .scatterlayer .trace")) >= 6,
               "status chart not drawn (6 status lines)")
    wait_until(dash_duo, lambda: dash_duo.find_elements(f"#{ids.ALERTS_PANEL} .alert-firing"),
               "no firing alert in the alerts panel")
    assert CARD_NUMBER.fullmatch(text_of(dash_duo, f"#{ids.status_card_count('failed')}"))
    # The page fetched Plotly from its fingerprinted URL (kept a year), not Dash's fixed one.
    fetched = dash_duo.driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(url.endswith(alerting_app.plotly_url) for url in fetched), fetched
    assert not any("package_data/plotly.min" in url for url in fetched), fetched

    for width, height in SCREENS:
        dash_duo.driver.set_window_size(width, height)
        wait_until(dash_duo, lambda w=width: dash_duo.driver.execute_script("return window.innerWidth") == w,
                   f"the window did not become {width} px wide")
        if width <= 400:
            # Charts redraw to their new width after a resize: the page may be wider for a moment.
            settle_within(dash_duo, width)
        found = violations(dash_duo, source)
        blocking = [v for v in found if v["impact"] in BLOCKING or v["id"] in PROMISED]
        assert not blocking, f"at {width} px, axe-core {axe_version()} found: {described(blocking)}"

    assert dash_duo.get_logs() == []


def test_the_alerts_box_is_reached_with_the_keyboard(dash_duo, alerting_app):
    open_dashboard(dash_duo, alerting_app)
    wait_until(dash_duo, lambda: dash_duo.find_elements(f"#{ids.ALERTS_PANEL} .alert-item"), "no alert in the panel")
    body = dash_duo.find_element("body")
    body.click()
    reached = []
    for _ in range(40):  # the banner, the range buttons and the chart come first
        dash_duo.driver.switch_to.active_element.send_keys(Keys.TAB)
        focused = dash_duo.driver.execute_script("return document.activeElement.id || document.activeElement.tagName")
        reached.append(focused)
        if focused == ids.ALERTS_PANEL:
            break
    assert reached[-1] == ids.ALERTS_PANEL, f"Tab never reached #{ids.ALERTS_PANEL}; it went {reached}"
    # Focused, it scrolls with the arrow keys: the box is taller inside than its window when alerts overflow it.
    panel = dash_duo.find_element(f"#{ids.ALERTS_PANEL}")
    assert panel.get_attribute("tabindex") == "0"
    assert dash_duo.get_logs() == []
