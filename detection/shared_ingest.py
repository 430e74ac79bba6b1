"""Ingest when several instances share one PostgreSQL: records go through the ingest log, judged by the leader.

Any instance accepts POSTs, the leader's own included. A request is checked as a single engine
would check it (window, ceiling, Idempotency-Key), then its counts are added in the database and
its records logged as not yet judged, in one transaction, before the answer: a 2xx is durable
whichever instance gave it. The leader judges logged records in log order (detection/cluster.py),
so the same data gives the same alerts and incidents whichever instances it was posted to: one
stream, one judge. On the leader the request's own thread judges what waits (no hand-over); on a
standby the leader is woken by NOTIFY.

The answer waits for that judging, up to ``ANSWER_WAIT_SECONDS``, and its ``alerts`` are the open
alerts of the feeds the request touched as the leader left them (a single engine answers with the
alerts the request itself changed; here the judging of several requests may be one step).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable

from .alerts import Alert
from .commit import GroupCommitter
from .ingest_log import deltas_of
from .metrics import feed_of
from .monitor import IDEMPOTENCY_SECONDS, IdempotencyConflict, IngestResult, Monitor
from .records import CountRecord
from .store_core import PendingWrite, SqlStore, StoreError

log = logging.getLogger("monitor")

ANSWER_WAIT_SECONDS = 1.0  # an answer waits this long at most for the leader to judge its records


class JudgedWaiters:
    """Answers waiting for their log rows to be judged, woken by whoever learns that they were."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: dict[int, threading.Event] = {}

    def add(self, log_id: int) -> threading.Event:
        event = threading.Event()
        with self._mutex:
            self._waiting[log_id] = event
        return event

    def remove(self, log_id: int) -> None:
        with self._mutex:
            self._waiting.pop(log_id, None)

    def ids(self) -> list[int]:
        with self._mutex:
            return list(self._waiting)

    def judged(self, ids: Iterable[int]) -> None:
        with self._mutex:
            events = [self._waiting.get(i) for i in ids]
        for event in events:
            if event is not None:
                event.set()


class SharedIngest:
    """Where a Monitor on a shared store sends its ingests (``Monitor.shared``)."""

    def __init__(self, monitor: Monitor, judge_now: Callable[[], None], waiters: JudgedWaiters,
                 clock: Callable[[], float] = time.time, answer_wait: float = ANSWER_WAIT_SECONDS):
        self.monitor = monitor
        self.store: SqlStore = monitor.store
        self._judge_now = judge_now  # the leader: judge what waits, in this thread, if no other thread is
        self.waiters = waiters
        self._clock = clock
        self.answer_wait = answer_wait
        # Records are written in groups, like the engine's (detection/commit.py), but by a committer of their own:
        # a failed group takes nothing from the engine's memory, so there is nothing to rebuild.
        self._committer = GroupCommitter(self.store, self._failed)
        self._mutex = threading.Lock()
        # Idempotency-Keys whose first request is still committing here: a retry waits for it.
        self._keys: dict[str, threading.Event] = {}

    def ingest(self, records: list[CountRecord], key: str | None, fingerprint: str) -> IngestResult:
        if key is not None:
            self._take_key(key)
        try:
            if key is not None:
                earlier = self._earlier_answer(key, fingerprint)
                if earlier is not None:
                    return earlier
            return self._store_records(records, key, fingerprint)
        finally:
            if key is not None:
                with self._mutex:
                    done = self._keys.pop(key, None)
                if done is not None:
                    done.set()

    def _take_key(self, key: str) -> None:
        """Wait until no other request with this key is in flight here, then hold it (released by ``ingest``)."""
        while True:
            with self._mutex:
                busy = self._keys.get(key)
                if busy is None:
                    self._keys[key] = threading.Event()
                    return
            busy.wait()

    def _earlier_answer(self, key: str, fingerprint: str) -> IngestResult | None:
        found = self.store.idempotent_response(key, self._clock() - IDEMPOTENCY_SECONDS)
        if found is None:
            return None
        saved_fingerprint, response = found
        if saved_fingerprint != fingerprint:
            raise IdempotencyConflict("this Idempotency-Key was already used for a different request body")
        body = json.loads(response)
        return IngestResult(body["accepted"], body["alerts"], replayed=True)

    def _store_records(self, records: list[CountRecord], key: str | None, fingerprint: str) -> IngestResult:
        if not records:
            return IngestResult(0, [])
        records = self.monitor.fold_labels(records)  # values past a dimension's cap: "other" (or a 422)
        per_metric = self.monitor.admit(records)  # RecordValidationError: nothing stored
        accepted = self.monitor.accepted_count(records)
        write = PendingWrite(counts={}, alerts=[], deleted_alerts=[], rule_states={}, meta={},
                             count_deltas=deltas_of(records), judged=False)
        if key is not None:
            # A replay answers with the count and no alerts: what the leader made of it is in /api/alerts.
            write.idempotency = (key, fingerprint, self._clock(), json.dumps({"accepted": accepted, "alerts": []}))
        self.monitor.count_ingested(per_metric)
        try:
            self._committer.wait(self._committer.stage(write))
        except StoreError:
            self.monitor.count_ingested(per_metric, -1)
            raise
        if write.key_taken:  # the same key, stored a moment ago by another instance: its answer is this one's
            self.monitor.count_ingested(per_metric, -1)
            assert key is not None
            earlier = self._earlier_answer(key, fingerprint)
            if earlier is None:  # expired in between: 24 h after it was stored
                raise StoreError(f"Idempotency-Key {key!r} was taken and released meanwhile; retry")
            return earlier
        if write.log_id is not None:
            self._wait_judged(write.log_id)
        return IngestResult(accepted, [a.to_dict() for a in self._open_alerts({r.feed for r in records})])

    @staticmethod
    def _failed(error: StoreError) -> None:
        log.warning("shared ingest: a group of requests was not stored (each was answered 503): %s", error)

    def _open_alerts(self, feeds: set[str]) -> list[Alert]:
        try:
            return [a for a in self.store.open_alerts() if feed_of(a.metric) in feeds]
        except StoreError:
            return []  # the records are stored: the answer stands without the alerts

    def _wait_judged(self, log_id: int) -> bool:
        judged = self.waiters.add(log_id)
        deadline = time.monotonic() + self.answer_wait
        try:
            while not judged.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if self.monitor.judging:
                    self._judge_now()  # returns at once if another thread is judging: then wait a little
                judged.wait(min(left, 0.01 if self.monitor.judging else left))
            return True
        finally:
            self.waiters.remove(log_id)
