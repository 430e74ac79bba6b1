"""Group commit: writes staged in engine order are made durable together, several per transaction.

A request's answer waits until its own write is on disk, but while one thread
commits, others go on with their in-memory work; whoever commits next takes
every write queued so far. Order is kept because writes are staged while the
Monitor's lock is held. A batch is all or nothing: if its transaction fails, for
whatever reason, every write in it fails.

Waiters never queue on a lock. The first waiter to find the turn free writes
everything queued, its own write among it; a waiter that finds the turn taken
sleeps on a wake-up of its own. When a batch is finished the writer wakes exactly
the waiters of that batch's tickets (they answer at once, durable or failed),
then, if writes are still queued, one sleeping waiter of those to take the turn.
(With a commit lock, a request whose write had gone out in someone else's batch
still queued for the lock, often behind the next batch too: issue 11 found 18%
of samples blocked there at 16 connections. A condition woke every sleeper at
each commit, and each then queued for the condition's lock again.)
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

    def __init__(self, write: PendingWrite | None):
        self.write = write
        self.done = False
        self.error: StoreError | None = None


class GroupCommitter:
    def __init__(self, store: SqlStore, on_failure: Callable[[StoreError], None]):
        self._store = store
        self._on_failure = on_failure  # rebuilds the engine's memory from what was committed
        self._queue: list[CommitTicket] = []
        # Guards the queue, the turn and the sleepers; held only for a few operations, never during a write.
        self._mutex = threading.Lock()
        self._busy = False  # a batch is being written, or paused() holds the turn
        # Sleeping waiters by the ticket they wait for, tickets in the order their first waiter fell asleep:
        # the locks they are blocked on (each released once, by whoever wakes it, who also removes it here).
        self._asleep: dict[CommitTicket, list[threading.Lock]] = {}
        self._sleeping = 0
        # Never wait for the turn while holding the Monitor's lock: the writer may need it (on_failure).

    @property
    def committing(self) -> bool:
        """Whether a batch is being written (or commits are paused) right now."""
        return self._busy

    def waiting(self) -> int:
        """How many waiters are asleep until their batch is finished or the turn is theirs."""
        with self._mutex:
            return self._sleeping

    def queued(self) -> int:
        """How many staged writes wait for the next batch."""
        with self._mutex:
            return len(self._queue)

    def stage(self, write: PendingWrite) -> CommitTicket:
        """Queue a write; the caller holds the Monitor's lock, so queue order is engine order."""
        ticket = CommitTicket(write)
        with self._mutex:
            self._queue.append(ticket)
        return ticket

    def wait(self, ticket: CommitTicket) -> None:
        """Return once the ticket's write is durable; raise StoreError if its transaction failed."""
        while True:
            with self._mutex:
                if ticket.done:
                    break
                if self._busy:
                    wake = self._sleep_locked(ticket)
                else:
                    self._busy = True  # this thread writes everything queued so far, its own write among it
                    batch, self._queue = self._queue, []
                    wake = None
            if wake is not None:
                self._sleep(ticket, wake)
                continue
            try:
                self._commit(batch)
            finally:
                self._give_back_turn(batch)
        if ticket.error is not None:
            raise ticket.error

    def _sleep_locked(self, ticket: CommitTicket) -> threading.Lock:
        wake = threading.Lock()
        wake.acquire()
        self._asleep.setdefault(ticket, []).append(wake)  # several waiters may share one (idempotent replays)
        self._sleeping += 1
        return wake

    def _sleep(self, ticket: CommitTicket, wake: threading.Lock) -> None:
        """Block until woken: this ticket's batch is finished, or the turn is offered."""
        try:
            wake.acquire()
        except BaseException:  # interrupted asleep: leave no wake-up behind that nobody would act on
            with self._mutex:
                waiting = self._asleep.get(ticket, [])
                if wake in waiting:
                    waiting.remove(wake)
                    self._sleeping -= 1
                    if not waiting:
                        del self._asleep[ticket]
                elif not self._busy:  # it was woken, perhaps offered the turn: offer it to another
                    self._offer_turn_locked()
            raise

    def _wake_locked(self, ticket: CommitTicket) -> None:
        for wake in self._asleep.pop(ticket, ()):
            wake.release()
            self._sleeping -= 1

    def _give_back_turn(self, finished: list[CommitTicket]) -> None:
        """Wake the waiters of ``finished`` tickets, free the turn and offer it to one sleeper still waiting."""
        with self._mutex:
            for ticket in finished:
                # Finished only now, after on_failure ran: a request is answered 503 once the engine's memory
                # is rebuilt, and no write can be staged and committed from the stale memory meanwhile.
                ticket.done = True
                self._wake_locked(ticket)
            self._busy = False
            self._offer_turn_locked()

    def _offer_turn_locked(self) -> None:
        """Wake the longest sleeper whose ticket is not finished: it takes the turn (or, if someone was quicker,
        sleeps again and is woken when that batch ends). One is enough: it writes every queued write."""
        for ticket in self._asleep:
            if not ticket.done:
                self._wake_locked(ticket)
                return

    def _commit(self, batch: list[CommitTicket]) -> None:
        """Write ``batch`` in one transaction and finish every ticket in it (called with the turn, not the lock)."""
        interrupted: BaseException | None = None
        try:
            self._store.write_many([t.write for t in batch if t.write is not None])
            error = None
        except StoreError as exc:
            error = exc
        except Exception as exc:  # Store converts every error; a store that does not still fails the batch
            error = StoreError(f"store write failed: {type(exc).__name__}: {exc}")
        except BaseException as exc:  # interrupted mid-commit: the store rolled back, so nothing of it counts
            error = StoreError(f"store write failed: interrupted ({type(exc).__name__})")
            interrupted = exc
        for t in batch:  # done, and their waiters woken, when the turn is given back (_give_back_turn)
            t.error = error
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
        mine = CommitTicket(None)  # never queued: it only holds this thread's place among the sleepers
        while True:
            with self._mutex:
                if not self._busy:
                    self._busy = True
                    break
                wake = self._sleep_locked(mine)
            self._sleep(mine, wake)
        try:
            yield
        finally:
            self._give_back_turn([])

    def fail_queued(self, error: StoreError) -> None:
        """Drop writes staged after a failed batch: the memory that made them is being rebuilt."""
        with self._mutex:
            dropped, self._queue = self._queue, []
            for ticket in dropped:
                ticket.error = error
                ticket.done = True
                self._wake_locked(ticket)
