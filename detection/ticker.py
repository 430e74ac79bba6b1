"""A background thread that lets the wall clock act on the Monitor (closing minutes, no-data alerts)
and keeps the store's write-ahead log bounded, off the request path."""

from __future__ import annotations

import logging
import time

from .background import BackgroundThread
from .monitor import Monitor
from .store import WAL_TARGET_BYTES

log = logging.getLogger("monitor")


class Ticker(BackgroundThread):
    """Every ``interval_seconds``: tick the Monitor, truncate the WAL, and probe a store whose last
    write failed (so health recovers without waiting for traffic). Every ``wal_check_seconds``: truncate
    the WAL early if it passed WAL_TARGET_BYTES (one stat), so heavy ingestion cannot grow it for long."""

    def __init__(self, monitor: Monitor, interval_seconds: float = 5.0, wal_check_seconds: float = 1.0):
        super().__init__("monitor-ticker")
        self.monitor = monitor
        self.interval = interval_seconds
        self.wal_check = min(wal_check_seconds, interval_seconds)

    def run_until_stopped(self) -> None:
        next_tick = time.monotonic() + self.interval
        while not self.stopped.wait(self.wal_check):
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.interval
                self.tick()
            elif self.monitor.store.wal_bytes() >= WAL_TARGET_BYTES:
                self.checkpoint()

    def tick(self) -> None:
        try:
            self.monitor.tick()
        except Exception:  # keep ticking: one bad tick must not silence no-data alerts for good
            log.exception("monitor tick failed")
        store = self.monitor.store
        try:
            store.probe()
        except Exception:
            log.warning("store still failing: %s", store.health().reason)
        if store.wal_bytes() > 0:
            self.checkpoint()

    def checkpoint(self) -> None:
        store = self.monitor.store
        started = time.perf_counter()
        try:
            truncated = store.checkpoint()
        except Exception:
            log.exception("store checkpoint failed")
            return
        took = time.perf_counter() - started
        if not truncated or took > 0.5:
            log.warning("WAL checkpoint %s in %.0f ms (WAL now %d bytes)",
                        "done" if truncated else "held back by readers", took * 1000, store.wal_bytes())
