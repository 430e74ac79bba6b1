"""The incidents panels and the time controls in headless Chromium (dash_duo), on a real Monitor and store.

One app holds a known history: eight resolved incidents (four code-51 denial
spikes, four processing failures) and an open code-51 denial spike, posted
minute by minute through the engine as a payment system would. A second app
runs the demo feed, so pausing has something to stop.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from flask import request
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from app import create_app
from callbacks.window import incident_window
from components import ids
from detection import Monitor, Store, load_thresholds
from feeds.demo import FeedRunner

from .support import StatusFeed
from .test_dashboard_browser import SEEN_WITHIN, open_dashboard, text_of, wait_until

NOW = 1_790_000_000.0
REFRESH_MS = 1500  # short on purpose: the interval pauses while a refresh is in flight, so no answer is lost


class RefreshCounter:
    """Counts the refresh requests the server receives (the callback that draws the status chart)."""

    def __init__(self, server):
        self.count = 0
        self._lock = threading.Lock()
        server.before_request(self._see)

    def _see(self):
        if request.path == "/_dash-update-component" and f"{ids.STATUS_CHART}.figure".encode() in request.get_data():
            with self._lock:
                self.count += 1


@pytest.fixture
def history_app():
    monitor = Monitor(load_thresholds(), Store(":memory:"), clock=lambda: NOW)
    feed = StatusFeed(monitor)
    feed.post(90)
    for _ in range(4):
        feed.post(8, c51=32, c59=8)  # denial spike, mostly insufficient funds
        feed.post(25)
        feed.post(6, failed=5)  # processing failure
        feed.post(25)
    feed.post(8, c51=32, c59=8)  # still going: the open incident
    app = create_app({"db": ":memory:", "refresh_ms": REFRESH_MS}, monitor=monitor)
    app.server.extensions["refreshes"] = RefreshCounter(app.server)
    return app


@pytest.fixture
def demo_app():
    app = create_app({"db": ":memory:", "demo": True, "refresh_ms": REFRESH_MS})
    app.server.extensions["refreshes"] = RefreshCounter(app.server)
    writer = app.server.extensions["feed_writer"]
    writer.backfill(6 * 60)
    runner = FeedRunner(writer, speed=20).start()
    yield app
    runner.stop()


def drawn_range(dash_duo, chart_id: str) -> list[float] | None:
    """The x range Plotly drew, in epoch minutes, or None before the chart has data."""
    found = dash_duo.driver.execute_script(
        "const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis || !gd.data || !gd.data.length) return null;"
        "return gd._fullLayout.xaxis.range.map(v => new Date(String(v).replace(' ', 'T') + 'Z').getTime() / 60000);",
        f"#{chart_id}",
    )
    return list(found) if found else None


def minutes_of(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() / 60


def close(a: list[float] | None, b: list[float], tolerance: float = 0.5) -> bool:
    return a is not None and all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def drag(dash_duo, chart_id: str, from_x: int, to_x: int) -> None:
    """A person's zoom: press in the chart's top panel, drag sideways, let go."""
    area = dash_duo.find_element(f"#{chart_id} .draglayer .xy .nsewdrag")
    # Selenium 4.2 measures the offset from the element's top-left corner.
    ActionChains(dash_duo.driver).move_to_element_with_offset(area, from_x, area.size["height"] // 2) \
        .click_and_hold().move_by_offset((to_x - from_x) // 2, 0).move_by_offset((to_x - from_x) // 2, 0) \
        .release().perform()


def resolved_ids(dash_duo) -> list[str]:
    rows = dash_duo.find_elements(f"#{ids.RESOLVED_INCIDENTS} .incident-row")
    return [r.get_attribute("id") for r in rows]


def test_open_incident_on_top_and_a_click_moves_both_charts_to_its_window(dash_duo, history_app):
    monitor = history_app.server.extensions["monitor"]
    (incident,) = monitor.incidents("open")
    open_dashboard(dash_duo, history_app)
    row = f"#{ids.incident_row(incident.id)}"
    text = text_of(dash_duo, row)
    assert "Denial spike driven by code 51 (insufficient funds)" in text
    started = datetime.fromtimestamp(incident.started_at * 60, tz=UTC).strftime("%Y-%m-%d %H:%M")
    assert f"since {started} UTC" in text
    assert "code 51: 8" in text and "warning" in text  # the driver's share, e.g. "code 51: 86%"
    assert dash_duo.find_element(f"#{ids.incident_actions(incident.id)}")  # the slot for Acknowledge / Note / Silence
    wait_until(dash_duo, lambda: drawn_range(dash_duo, ids.AUTH_CHART), "auth-code chart not drawn")

    dash_duo.find_element(f"{row} button.incident-open").click()
    detail = f"#{ids.incident_detail_of(incident.id)}"
    assert incident.summary.split(",")[0] in text_of(dash_duo, detail)
    assert len(dash_duo.find_elements(f"{detail} .timeline-bar")) == len(incident.alert_ids)
    assert len(dash_duo.find_elements(f"{detail} .incident-members tbody tr")) == len(incident.alert_ids)
    window = [minutes_of(t) for t in incident_window(incident.started_at, None, monitor.newest_event_minute())]
    for chart in (ids.STATUS_CHART, ids.AUTH_CHART):
        wait_until(dash_duo, lambda chart=chart: close(drawn_range(dash_duo, chart), window),
                   f"{chart} did not move to the incident's window {window}")
    assert "(pinned)" in text_of(dash_duo, f"#{ids.WINDOW_TEXT}")
    dash_duo.find_element(f"#{ids.LIVE}").click()
    wait_until(dash_duo, lambda: "following new minutes" in dash_duo.find_element(f"#{ids.WINDOW_TEXT}").text,
               "Live did not go back to the newest minutes")
    assert dash_duo.get_logs() == []


def test_a_zoom_is_kept_over_three_refreshes_and_the_other_chart_follows(dash_duo, history_app):
    refreshes = history_app.server.extensions["refreshes"]
    open_dashboard(dash_duo, history_app)
    wait_until(dash_duo, lambda: drawn_range(dash_duo, ids.STATUS_CHART), "status chart not drawn")
    whole = drawn_range(dash_duo, ids.STATUS_CHART)
    drag(dash_duo, ids.STATUS_CHART, 200, 400)
    zoomed = wait_until(dash_duo, lambda: (r := drawn_range(dash_duo, ids.STATUS_CHART)) and r[1] - r[0] < 0.6 * (whole[1] - whole[0]) and r,
                        "dragging across the status chart did not zoom it")
    wait_until(dash_duo, lambda: close(drawn_range(dash_duo, ids.AUTH_CHART), zoomed),
               "the auth-code chart did not follow the status chart's zoom")
    seen = refreshes.count
    wait_until(dash_duo, lambda: refreshes.count >= seen + 3, "three more refreshes did not come")
    wait_until(dash_duo, lambda: refreshes.count >= seen + 4, "a fourth refresh did not come")  # the third one was drawn
    assert close(drawn_range(dash_duo, ids.STATUS_CHART), zoomed)
    assert close(drawn_range(dash_duo, ids.AUTH_CHART), zoomed)

    # And the other way round: a zoom in the auth-code chart moves the status chart.
    drag(dash_duo, ids.AUTH_CHART, 300, 450)
    narrower = wait_until(dash_duo, lambda: (r := drawn_range(dash_duo, ids.AUTH_CHART)) and r[1] - r[0] < 0.9 * (zoomed[1] - zoomed[0]) and r,
                          "dragging across the auth-code chart did not zoom it")
    wait_until(dash_duo, lambda: close(drawn_range(dash_duo, ids.STATUS_CHART), narrower),
               "the status chart did not follow the auth-code chart's zoom")
    assert dash_duo.get_logs() == []


def test_resolved_incidents_filter_and_page_through_the_history(dash_duo, history_app):
    monitor = history_app.server.extensions["monitor"]
    resolved = monitor.incidents("resolved")
    assert len(resolved) == 8
    newest_first = [ids.incident_row(i.id, "resolved") for i in resolved]
    open_dashboard(dash_duo, history_app)
    wait_until(dash_duo, lambda: resolved_ids(dash_duo) == newest_first[:5], "page 1 is not the five newest")
    assert "page 1 · older ones follow" in text_of(dash_duo, f"#{ids.RESOLVED_INCIDENTS} .incident-page-info")
    assert not dash_duo.find_element(f"#{ids.INCIDENTS_NEWER}").is_enabled()

    dash_duo.find_element(f"#{ids.INCIDENTS_OLDER}").click()
    wait_until(dash_duo, lambda: resolved_ids(dash_duo) == newest_first[5:], "page 2 is not the three oldest")
    assert "page 2 · the oldest stored" in text_of(dash_duo, f"#{ids.RESOLVED_INCIDENTS} .incident-page-info")
    assert not dash_duo.find_element(f"#{ids.INCIDENTS_OLDER}").is_enabled()
    dash_duo.find_element(f"#{ids.INCIDENTS_NEWER}").click()
    wait_until(dash_duo, lambda: resolved_ids(dash_duo) == newest_first[:5], "Newer did not go back to page 1")

    Select(dash_duo.find_element(f"#{ids.INCIDENT_KIND_FILTER}")).select_by_value("processing_failure")
    failures = [ids.incident_row(i.id, "resolved") for i in resolved if i.kind == "processing_failure"]
    assert len(failures) == 4
    wait_until(dash_duo, lambda: resolved_ids(dash_duo) == failures, "the kind filter did not leave the four failures")
    Select(dash_duo.find_element(f"#{ids.INCIDENT_KIND_FILTER}")).select_by_value("all")
    search = dash_duo.find_element(f"#{ids.INCIDENT_TEXT_FILTER}")
    search.send_keys("code 51\n")
    denials = [ids.incident_row(i.id, "resolved") for i in resolved if "code 51" in i.title]
    assert len(denials) == 4
    wait_until(dash_duo, lambda: resolved_ids(dash_duo) == denials, "the text filter did not leave the four denial spikes")
    Select(dash_duo.find_element(f"#{ids.INCIDENT_SEVERITY_FILTER}")).select_by_value("critical")
    wait_until(dash_duo, lambda: "No resolved incidents match." in dash_duo.find_element(f"#{ids.RESOLVED_INCIDENTS}").text,
               "denial spikes (warning) still listed under severity 'critical'")
    assert dash_duo.get_logs() == []


def test_pause_stops_refreshes_and_resume_restarts_them(dash_duo, demo_app):
    refreshes = demo_app.server.extensions["refreshes"]
    monitor = demo_app.server.extensions["monitor"]
    open_dashboard(dash_duo, demo_app)
    wait_until(dash_duo, lambda: refreshes.count >= 2 and drawn_range(dash_duo, ids.STATUS_CHART), "the page is not refreshing")
    dash_duo.find_element(f"#{ids.PAUSE}").click()
    wait_until(dash_duo, lambda: dash_duo.find_element(f"#{ids.PAUSE}").text == "Resume updates", "the button does not offer Resume")
    paused_at = refreshes.count
    shown = text_of(dash_duo, f"#{ids.NEWEST_EVENT}").split(" · ")[0]
    newest = monitor.newest_event_minute()
    # The demo feed posts a minute every 3 s: three new minutes are six intervals of the page.
    wait_until(dash_duo, lambda: monitor.newest_event_minute() >= newest + 3, "the demo feed stopped posting")
    assert refreshes.count <= paused_at + 1  # at most one already on its way when the button was pressed
    assert text_of(dash_duo, f"#{ids.NEWEST_EVENT}").split(" · ")[0] == shown

    dash_duo.find_element(f"#{ids.PAUSE}").click()
    wait_until(dash_duo, lambda: refreshes.count >= paused_at + 2, "Resume did not restart the refreshes")
    wait_until(dash_duo, lambda: text_of(dash_duo, f"#{ids.NEWEST_EVENT}").split(" · ")[0] != shown,
               "after Resume the page still shows the minute it showed while paused")
    assert dash_duo.find_element(f"#{ids.PAUSE}").text == "Pause updates"
    assert dash_duo.get_logs() == []


def test_an_absolute_date_range_moves_both_charts_and_a_bad_date_names_its_field(dash_duo, history_app):
    monitor = history_app.server.extensions["monitor"]
    open_dashboard(dash_duo, history_app)
    wait_until(dash_duo, lambda: drawn_range(dash_duo, ids.AUTH_CHART), "auth-code chart not drawn")
    newest = monitor.newest_event_minute()
    start = datetime.fromtimestamp((newest - 200) * 60, tz=UTC).strftime("%Y-%m-%d %H:%M")
    end = datetime.fromtimestamp((newest - 100) * 60, tz=UTC).strftime("%Y-%m-%d %H:%M")
    dash_duo.find_element(f"#{ids.RANGE_FROM}").send_keys(start)
    dash_duo.find_element(f"#{ids.RANGE_TO}").send_keys("12/07/2025")
    dash_duo.find_element(f"#{ids.RANGE_APPLY}").click()
    assert text_of(dash_duo, f"#{ids.RANGE_ERROR}") == "to: expected YYYY-MM-DD HH:MM (UTC); got '12/07/2025'"
    box = dash_duo.find_element(f"#{ids.RANGE_TO}")
    box.send_keys(Keys.CONTROL, "a")  # select and type over it: clear() does not tell React the value changed
    box.send_keys(end)
    dash_duo.find_element(f"#{ids.RANGE_APPLY}").click()
    for chart in (ids.STATUS_CHART, ids.AUTH_CHART):
        wait_until(dash_duo, lambda chart=chart: close(drawn_range(dash_duo, chart), [newest - 200, newest - 100]),
                   f"{chart} does not show {start} to {end}")
    assert dash_duo.find_element(f"#{ids.RANGE_ERROR}").text == ""
    dash_duo.driver.find_element(By.XPATH, f"//*[@id='{ids.RANGE}']//label[text()='1h']").click()
    wait_until(dash_duo, lambda: close(drawn_range(dash_duo, ids.STATUS_CHART), [newest - 59, newest], 1.0),
               "a quick range did not go back to the newest hour", timeout=SEEN_WITHIN)
    assert dash_duo.get_logs() == []
