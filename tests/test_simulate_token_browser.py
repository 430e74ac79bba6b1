"""In headless Chromium: with MONITOR_API_TOKEN set, the page asks for the token once, then writes without asking."""

from __future__ import annotations

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from components import ids

TOKEN = "browser-T0ken-7"
DEADLINE = 45  # seconds: a loaded 2-core machine may take this long to answer a click and redraw


def wait_for(dash_duo, condition, message: str):
    return WebDriverWait(dash_duo.driver, DEADLINE, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda _: condition(), message)


def result_says(dash_duo, text: str) -> None:
    wait_for(dash_duo, lambda: text in dash_duo.find_element(f"#{ids.SIMULATE_RESULT}").text,
             f"within {DEADLINE} s the simulate result does not say {text!r}")


def type_token(dash_duo, token: str) -> None:
    field = dash_duo.find_element(f"#{ids.SIMULATE_TOKEN}")
    field.clear()
    field.send_keys(token)


def test_the_page_asks_for_the_token_once_and_refuses_a_wrong_one(dash_duo):
    app = create_app({"db": ":memory:", "simulate": True, "api_token": TOKEN, "refresh_ms": 1000})
    app.server.extensions["feed_writer"].backfill(60)
    monitor = app.server.extensions["monitor"]
    before = monitor.newest_event_minute()
    dash_duo.driver.set_window_size(1600, 2200)  # the incidents above push the simulate buttons down
    dash_duo.start_server(app)
    prompt = f"#{ids.SIMULATE_TOKEN_PROMPT}"
    wait_for(dash_duo, lambda: dash_duo.find_element(prompt).is_displayed(), "the token field is not shown")
    assert dash_duo.find_element(f"#{ids.SIMULATE_TOKEN}").get_attribute("type") == "password"

    dash_duo.find_element(".simulate-processing_failure").click()
    result_says(dash_duo, "needs its API token")
    type_token(dash_duo, "not-the-token")
    dash_duo.find_element(".simulate-processing_failure").click()
    result_says(dash_duo, "that is not the API token")
    assert monitor.newest_event_minute() == before  # nothing was written by either click

    type_token(dash_duo, TOKEN)
    dash_duo.find_element(".simulate-processing_failure").click()
    result_says(dash_duo, "Processing failure: posted")
    assert monitor.newest_event_minute() > before
    wait_for(dash_duo, lambda: not dash_duo.find_element(prompt).is_displayed(),
             "the token field is still shown after the token was accepted")

    # The token is kept for the tab: after a reload the page does not ask again, and a click writes.
    written = monitor.newest_event_minute()
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(".simulate-button", timeout=DEADLINE)
    wait_for(dash_duo, lambda: not dash_duo.find_element(prompt).is_displayed(),
             "after a reload the page asks for the token again")
    dash_duo.find_elements(".simulate-button")[-1].click()
    result_says(dash_duo, "posted")
    assert monitor.newest_event_minute() > written
    assert dash_duo.get_logs() == []
