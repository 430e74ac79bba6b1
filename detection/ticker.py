"""A background thread that lets the wall clock act on the Monitor (closing minutes, no-data alerts)
and checkpoints the store's write-ahead log off the request path."""

from __future__ import annotations

import logging
import threading

from .monitor import Monitor

log = logging.getLogger("monitor")


class Ticker:
    def __init__(self, monitor: Monitor, interval_seconds: float = 5.0):
        self.monitor = monitor
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor-ticker", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.monitor.tick()
                self.monitor.store.checkpoint()
            except Exception:  # keep ticking: one bad tick must not silence no-data alerts for good
                log.exception("monitor tick failed")
