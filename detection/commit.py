"""Group commit: writes staged in engine order are made durable together, several per transaction.

A request's answer waits until its own write is on disk, but while one thread
commits, others go on with their in-memory work; whoever commits next takes
every write queued so far. Order is kept because writes are staged while the
Monitor's lock is held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .store import PendingWrite, Store, StoreError


class CommitTicket:
    __slots__ = ("done", "error", "write")

    def __init__(self, write: PendingWrite):
        self.write = write
        self.done = False
        self.error: StoreError | None = None


class GroupCommitter:
    def __init__(self, store: Store, on_failure: Callable[[StoreError], None]):
        self._store = store
        self._on_failure = on_failure  # rebuilds the engine's memory from what was committed
        self._queue: list[CommitTicket] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()  # never taken while holding the Monitor's lock

    def stage(self, write: PendingWrite) -> CommitTicket:
        """Queue a write; the caller holds the Monitor's lock, so queue order is engine order."""
        ticket = CommitTicket(write)
        with self._queue_lock:
            self._queue.append(ticket)
        return ticket

    def wait(self, ticket: CommitTicket) -> None:
        """Return once the ticket's write is durable; raise StoreError if its transaction failed."""
        with self._commit_lock:
            if not ticket.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    self._store.write_many([t.write for t in batch])
                except StoreError as exc:
                    for t in batch:
                        t.error = exc
                    self._on_failure(exc)
                finally:
                    for t in batch:
                        t.done = True
        if ticket.error is not None:
            raise ticket.error

    def fail_queued(self, error: StoreError) -> None:
        """Drop writes staged after a failed batch: the memory that made them is being rebuilt."""
        with self._queue_lock:
            dropped, self._queue = self._queue, []
        for ticket in dropped:
            ticket.error = error
            ticket.done = True
