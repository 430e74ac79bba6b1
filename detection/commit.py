"""Group commit: writes staged in engine order are made durable together, several per transaction.

A request's answer waits until its own write is on disk, but while one thread
commits, others go on with their in-memory work; whoever commits next takes
every write queued so far. Order is kept because writes are staged while the
Monitor's lock is held. A batch is all or nothing: if its transaction fails, for
whatever reason, every write in it fails.

Waiters sleep on a condition, not on a lock: a request whose write went out in
someone else's batch is woken as soon as that batch is durable (or failed) and
answers, instead of queueing for the commit lock behind the next batch as well.
Only a waiter whose write is still queued takes the committer's turn. (With a
lock, at 16 connections a request often waited out two commits, its own and the
one that took the lock next: issue 11 found 18% of samples blocked there.)
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
        # One short lock guards the queue and the committer's turn; it is never held during a write, and is
        # notified whenever tickets are finished or the turn is given back.
        self._changed = threading.Condition(threading.Lock())
        self._busy = False  # a batch is being written, or paused() holds the turn
        self._sleeping = 0  # waiters asleep until a batch is finished or the turn is free
        # Never wait for the turn while holding the Monitor's lock: the committer may need it (on_failure).

    @property
    def committing(self) -> bool:
        """Whether a batch is being written (or commits are paused) right now."""
        return self._busy

    def waiting(self) -> int:
        """How many waiters are asleep until a batch is finished or the turn is free."""
        with self._changed:
            return self._sleeping

    def queued(self) -> int:
        """How many staged writes wait for the next batch."""
        with self._changed:
            return len(self._queue)

    def stage(self, write: PendingWrite) -> CommitTicket:
        """Queue a write; the caller holds the Monitor's lock, so queue order is engine order."""
        ticket = CommitTicket(write)
        with self._changed:
            self._queue.append(ticket)
        return ticket

    def wait(self, ticket: CommitTicket) -> None:
        """Return once the ticket's write is durable; raise StoreError if its transaction failed."""
        with self._changed:
            while not ticket.done:
                if self._busy:
                    # Someone else is writing: that batch may hold this ticket, and if not, the turn is free after it.
                    self._sleeping += 1
                    try:
                        self._changed.wait()
                    finally:
                        self._sleeping -= 1
                    continue
                self._busy = True  # this thread writes everything queued so far, its own write among it
                batch, self._queue = self._queue, []
                self._changed.release()
                try:
                    self._commit(batch)
                finally:
                    self._changed.acquire()
                    self._busy = False
                    self._changed.notify_all()
        if ticket.error is not None:
            raise ticket.error

    def _commit(self, batch: list[CommitTicket]) -> None:
        """Write ``batch`` in one transaction and finish every ticket in it (called with the turn, not the lock)."""
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
        for t in batch:  # the waiters see these once the turn is given back (notified under the lock)
            t.error = error
            t.done = True
        if error is not None:
            try:
                self._on_failure(error)  # still holding the turn: no other write is on its way to the disk
            except Exception:  # the tickets already carry the error; memory is rebuilt on the next ingest
                log.exception("rebuilding the engine after a failed commit failed")
        if interrupted is not None:
            raise interrupted

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No batch is committed while inside. Take it before the Monitor's lock, never while holding it."""
        with self._changed:
            while self._busy:
                self._changed.wait()
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()

    def fail_queued(self, error: StoreError) -> None:
        """Drop writes staged after a failed batch: the memory that made them is being rebuilt."""
        with self._changed:
            dropped, self._queue = self._queue, []
            for ticket in dropped:
                ticket.error = error
                ticket.done = True
            self._changed.notify_all()
