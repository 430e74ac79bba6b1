"""A real SQLite Store whose writes fail on demand, for tests of the all-or-nothing write path.

The fault is raised inside ``_apply``: in a transaction (a group commit) it comes after the
change's statements ran, i.e. after ``BEGIN``, so a missing ROLLBACK would leave them in place.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable

from detection.store import PendingWrite, Store


def disk_full() -> Exception:
    return sqlite3.OperationalError("database or disk is full")


def injected() -> Exception:
    return RuntimeError("injected fault")


class FaultyStore(Store):
    def __init__(self, path: str, fail_minutes: Iterable[int] = (), error: Callable[[], Exception] = injected,
                 hold_minutes: Iterable[int] = (), release_file: str | None = None):
        super().__init__(path)
        self.failing = False  # every write fails while True (a full disk)
        self.fail_minutes = set(fail_minutes)  # a change touching one of these minutes fails
        self.make_error = error
        self.hold_minutes = set(hold_minutes)  # a batch touching one of these waits for release_file
        self.release_file = release_file
        self.failures = 0

    def _fails(self, change: PendingWrite) -> bool:
        return self.failing or any(minute in self.fail_minutes for _feed, minute in change.counts)

    def _apply(self, conn: sqlite3.Connection, change: PendingWrite) -> None:
        fail = self._fails(change)
        if not fail or conn.in_transaction:
            Store._apply(conn, change)  # in a transaction, the fault comes after the statements ran
        if fail:
            self.failures += 1
            raise self.make_error()

    def write_many(self, changes: list[PendingWrite]) -> None:
        if self.release_file and any(m in self.hold_minutes for c in changes for _f, m in c.counts):
            # Hold the commit (and with it the committer's lock) so other requests queue up behind it.
            deadline = time.monotonic() + 60
            while not os.path.exists(self.release_file) and time.monotonic() < deadline:
                time.sleep(0.01)
        super().write_many(changes)
