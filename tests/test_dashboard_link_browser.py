"""The dashboard opened at an incident from its address (``/?incident=<id>``, the link notifications carry), in
headless Chromium (dash_duo) on a real Monitor and store.

The history holds one processing failure that resolved about eight hours before the
newest minute: older than the page's default range (6 h), so the charts must read
further back to show it.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app import create_app
from callbacks.window import incident_window
from components import ids
from components.charts import DEFAULT_RANGE, RANGES
from detection import Monitor, Store, load_thresholds

from .support import StatusFeed
from .test_dashboard_browser import SEEN_WITHIN, free_port, text_of, wait_until
from .test_dashboard_browser import WINDOW as WINDOW_SIZE
from .test_dashboard_incidents_browser import NOW, REFRESH_MS, close, drawn_range, minutes_of


@pytest.fixture
def old_incident_app():
    monitor = Monitor(load_thresholds(), Store(":memory:"), clock=lambda: NOW)
    feed = StatusFeed(monitor)
    feed.post(90)
    feed.post(6, failed=5)  # processing failure
    feed.post(8 * 60)  # then eight quiet hours
    return create_app({"db": ":memory:", "refresh_ms": REFRESH_MS}, monitor=monitor)


def open_at(dash_duo, app, query: str) -> None:
    """Serve ``app`` and load the page at ``/?<query>``, as a person following a notification's link does."""
    dash_duo.driver.set_window_size(*WINDOW_SIZE)
    dash_duo.start_server(app, navigate=False, start_timeout=SEEN_WITHIN, port=free_port())
    dash_duo.wait_for_page(f"{dash_duo.server.url}/?{query}", timeout=SEEN_WITHIN)


def first_x(dash_duo, chart_id: str) -> float | None:
    """The first minute the chart has data for (epoch minutes), or None before it has any."""
    return dash_duo.driver.execute_script(
        "const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "if (!gd || !gd.data || !gd.data.length) return null;"
        # The series are drawn from a start (x0) and a step (dx), not a list of times.
        "const x0 = gd.data[0].x0 !== undefined ? gd.data[0].x0 : (gd.data[0].x || [])[0];"
        "return x0 === undefined ? null : new Date(String(x0).replace(' ', 'T') + 'Z').getTime() / 60000;",
        f"#{chart_id}",
    )


def test_a_link_opens_a_resolved_incident_older_than_the_default_range_with_both_charts_on_its_minutes(
        dash_duo, old_incident_app):
    monitor = old_incident_app.server.extensions["monitor"]
    (incident,) = monitor.incidents("resolved")
    newest = monitor.newest_event_minute()
    assert newest - incident.resolved_at > RANGES[DEFAULT_RANGE]  # the default range would not show it

    open_at(dash_duo, old_incident_app, f"incident={incident.id}")
    detail = f"#{ids.incident_detail_of(incident.id)}"
    text = text_of(dash_duo, detail)
    assert incident.title in text and "resolved" in text
    assert len(dash_duo.find_elements(f"{detail} .incident-members tbody tr")) == len(incident.alert_ids)
    window = [minutes_of(t) for t in incident_window(incident.started_at, incident.resolved_at, newest)]
    assert window[0] < incident.started_at and window[1] > incident.resolved_at  # its minutes, with context
    for chart in (ids.STATUS_CHART, ids.AUTH_CHART):
        wait_until(dash_duo, lambda chart=chart: close(drawn_range(dash_duo, chart), window),
                   f"{chart} did not open at the incident's window {window}")
        # Drawn from data read far enough back, not an empty stretch of axis.
        assert first_x(dash_duo, chart) <= window[0]
    assert "(pinned)" in text_of(dash_duo, f"#{ids.WINDOW_TEXT}")
    assert dash_duo.get_logs() == []


@pytest.mark.parametrize("requested", [
    "i0000000000000000",  # unknown, or pruned after the retention
    "<b>x</b>\"'&",  # characters no incident id has: shown as text, never as markup
    "i" * 200,  # longer than the API's MAX_INCIDENT_ID
])
def test_a_link_to_an_incident_the_store_does_not_hold_says_so_and_the_page_works(
        dash_duo, old_incident_app, requested):
    open_at(dash_duo, old_incident_app, f"incident={quote(requested, safe='')}")
    message = text_of(dash_duo, f"#{ids.INCIDENT_DETAIL} .incident-detail-missing")
    shown = requested if len(requested) <= 64 else requested[:64] + "\u2026"
    assert message.startswith(f"No incident {shown} in the store (retention 30 days).")
    assert dash_duo.find_elements(f"#{ids.INCIDENT_DETAIL} b") == []  # nothing the link held became markup
    # The page works as usual: the charts follow the newest minutes and the incident lists fill in.
    wait_until(dash_duo, lambda: drawn_range(dash_duo, ids.STATUS_CHART), "status chart not drawn")
    assert "following new minutes" in text_of(dash_duo, f"#{ids.WINDOW_TEXT}")
    assert dash_duo.find_elements(f"#{ids.RESOLVED_INCIDENTS} .incident-row")
    assert dash_duo.get_logs() == []
