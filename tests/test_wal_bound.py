"""The write-ahead log stays bounded under sustained writes: the ticker truncates it, and SQLite's own
checkpoint after a commit bounds it even when nothing calls checkpoint() (real SQLite files)."""

from __future__ import annotations

import threading
import time

from detection import Monitor, MonitorSettings, Store, load_thresholds, validate_records
from detection.metrics import DEFAULT_STATUSES
from detection.store import AUTO_CHECKPOINT_PAGES, WAL_LIMIT_BYTES, WAL_TARGET_BYTES, PendingWrite
from detection.ticker import Ticker

from .support import START_MINUTE, timestamp

FRAME_BYTES = 4096 + 24  # one page and its frame header


def test_the_ticker_keeps_the_wal_near_its_target_under_concurrent_writes(db_path):
    monitor = Monitor(load_thresholds(), Store(db_path), MonitorSettings())
    now = (START_MINUTE + 10_000) * 60.0
    done = threading.Event()
    written = 0

    def post_single_records() -> None:
        nonlocal written
        try:
            for i in range(6_000):  # ~24 MB of WAL frames without checkpoints
                record = {"timestamp": timestamp(START_MINUTE + i // 100), "status": "approved", "count": 1}
                monitor.ingest(validate_records([record], "status", DEFAULT_STATUSES, now=now))
                written += 1
        finally:
            done.set()

    ticker = Ticker(monitor, interval_seconds=0.5, wal_check_seconds=0.05).start()
    writer = threading.Thread(target=post_single_records)
    writer.start()
    samples = []
    deadline = time.monotonic() + 60
    try:
        while not done.is_set():
            assert time.monotonic() < deadline, "6,000 writes did not finish within 60 s"
            samples.append(monitor.store.wal_bytes())
            time.sleep(0.005)
    finally:
        writer.join(30)
        ticker.stop()
    assert written == 6_000
    # The ticker truncates once the WAL passes its 4 MB target; on a loaded machine a check may come late.
    assert max(samples) < 3 * WAL_TARGET_BYTES, f"WAL reached {max(samples)} bytes"
    assert monitor.store.checkpoint() is True
    assert monitor.store.wal_bytes() == 0  # TRUNCATE, not PASSIVE: the file itself shrinks
    assert monitor.store.count_rows("minute_counts") == 60


def test_without_checkpoint_calls_sqlite_bounds_the_wal_by_itself(db_path):
    store = Store(db_path)
    largest = 0
    for i in range(12_000):  # one frame each: 49 MB of WAL if nothing checkpointed
        store.write(PendingWrite(counts={("status", START_MINUTE + i // 100): {"status:approved": i}},
                                 alerts=[], deleted_alerts=[], rule_states={}, meta={}))
        if i % 25 == 0:
            largest = max(largest, store.wal_bytes())
    assert largest > WAL_TARGET_BYTES  # it did grow: nothing truncated it on the way
    assert largest <= (AUTO_CHECKPOINT_PAGES + 100) * FRAME_BYTES < WAL_LIMIT_BYTES
