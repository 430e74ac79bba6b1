"""The demo streams labelled minutes when the thresholds configure dimensions, so the breakdown panel has slices."""

from __future__ import annotations

from detection import Monitor, MonitorSettings, Store
from detection.thresholds import parse_thresholds
from feeds.demo import LABELLED_BACKFILL_MINUTES, FeedWriter

from .slice_support import global_config

NOW = 29_188_800 * 60.0 + 15 * 3600 + 30  # 2025-07-01 15:00:30 UTC


def _monitor(dimensions: bool, clock) -> Monitor:
    config = global_config()
    if dimensions:
        config["dimensions"] = {"acquirer": {"max_values": 20}, "merchant": {"max_values": 400},
                                "brand": {"max_values": 20}, "region": {"max_values": 20}}
    return Monitor(parse_thresholds(config, "demo"), Store(":memory:"), MonitorSettings(), clock=clock)


def test_with_dimensions_the_demo_backfills_and_streams_labelled_minutes():
    clock = [NOW]
    monitor = _monitor(True, lambda: clock[0])
    writer = FeedWriter(monitor, clock=lambda: clock[0])
    assert writer.backfill(minutes=LABELLED_BACKFILL_MINUTES + 30) > 0
    clock[0] += 60
    minute = writer.stream_next()
    assert minute == monitor.newest_event_minute()
    dims = monitor.dimensions()
    assert len(dims["acquirer"]) == 8 and {"visa", "mastercard", "elo", "amex"} == set(dims["brand"])
    assert len(dims["merchant"]) > 50
    breakdown = monitor.breakdown("status:approved", "acquirer", minutes=60)
    assert breakdown["slices_total"] == 8
    # The slices add up to the global series over the labelled hour.
    assert sum(s["observed"] for s in monitor.breakdown("status:approved", "acquirer", 60, top=20)["slices"]) \
        == breakdown["observed"]


def test_without_dimensions_the_demo_streams_the_unlabelled_minutes_as_before():
    clock = [NOW]
    monitor = _monitor(False, lambda: clock[0])
    writer = FeedWriter(monitor, clock=lambda: clock[0])
    assert writer.labelled is None
    minute = writer.stream_next()
    status_rows, _ = writer.stream.minute(minute)
    counts = monitor.snapshot(5).counts
    assert counts["status:approved"][-1] == next(r["count"] for r in status_rows if r["status"] == "approved")
