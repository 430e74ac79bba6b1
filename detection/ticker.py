"""A background thread that lets the wall clock act on the Monitor (closing minutes, no-data alerts)
and checkpoints the store's write-ahead log off the request path."""

from __future__ import annotations

import logging

from .background import BackgroundThread
from .monitor import Monitor

log = logging.getLogger("monitor")


class Ticker(BackgroundThread):
    def __init__(self, monitor: Monitor, interval_seconds: float = 5.0):
        super().__init__("monitor-ticker")
        self.monitor = monitor
        self.interval = interval_seconds

    def run_until_stopped(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.monitor.tick()
                self.monitor.store.checkpoint()
            except Exception:  # keep ticking: one bad tick must not silence no-data alerts for good
                log.exception("monitor tick failed")
