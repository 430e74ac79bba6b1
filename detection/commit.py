"""Group commit: writes staged in engine order are made durable together, several per transaction.

A request's answer waits until its own write is on disk, but while one thread
commits, others go on with their in-memory work; whoever commits next takes
every write queued so far. Order is kept because writes are staged while the
Monitor's lock is held. A batch is all or nothing: if its transaction fails, for
whatever reason, every write in it fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .store import PendingWrite, SqlStore, StoreError

log = logging.getLogger("monitor")


class CommitTicket:
    __slots__ = ("done", "error", "write")

    def __init__(self, write: PendingWrite):
        self.write = write
        self.done = False
        self.error: StoreError | None = None


class GroupCommitter:
    def __init__(self, store: SqlStore, on_failure: Callable[[StoreError], None]):
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
                self._commit_queued()
        if ticket.error is not None:
            raise ticket.error
        if not ticket.done:  # cannot happen: whoever held the lock committed or failed it
            raise StoreError("store write failed: the write was neither committed nor failed")

    def _commit_queued(self) -> None:
        with self._queue_lock:
            batch, self._queue = self._queue, []
        interrupted: BaseException | None = None
        try:
            self._store.write_many([t.write for t in batch])
            error = None
        except StoreError as exc:
            error = exc
        except Exception as exc:  # Store converts every error; a store that does not still fails the batch
            error = StoreError(f"store write failed: {type(exc).__name__}: {exc}")
        except BaseException as exc:  # interrupted mid-commit: the store rolled back, so nothing of it counts
            error = StoreError(f"store write failed: interrupted ({type(exc).__name__})")
            interrupted = exc
        for t in batch:
            t.error = error
            t.done = True
        if error is not None:
            try:
                self._on_failure(error)
            except Exception:  # the tickets already carry the error; memory is rebuilt on the next ingest
                log.exception("rebuilding the engine after a failed commit failed")
        if interrupted is not None:
            raise interrupted

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No batch is committed while inside. Take it before the Monitor's lock, never while holding it."""
        with self._commit_lock:
            yield

    def fail_queued(self, error: StoreError) -> None:
        """Drop writes staged after a failed batch: the memory that made them is being rebuilt."""
        with self._queue_lock:
            dropped, self._queue = self._queue, []
        for ticket in dropped:
            ticket.error = error
            ticket.done = True
