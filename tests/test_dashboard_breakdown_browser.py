"""The breakdown panel and the slice filter in headless Chromium (dash_duo), on a real Monitor, store and API.

Ninety minutes of labelled records are posted through ``POST /api/transaction`` and ``/api/auth_code``: eight
acquirers with skewed volumes, each denying a steady share of its traffic, except acq-07 whose denials
triple for the last 20 minutes. The page must name acq-07 first with its share of the extra denials, draw
the heatmap, and, filtered to acq-07 (a click on its bar, then the selects), draw exactly acq-07's posted
counts in both charts; cleared, the whole traffic's again.

Run: python -m pytest --headless -q tests/test_dashboard_breakdown_browser.py
"""

from __future__ import annotations

import threading

import pytest
from flask import request
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import Select, WebDriverWait

from components import ids
from components.breakdown import percent

from .slice_support import END, MINUTES, LabelledFeed, labelled_app
from .support import timestamp
from .test_dashboard_browser import open_dashboard, text_of, wait_until

REFRESH_MS = 2000
LAPTOP = (1366, 1000)
CLICK_ANSWER_SECONDS = 10


@pytest.fixture
def labelled():
    return labelled_app(REFRESH_MS)


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


def clicked(dash_duo, selector: str) -> bool:
    """Scroll to the element and click it as a person would; False when a redraw moved it under us (try again).
    The scroll is instant: Bootstrap's smooth scrolling would still be moving the element when it is clicked."""
    try:
        element = dash_duo.driver.find_element("css selector", selector)
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
        element.click()
    except (NoSuchElementException, ElementClickInterceptedException, StaleElementReferenceException):
        return False
    return True


def clicked_bar(dash_duo, expected_chip: str) -> bool:
    """Point at the top bar, then click it (Plotly clicks the point the pointer hovers, so the pointer moves
    onto it first); True once the chip says ``expected_chip``. A redraw under the pointer means another try."""
    if chip(dash_duo) == expected_chip:
        return True
    try:
        bar = dash_duo.driver.find_elements("css selector", f"#{ids.BREAKDOWN_BARS} g.point path")[-1]
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", bar)
        ActionChains(dash_duo.driver).move_to_element_with_offset(bar, 0, -bar.size["height"] // 2 - 2).pause(0.2) \
            .move_to_element(bar).pause(0.3).click().perform()
    except (IndexError, StaleElementReferenceException, ElementClickInterceptedException):
        return False
    try:  # the filter takes a round trip to show
        WebDriverWait(dash_duo.driver, CLICK_ANSWER_SECONDS).until(lambda _: chip(dash_duo) == expected_chip)
    except TimeoutException:
        return False
    return True


def chip(dash_duo) -> str:
    return dash_duo.find_element(f"#{ids.SLICE_CHIP}").text


def test_the_acquirer_whose_denials_tripled_comes_first_and_the_charts_filter_to_its_counts(dash_duo, labelled):
    monitor = labelled.server.extensions["monitor"]
    feed: LabelledFeed = labelled.server.extensions["labelled_feed"]
    open_dashboard(dash_duo, labelled)
    # A laptop's window: the panel is below the fold and scrolled to, as a person would.
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
    bars = wait_until(dash_duo, lambda: figure_data(dash_duo, ids.BREAKDOWN_BARS), "no bars drawn")
    assert bars[0]["y"][-1] == "acq-07"  # the top bar
    assert bars[0]["text"][-1].startswith(f"{share} · {observed} vs ")

    # The heatmap: acq-07's row on top, its minutes holding exactly the denials posted.
    heat = wait_until(dash_duo, lambda: figure_data(dash_duo, ids.BREAKDOWN_HEATMAP), "no heatmap drawn")
    assert heat[0]["name"] == "acq-07" and len(heat) == min(8, len(engine["slices"]))
    assert heat[0]["customdata"] == feed.posted["acq-07"]["denied"][-60:]

    # A click on acq-07's bar filters both charts to its counts, and the chip says so.
    assert chip(dash_duo) == "all traffic"
    assert Select(dash_duo.find_element(f"#{ids.SLICE_VALUE}")).first_selected_option.text == "every value"
    wait_until(dash_duo, lambda: clicked_bar(dash_duo, "filtered to acquirer acq-07"),
               "a click on acq-07's bar does not filter the charts")
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
    assert Select(dash_duo.find_element(f"#{ids.SLICE_VALUE}")).first_selected_option.text == "every value"
    assert dash_duo.get_logs() == []


class BreakdownAnswers:
    """Counts the breakdown callback's answers that carried something (200) and every request for it."""

    def __init__(self, server):
        self.asked = 0
        self.drawn = 0
        self._lock = threading.Lock()
        server.after_request(self._see)

    def _see(self, response):
        if request.path == "/_dash-update-component" and f"{ids.BREAKDOWN_BARS}.figure".encode() in request.get_data():
            with self._lock:
                self.asked += 1
                self.drawn += response.status_code == 200
        return response


@pytest.fixture
def with_slice_incident():
    def count_answers(app) -> None:
        app.server.extensions["breakdown_answers"] = BreakdownAnswers(app.server)
    return labelled_app(REFRESH_MS, sliced_rule=True, prepare=count_answers)


def test_a_slice_incident_opens_the_breakdown_on_its_metric_dimension_and_window_and_hide_stops_the_reads(
        dash_duo, with_slice_incident):
    monitor = with_slice_incident.server.extensions["monitor"]
    (incident,) = [i for i in monitor.incidents("open") if i.details.get("slice") == "acquirer=acq-07"]
    assert incident.title == "Denial spike at acquirer acq-07"
    open_dashboard(dash_duo, with_slice_incident)
    dash_duo.driver.set_window_size(*LAPTOP)
    Select(dash_duo.find_element(f"#{ids.BREAKDOWN_BY}")).select_by_value("brand")  # the analyst looked at brands
    wait_until(dash_duo, lambda: "by brand" in text_of(dash_duo, f"#{ids.BREAKDOWN_HEADING}"), "no breakdown by brand")

    wait_until(dash_duo, lambda: clicked(dash_duo, f"#{ids.incident_row(incident.id)} .incident-open"),
               "the slice incident is not listed, or cannot be clicked")
    span = incident.details["span"]
    wanted = (f"Denials by acquirer, incident “Denial spike at acquirer acq-07” "
              f"({span['from'][11:16]}–{timestamp(END)[11:16]} UTC)")
    wait_until(dash_duo, lambda: text_of(dash_duo, f"#{ids.BREAKDOWN_HEADING}").startswith(wanted),
               f"the heading is not {wanted!r}")
    assert Select(dash_duo.find_element(f"#{ids.BREAKDOWN_BY}")).first_selected_option.text == "acquirer"
    assert not dash_duo.find_element(f"#{ids.BREAKDOWN_METRIC}").is_enabled()  # the incident's metric, not the picker's
    assert text_of(dash_duo, f"#{ids.BREAKDOWN_TABLE} tbody tr").startswith("acq-07 ")

    # Back to the picked metric while the incident stays open beside the panel.
    wait_until(dash_duo, lambda: clicked(dash_duo, f"#{ids.BREAKDOWN_DETACH}"), "the detach button cannot be clicked")
    wait_until(dash_duo, lambda: text_of(dash_duo, f"#{ids.BREAKDOWN_HEADING}").startswith(
        "Denials by acquirer, the last hour"), "the panel does not go back to the picked metric")
    assert dash_duo.find_element(f"#{ids.BREAKDOWN_METRIC}").is_enabled()
    assert not dash_duo.find_element(f"#{ids.BREAKDOWN_DETACH}").is_displayed()

    # Hidden, the panel reads nothing: refreshes go on, the breakdown's answers are all empty (204).
    toggle = dash_duo.find_element(f"#{ids.BREAKDOWN_TOGGLE}")
    wait_until(dash_duo, lambda: clicked(dash_duo, f"#{ids.BREAKDOWN_TOGGLE}"), "Hide cannot be clicked")
    wait_until(dash_duo, lambda: toggle.get_attribute("aria-expanded") == "false" and toggle.text == "Show",
               "the toggle does not say the panel is hidden")
    assert not dash_duo.find_element(f"#{ids.BREAKDOWN_BODY}").is_displayed()
    answers: BreakdownAnswers = with_slice_incident.server.extensions["breakdown_answers"]
    drawn, asked = answers.drawn, answers.asked
    wait_until(dash_duo, lambda: answers.asked >= asked + 2, "no refresh came while the panel was hidden")
    assert answers.drawn == drawn
    wait_until(dash_duo, lambda: clicked(dash_duo, f"#{ids.BREAKDOWN_TOGGLE}"), "Show cannot be clicked")
    wait_until(dash_duo, lambda: dash_duo.find_element(f"#{ids.BREAKDOWN_BODY}").is_displayed(), "not shown again")
    assert dash_duo.get_logs() == []
