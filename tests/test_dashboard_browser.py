"""The dashboard in headless Chromium (dash_duo) against a server the test starts, with a demo day of data.

Few and fast on purpose: one test looks at the demo page as a person would (and
saves the screenshot), one drives it (simulate a processing failure, change the
range). Everything else about the page is tested without a browser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from components import ids
from feeds.demo import FeedRunner

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WINDOW = (1600, 1500)


@pytest.fixture
def demo_app():
    """A demo app: 24 h of synthetic history, then a live minute every 3 s (as `python app.py --demo`)."""
    app = create_app({"db": ":memory:", "demo": True, "refresh_ms": 1000})
    writer = app.server.extensions["feed_writer"]
    writer.backfill()
    runner = FeedRunner(writer, speed=20).start()
    yield app
    runner.stop()


def chart_span_hours(dash_duo, chart_id: str) -> float:
    """The x-axis span Plotly actually drew, in hours."""
    return dash_duo.driver.execute_script(
        "const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) return -1;"
        "const r = gd._fullLayout.xaxis.range.map(v => new Date(v.replace(' ', 'T') + 'Z').getTime());"
        "return (r[1] - r[0]) / 3600000;",
        f"#{chart_id}",
    )


def wait_until(dash_duo, condition, timeout: float, message: str):
    """Wait for ``condition``; the page redraws every second, so an element may go stale under us: try again."""
    return WebDriverWait(dash_duo.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda _: condition(), message)


def text_of(dash_duo, selector: str) -> str:
    """An element's text, read again if a refresh replaced the element while we read it."""
    return wait_until(dash_duo, lambda: dash_duo.find_element(selector).text or None, 10, f"no text in {selector}")


def test_demo_page_loads_with_numbers_charts_and_no_console_errors(dash_duo, demo_app):
    dash_duo.driver.set_window_size(*WINDOW)
    dash_duo.start_server(demo_app)
    dash_duo.wait_for_text_to_equal(f"#{ids.DEMO_BADGE}", "DEMO", timeout=10)
    for status in ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded"):
        count = text_of(dash_duo, f"#{ids.status_card_count(status)}")
        assert count.isdigit(), (status, count)
    assert int(text_of(dash_duo, f"#{ids.status_card_count('approved')}")) > 0
    # Both charts drawn: one line per status panel and one per auth code.
    wait_until(dash_duo, lambda: len(dash_duo.find_elements(f"#{ids.STATUS_CHART} .scatterlayer .trace")) >= 6, 10,
               "status chart not drawn")
    wait_until(dash_duo, lambda: len(dash_duo.find_elements(f"#{ids.AUTH_CHART} .scatterlayer .trace")) >= 3, 10,
               "auth-code chart not drawn")
    dash_duo.wait_for_text_to_equal(f"#{ids.HEALTH_BADGE}", "feed live", timeout=10)
    assert "newest event" in text_of(dash_duo, f"#{ids.NEWEST_EVENT}")
    assert "open" in text_of(dash_duo, f"#{ids.RECENT_TABLE} tbody")
    assert "failed_high" in text_of(dash_duo, f"#{ids.RULES_TABLE}")
    assert "curl" in text_of(dash_duo, f"#{ids.API_PANEL}")
    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    # Later refreshes send Patches of the new minutes only; the drawn series must still be the engine's.
    first = text_of(dash_duo, f"#{ids.NEWEST_EVENT}").split(" · ")[0]
    wait_until(dash_duo, lambda: text_of(dash_duo, f"#{ids.NEWEST_EVENT}").split(" · ")[0] != first, 15,
               "no new minute arrived")
    drawn = dash_duo.driver.execute_script(
        f"const gd = document.querySelector('#{ids.STATUS_CHART} .js-plotly-plot');"
        "const t = gd.data.find(d => d.name === 'approved'); return [t.x0, Array.from(t.y)];")
    start = int(datetime.fromisoformat(drawn[0]).replace(tzinfo=UTC).timestamp() // 60)
    snap = demo_app.server.extensions["monitor"].snapshot(24 * 60)
    engine = dict(zip(snap.minutes, snap.counts["status:approved"], strict=True))
    assert len(drawn[1]) == 360
    older = drawn[1][:-5]  # the newest minutes may have moved on since the last refresh
    assert older == [engine[start + i] for i in range(len(older))]
    assert dash_duo.get_logs() == []


def test_processing_failure_fires_turns_the_card_red_and_range_changes_span(dash_duo, demo_app):
    dash_duo.driver.set_window_size(*WINDOW)
    dash_duo.start_server(demo_app)
    dash_duo.wait_for_element(f"#{ids.status_card_count('failed')}", timeout=10)
    wait_until(dash_duo, lambda: chart_span_hours(dash_duo, ids.STATUS_CHART) > 0, 10, "status chart not drawn")

    dash_duo.find_element(".simulate-processing_failure").click()

    def failed_card_red_and_alert_listed():
        # Both come from one refresh, so they are checked together: the alert may resolve
        # later (the demo stream goes on with normal minutes), never before it was shown.
        red = "card-firing" in dash_duo.find_element(f"#{ids.status_card('failed')}").get_attribute("class")
        items = [e.text for e in dash_duo.find_elements(f"#{ids.ALERTS_PANEL} .alert-firing") if "failed" in e.text]
        return items if red and items else None

    firing = wait_until(dash_duo, failed_card_red_and_alert_listed, 10,
                        "within 10 s: the failed card is not red or no firing 'failed' alert is listed")
    assert "critical" in firing[0] and "vs threshold" in firing[0] and "started" in firing[0]
    assert "Processing failure: posted" in text_of(dash_duo, f"#{ids.SIMULATE_RESULT}")
    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / "dashboard-incident.png"))  # the README's picture

    assert chart_span_hours(dash_duo, ids.STATUS_CHART) == pytest.approx(6, abs=0.1)
    dash_duo.driver.find_element(By.XPATH, f"//*[@id='{ids.RANGE}']//label[text()='24h']").click()
    wait_until(dash_duo, lambda: abs(chart_span_hours(dash_duo, ids.STATUS_CHART) - 24) < 0.1, 10,
               "range selector did not change the span to 24 h")
    dash_duo.driver.find_element(By.XPATH, f"//*[@id='{ids.RANGE}']//label[text()='1h']").click()
    wait_until(dash_duo, lambda: abs(chart_span_hours(dash_duo, ids.STATUS_CHART) - 1) < 0.1, 10,
               "range selector did not change the span to 1 h")
    assert dash_duo.get_logs() == []
