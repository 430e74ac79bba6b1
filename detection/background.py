"""A named daemon thread with start/stop, for the engine's background work (ticker, feeds)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Self


class BackgroundThread(ABC):
    """Subclasses implement ``run_until_stopped``; ``self.stopped`` is an Event they wait on."""

    def __init__(self, name: str):
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self.run_until_stopped, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        self._thread.join(timeout=timeout)

    @abstractmethod
    def run_until_stopped(self) -> None:
        """The thread's work; return when ``self.stopped`` is set."""
