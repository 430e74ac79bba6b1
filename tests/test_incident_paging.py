"""Paging through stored incidents with a cursor: every incident once, in order, unmoved by new ones."""

from __future__ import annotations

import pytest

from detection import Monitor, load_thresholds

from .support import StatusFeed

NOW = 1_790_000_000.0


@pytest.fixture
def feed(backend):
    """Five resolved denial spikes, on each backend (conftest ``backend``: SQLite, then PostgreSQL)."""
    feed = StatusFeed(Monitor(load_thresholds(), backend.store(), clock=lambda: NOW))
    feed.post(90)
    for _ in range(5):  # five denial spikes, each resolved before the next
        feed.post(8, c51=32, c59=8)
        feed.post(25)
    return feed


def pages(monitor: Monitor, size: int) -> list[list[str]]:
    out, cursor = [], None
    while True:
        page = monitor.incidents("resolved", size, before=cursor)
        if not page:
            return out
        out.append([i.id for i in page])
        cursor = (page[-1].started_at, page[-1].id)


def test_pages_cover_every_resolved_incident_once_newest_first(feed):
    every = feed.monitor.incidents("resolved", 100)
    assert len(every) == 5
    assert [i.started_at for i in every] == sorted((i.started_at for i in every), reverse=True)
    assert pages(feed.monitor, 2) == [[i.id for i in every[0:2]], [i.id for i in every[2:4]], [every[4].id]]


def test_a_new_incident_does_not_shift_the_next_page(feed):
    first = feed.monitor.incidents("resolved", 2)
    feed.post(8, c51=32, c59=8)  # a sixth spike, open, then resolved: newest of all
    feed.post(25)
    assert len(feed.monitor.incidents("resolved", 100)) == 6
    after = feed.monitor.incidents("resolved", 2, before=(first[-1].started_at, first[-1].id))
    every = feed.monitor.incidents("resolved", 100)
    assert [i.id for i in after] == [i.id for i in every[3:5]]  # what followed the first page before the sixth


def test_the_cursor_breaks_ties_on_the_same_start_minute_by_id(feed):
    store = feed.monitor.store
    rows = store._newest("alerts", "id, started_at", None, 100)  # alerts share start minutes within a spike
    starts = [r[1] for r in rows]
    assert len(starts) > len(set(starts))  # there are ties to break
    seen, cursor = [], None
    while batch := store._newest("alerts", "id, started_at", None, 1, before=cursor):
        seen.append(batch[0][0])
        cursor = (batch[0][1], batch[0][0])
    assert seen == [r[0] for r in rows]
