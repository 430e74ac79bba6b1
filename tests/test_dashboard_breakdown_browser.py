"""The breakdown panel and the slice filter in headless Chromium (dash_duo), on a real Monitor, store and API.

Ninety minutes of labelled records are posted through the engine's validation and ingest: eight
acquirers with skewed volumes, each denying a steady share of its traffic, except acq-07 whose denials
triple for the last 20 minutes. The page must name acq-07 first with its share of the extra denials, draw
the heatmap, and, filtered to acq-07 (a click on its bar, then the selects), draw exactly acq-07's posted
counts in both charts; cleared, the whole traffic's again.

Run: python -m pytest --headless -q tests/test_dashboard_breakdown_browser.py
"""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import Select

from app import create_app
from components import ids
from components.breakdown import percent
from detection import Monitor, Store, parse_thresholds, validate_records
from detection.thresholds import DEFAULT_THRESHOLDS_PATH

from .support import timestamp
from .test_dashboard_browser import open_dashboard, text_of, wait_until

NOW = 1_790_000_000.0  # the monitor's wall clock: 2026-09-21 14:13 UTC
END = int(NOW // 60) - 1  # the newest minute posted
MINUTES = 90
SPIKE = 20  # acq-07's denials triple over the last SPIKE minutes
REFRESH_MS = 2000
LAPTOP = (1366, 1000)
# approvals per minute of each acquirer (skewed volumes), and its denials per minute before the spike
ACQUIRERS = {"acq-01": (40, 3), "acq-02": (30, 2), "acq-03": (24, 2), "acq-04": (18, 1), "acq-05": (12, 1),
             "acq-06": (10, 1), "acq-07": (8, 2), "acq-08": (6, 1)}
BRANDS = ("visa", "mc")


def thresholds():
    data = json.loads(DEFAULT_THRESHOLDS_PATH.read_text(encoding="utf-8"))
    data["dimensions"] = {"acquirer": {"max_values": 50}, "brand": {"max_values": 20}}
    return parse_thresholds(data, "test thresholds with dimensions")


def denials(acquirer: str, minute: int) -> int:
    base = ACQUIRERS[acquirer][1] + (minute % 3 == 0)  # a little movement, the same in every acquirer
    return base * 3 if acquirer == "acq-07" and minute > END - SPIKE else base


class LabelledFeed:
    """Posts each minute's labelled records through the engine's own validation and ingest (what the REST API's
    ingest does), remembering what it posted per acquirer."""

    def __init__(self, monitor: Monitor):
        self.monitor = monitor
        self.posted: dict[str, dict[str, list[int]]] = {a: {"approved": [], "denied": []} for a in ACQUIRERS}

    def post_minute(self, minute: int) -> None:
        statuses, codes = [], []
        for i, (acquirer, (approved, _)) in enumerate(ACQUIRERS.items()):
            denied = denials(acquirer, minute)
            labels = {"acquirer": acquirer, "brand": BRANDS[i % 2]}
            ts = timestamp(minute)
            statuses += [{"timestamp": ts, "status": "approved", "count": approved, "labels": labels},
                         {"timestamp": ts, "status": "denied", "count": denied, "labels": labels}]
            codes += [{"timestamp": ts, "auth_code": "00", "count": approved, "labels": labels},
                      {"timestamp": ts, "auth_code": "51", "count": denied, "labels": labels}]
            self.posted[acquirer]["approved"].append(approved)
            self.posted[acquirer]["denied"].append(denied)
        thresholds = self.monitor.thresholds
        for feed, records, keys in (("status", statuses, thresholds.statuses), ("auth_code", codes, thresholds.auth_codes)):
            self.monitor.ingest(validate_records(records, feed, keys, now=NOW, labels=self.monitor.labels))

    def total(self, status: str) -> list[int]:
        return [sum(minute) for minute in zip(*(p[status] for p in self.posted.values()), strict=True)]


@pytest.fixture
def labelled_app():
    monitor = Monitor(thresholds(), Store(":memory:"), clock=lambda: NOW)
    app = create_app({"db": ":memory:", "refresh_ms": REFRESH_MS}, monitor=monitor)
    feed = LabelledFeed(monitor)
    for minute in range(END - MINUTES + 1, END + 1):
        feed.post_minute(minute)
    app.server.extensions["labelled_feed"] = feed
    return app


def figure_data(dash_duo, graph_id: str) -> list[dict] | None:
    """The traces Plotly drew in a graph (name, y, customdata), or None before it has any."""
    return dash_duo.driver.execute_script(
        "const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "if (!gd || !gd.data || !gd.data.length) return null;"
        "return gd.data.map(t => ({name: t.name || null, y: Array.from(t.y || []), customdata: t.customdata || null,"
        "                          text: t.text || null}));",
        f"#{graph_id}",
    )


def trace(dash_duo, graph_id: str, name: str) -> list | None:
    data = figure_data(dash_duo, graph_id) or []
    return next((t["y"] for t in data if t["name"] == name), None)


def chip(dash_duo) -> str:
    return dash_duo.find_element(f"#{ids.SLICE_CHIP}").text


def test_the_acquirer_whose_denials_tripled_comes_first_and_the_charts_filter_to_its_counts(dash_duo, labelled_app):
    monitor = labelled_app.server.extensions["monitor"]
    feed: LabelledFeed = labelled_app.server.extensions["labelled_feed"]
    open_dashboard(dash_duo, labelled_app)
    # A laptop's window: Chromium does not hover (so Plotly does not click) below about 1,800 px of a taller one.
    dash_duo.driver.set_window_size(*LAPTOP)

    # The panel: acq-07 first, with the share the engine computes and the denials posted in the last hour.
    first_row = f"#{ids.BREAKDOWN_TABLE} tbody tr"
    wait_until(dash_duo, lambda: text_of(dash_duo, first_row).startswith("acq-07 "), "acq-07 is not the first row")
    engine = monitor.breakdown("status:denied", "acquirer", 60)
    top = engine["slices"][0]
    assert top["value"] == "acq-07" and top["share_of_excess"] >= 0.5
    cells = dash_duo.find_element(first_row).find_elements("css selector", "td")
    share, observed = cells[0].text, cells[1].text
    assert share == percent(top["share_of_excess"])
    assert int(observed) == sum(feed.posted["acq-07"]["denied"][-60:])  # read from the page = what was posted
    bars = figure_data(dash_duo, ids.BREAKDOWN_BARS)
    assert bars is not None and bars[0]["y"][-1] == "acq-07"  # the top bar
    assert bars[0]["text"][-1].startswith(f"{share} · {observed} vs ")

    # The heatmap: acq-07's row on top, its minutes holding exactly the denials posted.
    heat = wait_until(dash_duo, lambda: figure_data(dash_duo, ids.BREAKDOWN_HEATMAP), "no heatmap drawn")
    assert heat[0]["name"] == "acq-07" and len(heat) == min(8, len(engine["slices"]))
    assert heat[0]["customdata"] == feed.posted["acq-07"]["denied"][-60:]

    # A click on acq-07's bar filters both charts to its counts, and the chip says so.
    assert chip(dash_duo) == "all traffic"
    top_bar = dash_duo.find_elements(f"#{ids.BREAKDOWN_BARS} g.point path")[-1]
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", top_bar)
    ActionChains(dash_duo.driver).move_to_element(top_bar).click().perform()
    wait_until(dash_duo, lambda: chip(dash_duo) == "filtered to acquirer acq-07", "the chip does not name acq-07")
    posted = feed.posted["acq-07"]
    wait_until(dash_duo, lambda: (trace(dash_duo, ids.STATUS_CHART, "denied") or [])[-MINUTES:] == posted["denied"],
               "the status chart does not show acq-07's denials")
    assert trace(dash_duo, ids.STATUS_CHART, "approved")[-MINUTES:] == posted["approved"]
    code_51 = "51 insufficient funds"
    assert trace(dash_duo, ids.AUTH_CHART, code_51)[-MINUTES:] == posted["denied"]
    assert Select(dash_duo.find_element(f"#{ids.SLICE_VALUE}")).first_selected_option.text == "acq-07"

    # The selects pick another acquirer; the clear button goes back to all traffic, exactly as posted.
    Select(dash_duo.find_element(f"#{ids.SLICE_VALUE}")).select_by_value("acq-01")
    wait_until(dash_duo, lambda: chip(dash_duo) == "filtered to acquirer acq-01", "the chip does not name acq-01")
    wait_until(dash_duo, lambda: (trace(dash_duo, ids.STATUS_CHART, "denied") or [])[-MINUTES:]
               == feed.posted["acq-01"]["denied"], "the status chart does not show acq-01's denials")
    clear = dash_duo.find_element(f"#{ids.SLICE_CLEAR}")
    assert clear.get_attribute("aria-label") == "Clear the filter to acquirer acq-01"
    clear.click()
    wait_until(dash_duo, lambda: chip(dash_duo) == "all traffic", "the filter is not cleared")
    wait_until(dash_duo, lambda: (trace(dash_duo, ids.STATUS_CHART, "denied") or [])[-MINUTES:] == feed.total("denied"),
               "the status chart is not the whole traffic's again")
    assert not dash_duo.find_element(f"#{ids.SLICE_CLEAR}").is_displayed()
    assert dash_duo.get_logs() == []
