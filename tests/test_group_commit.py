"""The group committer on a real SQLite store held mid-write: who waits for what, and what each waiter is told.

A gate in ``write_many`` holds a batch inside the store, so a test can stage more writes and start more
waiters while it is being written, then let it finish (or fail) and see who returns with which outcome.
"""

from __future__ import annotations

import threading

import pytest

from detection.commit import CommitTicket, GroupCommitter
from detection.store import PendingWrite, Store, StoreError

from .delivery_support import wait_until

T0 = 29_000_000


def write(minute: int, failed: int = 1) -> PendingWrite:
    return PendingWrite(counts={("status", minute): {"status:failed": failed}}, alerts=[], deleted_alerts=[],
                        rule_states={}, meta={})


class GatedStore(Store):
    """A real SQLite store whose write of a batch touching a gated minute waits until that gate opens,
    and fails (after its statements ran, so the rollback matters) when the minute is in ``failing``."""

    def __init__(self, path: str, gated: set[int], failing: frozenset[int] = frozenset()):
        super().__init__(path)
        self.gates = {minute: threading.Event() for minute in gated}
        self.held: list[list[int]] = []  # batches (their minutes) that reached a gate
        self.failing = failing
        self.batches: list[list[int]] = []  # every batch written, in order

    def write_many(self, changes: list[PendingWrite]) -> None:
        minutes = [minute for change in changes for _feed, minute in change.counts]
        self.batches.append(minutes)
        for minute in minutes:
            if minute in self.gates:
                self.held.append(minutes)
                assert self.gates[minute].wait(60), "a gate was never opened"
        if self.failing.intersection(minutes):
            raise StoreError("store write failed: database or disk is full")
        super().write_many(changes)


class Waiter(threading.Thread):
    """``committer.wait(ticket)`` in its own thread, keeping what it returned or raised."""

    def __init__(self, committer: GroupCommitter, ticket: CommitTicket):
        super().__init__(daemon=True)
        self.committer, self.ticket = committer, ticket
        self.error: BaseException | None = None
        self.returned = threading.Event()

    def run(self) -> None:
        try:
            self.committer.wait(self.ticket)
        except BaseException as exc:  # kept for the test's assertions
            self.error = exc
        self.returned.set()


def stored(store: Store) -> list[tuple[str, int, int]]:
    return sorted(store.counts_since(0))


def test_a_waiter_whose_batch_is_written_answers_while_the_next_batch_is_still_being_written(tmp_path):
    """It must not queue behind a batch that does not hold its write (the old commit lock made it)."""
    store = GatedStore(str(tmp_path / "m.db"), gated={T0, T0 + 2})
    committer = GroupCommitter(store, on_failure=lambda error: None)
    first, second = committer.stage(write(T0)), committer.stage(write(T0 + 1))
    leader = Waiter(committer, first)
    leader.start()
    wait_until(lambda: store.held == [[T0, T0 + 1]], what="the first batch held inside the store")
    follower = Waiter(committer, second)  # its write is in the batch being written: it sleeps until that is done
    follower.start()
    wait_until(lambda: committer.waiting() == 1, what="the follower asleep")
    third = committer.stage(write(T0 + 2))
    late = Waiter(committer, third)
    late.start()
    wait_until(lambda: committer.waiting() == 2, what="the late waiter asleep")

    store.gates[T0].set()  # the first batch commits; the late waiter takes the turn and is held at T0 + 2
    wait_until(lambda: len(store.held) == 2, what="the second batch held inside the store")
    assert store.held[1] == [T0 + 2]
    assert leader.returned.wait(60) and follower.returned.wait(60)  # while the second batch is still held
    assert (leader.error, follower.error) == (None, None)
    assert not late.returned.is_set()
    assert stored(store) == [("status:failed", T0, 1), ("status:failed", T0 + 1, 1)]

    store.gates[T0 + 2].set()
    assert late.returned.wait(60) and late.error is None
    assert store.batches == [[T0, T0 + 1], [T0 + 2]]  # queue order kept, one transaction per turn
    assert stored(store)[-1] == ("status:failed", T0 + 2, 1)
    store.close()


def test_a_waiter_woken_by_a_failed_batch_raises_that_batchs_error_and_nothing_of_it_is_stored(tmp_path):
    store = GatedStore(str(tmp_path / "m.db"), gated={T0}, failing=frozenset({T0 + 1}))
    failures: list[StoreError] = []
    committer = GroupCommitter(store, on_failure=failures.append)
    first, second = committer.stage(write(T0)), committer.stage(write(T0 + 1))
    leader = Waiter(committer, first)
    leader.start()
    wait_until(lambda: store.held == [[T0, T0 + 1]], what="the batch held inside the store")
    follower = Waiter(committer, second)
    follower.start()
    wait_until(lambda: committer.waiting() == 1, what="the follower asleep")

    store.gates[T0].set()
    assert leader.returned.wait(60) and follower.returned.wait(60)
    assert isinstance(follower.error, StoreError) and "disk is full" in str(follower.error)
    assert leader.error is follower.error  # one batch, one outcome: the same error for every ticket in it
    assert failures == [follower.error]  # the engine is told once, by the thread that wrote the batch
    assert stored(store) == []
    store.close()


def test_a_waiter_of_a_write_dropped_after_a_failure_is_woken_with_the_failure(tmp_path):
    """on_failure drops what was staged behind the failed batch: its sleeping waiter must wake and raise."""
    store = GatedStore(str(tmp_path / "m.db"), gated={T0}, failing=frozenset({T0}))
    # a lambda: the committer it calls does not exist yet when it is made
    committer = GroupCommitter(store, on_failure=lambda error: committer.fail_queued(error))  # noqa: PLW0108
    first = committer.stage(write(T0))
    leader = Waiter(committer, first)
    leader.start()
    wait_until(lambda: store.held == [[T0]], what="the batch held inside the store")
    behind = committer.stage(write(T0 + 1))  # staged after the batch was taken: not in it
    follower = Waiter(committer, behind)
    follower.start()
    wait_until(lambda: committer.waiting() == 1, what="the follower asleep")

    store.gates[T0].set()
    assert leader.returned.wait(60) and follower.returned.wait(60)
    assert isinstance(follower.error, StoreError) and follower.error is leader.error
    assert store.batches == [[T0]]  # the dropped write never reached the store
    assert stored(store) == []
    store.close()


def test_every_waiter_of_one_ticket_is_woken(tmp_path):
    """Retries of an idempotent request still committing all wait for the first request's ticket."""
    store = GatedStore(str(tmp_path / "m.db"), gated={T0})
    committer = GroupCommitter(store, on_failure=lambda error: None)
    first = committer.stage(write(T0))
    leader = Waiter(committer, first)
    leader.start()
    wait_until(lambda: store.held == [[T0]], what="the batch held inside the store")
    retries = [Waiter(committer, first) for _ in range(3)]
    for retry in retries:
        retry.start()
    wait_until(lambda: committer.waiting() == 3, what="three retries asleep on the same ticket")
    store.gates[T0].set()
    for waiter in [leader, *retries]:
        assert waiter.returned.wait(60) and waiter.error is None
    assert committer.waiting() == 0
    assert store.batches == [[T0]]
    store.close()


def test_no_batch_is_written_while_paused_and_a_waiter_commits_once_the_pause_ends(tmp_path):
    store = GatedStore(str(tmp_path / "m.db"), gated=set())
    committer = GroupCommitter(store, on_failure=lambda error: None)
    ticket = committer.stage(write(T0))
    waiter = Waiter(committer, ticket)
    with committer.paused():
        waiter.start()
        wait_until(lambda: committer.waiting() == 1, what="the waiter asleep behind the pause")
        assert store.batches == [] and not ticket.done
    assert waiter.returned.wait(60) and waiter.error is None
    assert stored(store) == [("status:failed", T0, 1)]
    store.close()


def test_an_interrupted_write_fails_its_batch_and_gives_the_turn_back(tmp_path):
    """A KeyboardInterrupt inside the write reaches the thread that wrote; the next write still goes through."""

    class Interrupted(Store):
        interrupt = True

        def write_many(self, changes: list[PendingWrite]) -> None:
            if self.interrupt:
                self.interrupt = False
                raise KeyboardInterrupt
            super().write_many(changes)

    store = Interrupted(str(tmp_path / "m.db"))
    committer = GroupCommitter(store, on_failure=lambda error: None)
    ticket = committer.stage(write(T0))
    with pytest.raises(KeyboardInterrupt):
        committer.wait(ticket)
    assert isinstance(ticket.error, StoreError) and "interrupted" in str(ticket.error)
    assert not committer.committing
    later = committer.stage(write(T0 + 1))
    committer.wait(later)  # would sleep for ever if the interrupted writer had kept the turn
    assert later.done and later.error is None
    assert stored(store) == [("status:failed", T0 + 1, 1)]
    store.close()


def test_a_failed_batchs_waiters_are_answered_only_after_the_engine_was_told(tmp_path):
    """on_failure rebuilds the engine's memory: nobody may answer (or write from stale memory) before it is done."""
    store = GatedStore(str(tmp_path / "m.db"), gated=set(), failing=frozenset({T0}))
    rebuilding, rebuilt = threading.Event(), threading.Event()

    def on_failure(error: StoreError) -> None:
        rebuilding.set()
        assert rebuilt.wait(60), "the test never let the rebuild finish"

    committer = GroupCommitter(store, on_failure=on_failure)
    first, second = committer.stage(write(T0)), committer.stage(write(T0 + 1))
    leader = Waiter(committer, first)
    leader.start()
    assert rebuilding.wait(60)
    follower = Waiter(committer, second)  # its write is in the failed batch
    follower.start()
    wait_until(lambda: committer.waiting() == 1, what="the follower asleep")
    assert not second.done and not follower.returned.is_set()  # failed, but not finished while the engine rebuilds
    rebuilt.set()
    assert leader.returned.wait(60) and follower.returned.wait(60)
    assert isinstance(follower.error, StoreError) and follower.error is leader.error
    assert stored(store) == []
    store.close()
