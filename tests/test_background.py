"""The engine's background threads (ticker, feeds): daemon threads whose stop never hangs the caller."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from detection.background import BackgroundThread


class Stuck(BackgroundThread):
    """Work that ignores ``stopped`` until released: a receiver that never answers, say."""

    def __init__(self) -> None:
        super().__init__("stuck-worker")
        self.release = threading.Event()
        self.running = threading.Event()

    def run_until_stopped(self) -> None:
        self.running.set()
        self.release.wait(60)


class Polite(BackgroundThread):
    def __init__(self) -> None:
        super().__init__("polite-worker")
        self.ticks = 0

    def run_until_stopped(self) -> None:
        while not self.stopped.wait(0.01):
            self.ticks += 1


def test_the_thread_is_named_and_stops_when_asked():
    worker = Polite().start()
    try:
        assert worker._thread.name == "polite-worker" and worker._thread.is_alive()
    finally:
        worker.stop()
    assert not worker._thread.is_alive() and worker.stopped.is_set()


def test_stop_gives_up_after_its_timeout_when_the_work_does_not_return():
    worker = Stuck().start()
    assert worker.running.wait(30)
    try:
        began = time.monotonic()
        worker.stop(timeout=0.2)
        waited = time.monotonic() - began
        assert worker._thread.is_alive()  # still stuck: stop() returned anyway
        assert waited < 20  # bounded by the timeout (generous for a loaded machine), not by the work
    finally:
        worker.release.set()


def test_a_stuck_background_thread_never_keeps_the_process_alive():
    # Daemon threads: an exiting monitor is not held open by a worker blocked on a receiver.
    program = textwrap.dedent("""
        import threading
        from detection.background import BackgroundThread

        class Stuck(BackgroundThread):
            def run_until_stopped(self):
                threading.Event().wait()

        Stuck("stuck").start()
        print("main done", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "main done"
