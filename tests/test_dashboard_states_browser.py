"""The status cards' "no data" (stale) and "feed outage" states in headless Chromium (dash_duo), on a real Monitor.

The Monitor's wall clock is a hand-moved ``FakeClock``, so "the feed has been
silent for 100 s" is one line instead of a wait; the page itself refreshes on
its own interval, as it does in production, and the test waits for what a
person would see: the cards' colour class and the word in their pill.
"""

from __future__ import annotations

import pytest

from app import create_app
from callbacks import view
from components import ids
from detection import Monitor, Store, load_thresholds
from detection.metrics import minute_to_datetime

from .conftest import FakeClock
from .support import StatusFeed
from .test_dashboard_browser import open_dashboard, wait_until

REFRESH_MS = 1500  # the interval pauses while a refresh is in flight, so a short one loses no answer


@pytest.fixture
def live():
    """A real Monitor on a hand-moved clock, fed an hour of steady minutes, and its app."""
    clock = FakeClock()
    store = Store(":memory:")
    monitor = Monitor(load_thresholds(), store, clock=clock)
    feed = StatusFeed(monitor, now=clock.now)
    feed.post(60)
    app = create_app({"db": ":memory:", "refresh_ms": REFRESH_MS}, monitor=monitor)
    yield app, monitor, feed, clock
    store.close()


def card_states(dash_duo, statuses) -> dict[str, tuple[str, str]] | None:
    """Per status card: (its state class, the word in its pill); None while a refresh is replacing the cards."""
    found = dash_duo.driver.execute_script(
        "const out = {};"
        "for (const s of arguments[0]) {"
        "  const card = document.getElementById(arguments[1] + s);"
        "  if (!card) return null;"
        "  const state = [...card.classList].find(c => c.startsWith('card-') && c !== 'card-body') || '';"
        "  const pill = card.querySelector('.card-state-pill');"
        "  const since = card.querySelector('.card-since');"
        "  out[s] = [state, pill ? pill.textContent : '', since ? since.textContent : ''];"
        "}"
        "return out;",
        list(statuses), ids.status_card(""),
    )
    return {s: tuple(v) for s, v in found.items()} if found else None


def all_cards(dash_duo, statuses, state: str, pill: str, since: str = ""):
    """A condition: every card is in ``state`` with ``pill`` in words (and ``since`` under it)."""
    def check():
        cards = card_states(dash_duo, statuses)
        return cards is not None and all(c == (f"card-{state}", pill, since) for c in cards.values())
    return check


def since_text(minute: int) -> str:
    return "no data since " + minute_to_datetime(minute).strftime("%Y-%m-%d %H:%M UTC")


def test_a_silent_feed_turns_the_cards_to_no_data_then_red_while_the_outage_lasts_and_back(dash_duo, live):
    app, monitor, feed, clock = live
    statuses = monitor.thresholds.statuses
    open_dashboard(dash_duo, app)
    wait_until(dash_duo, all_cards(dash_duo, statuses, "normal", "normal"),
               f"cards not all normal with a live feed: {card_states(dash_duo, statuses)}")
    newest = monitor.newest_event_minute()

    # Silent for 100 s of wall-clock time: older than STALE_SECONDS, younger than the no-data alert (2 min).
    clock.advance(view.STALE_SECONDS + 10)
    monitor.tick()
    assert not [a for a in monitor.alerts() if a.metric == "feed:status" and a.is_open]
    wait_until(dash_duo, all_cards(dash_duo, statuses, "stale", "no data", since_text(newest)),
               f"cards did not turn to 'no data': {card_states(dash_duo, statuses)}")

    # Silent for 160 s: the no-data alert fires, and every card of the feed is red while it lasts.
    clock.advance(60)
    monitor.tick()
    assert [a.state for a in monitor.alerts() if a.metric == "feed:status" and a.is_open] == ["firing"]
    wait_until(dash_duo, all_cards(dash_duo, statuses, "outage", "feed outage", since_text(newest)),
               f"cards did not turn red for the outage: {card_states(dash_duo, statuses)}")

    # Data comes again: the no-data alert resolves and the cards are green again.
    feed.now = clock.now
    feed.post(2)
    assert not [a for a in monitor.alerts() if a.metric == "feed:status" and a.is_open]
    wait_until(dash_duo, all_cards(dash_duo, statuses, "normal", "normal"),
               f"cards did not go back to normal when data came again: {card_states(dash_duo, statuses)}")
    assert dash_duo.get_logs() == []


def test_a_posted_feed_gap_turns_the_cards_red_while_the_closed_minute_is_in_it_and_back(dash_duo, live):
    app, monitor, feed, _clock = live
    statuses = monitor.thresholds.statuses
    open_dashboard(dash_duo, app)
    wait_until(dash_duo, all_cards(dash_duo, statuses, "normal", "normal"),
               f"cards not all normal with a live feed: {card_states(dash_duo, statuses)}")
    before = monitor.newest_event_minute()

    # Three minutes never sent, then the one after: the last closed minute lies in the gap.
    feed.skip(3)
    feed.post(1)
    (gap,) = [a for a in monitor.alerts() if a.metric == "feed:status"]
    assert gap.started_at == before + 1
    wait_until(dash_duo, all_cards(dash_duo, statuses, "outage", "feed outage", since_text(before)),
               f"cards did not turn red for the gap: {card_states(dash_duo, statuses)}")

    # The next minute closes the one after the gap, with data: the outage is over for the cards.
    feed.post(1)
    wait_until(dash_duo, all_cards(dash_duo, statuses, "normal", "normal"),
               f"cards did not go back to normal after the gap: {card_states(dash_duo, statuses)}")
    assert dash_duo.get_logs() == []
