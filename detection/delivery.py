"""Notification delivery off the ingest path: a bounded queue, a dispatcher, and one sender thread per channel.

The Monitor calls ``Delivery.listener`` after each commit; it only puts the
transitions on a bounded queue (a full queue drops them from memory, and the
next reconcile finds them in the store). The dispatcher thread records each
new transition in the outbox (once per alert and kind), applies silences and
``send_resolved``, and hands the rest to each channel's sender. A sender
waits ``group_wait`` so alerts that change together go out as one message,
then tries with a timeout and exponential backoff, and logs every attempt. A
slow or dead receiver only holds up its own sender thread. Still-firing alerts
are repeated after ``repeat_interval``. At start, and whenever the queue
overflowed, a reconcile re-sends whatever the store says was committed but
never finished: delivery is at-least-once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

from .alerts import FIRING, RESOLVED, Alert, Transition
from .channels import Channel, DeliveryError, Notice, Notification
from .delivery_log import (
    DELIVERED,
    ERROR,
    FAILED,
    REPEAT,
    SILENCED,
    SKIPPED,
    DeliveryLog,
    LogRecord,
    OutboxEntry,
)
from .notify_config import DeliverySettings
from .silences import Silences
from .store import Store, StoreError

log = logging.getLogger("monitor.delivery")

PRUNE_EVERY_SECONDS = 3600.0



class DeliveryStats(TypedDict):
    """What /metrics and the API read from the worker."""

    outcomes: dict[tuple[str, str], int]
    dropped: int
    queue_depth: int
    pending: dict[str, int]
    running: bool


@dataclass(frozen=True)
class _Item:
    """One alert waiting to go to one channel."""

    kind: str  # firing, resolved or repeat
    alert: Alert
    outbox_id: int | None
    queued_at: float


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    dropped: int = 0

    def add(self, channel: str, outcome: str, n: int = 1) -> None:
        with self.lock:
            self.outcomes[(channel, outcome)] = self.outcomes.get((channel, outcome), 0) + n


class ChannelSender:
    """The thread that owns one channel: groups what is waiting, sends it, retries, logs."""

    def __init__(self, channel: Channel, delivery: Delivery):
        self.channel = channel
        self._delivery = delivery
        self._pending: list[_Item] = []
        self._busy: list[_Item] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"notify-{channel.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    def add(self, items: Sequence[_Item]) -> None:
        with self._cond:
            self._pending.extend(items)
            self._cond.notify_all()

    def held_alerts(self) -> set[str]:
        """Alerts with a notice waiting in or being sent by this sender."""
        with self._cond:
            return {i.alert.id for i in (*self._pending, *self._busy)}

    def held(self) -> set[int]:
        """Outbox rows waiting in or being sent by this sender (their final outcome is not recorded yet)."""
        with self._cond:
            return {i.outbox_id for i in (*self._pending, *self._busy) if i.outbox_id is not None}

    def depth(self) -> int:
        with self._cond:
            return len(self._pending) + len(self._busy)

    def _take(self) -> list[_Item] | None:
        """Wait for work, then for the group_wait of the oldest item; None when stopping."""
        stop = self._delivery.stopping
        wait = self._delivery.settings.group_wait_seconds
        with self._cond:
            while not self._pending:
                if stop.is_set():
                    return None
                self._cond.wait(0.5)
            due = self._pending[0].queued_at + wait
        while not stop.is_set():
            left = due - time.monotonic()
            if left <= 0:
                break
            stop.wait(min(left, 0.5))
        if stop.is_set():
            return None
        with self._cond:
            items, self._pending = self._pending, []
            self._busy = items
            return items

    def _run(self) -> None:
        while True:
            items = self._take()
            if items is None:
                return
            try:
                self._send(items)
            except Exception:  # a bug in a channel must not end its thread; the outbox keeps the work
                log.exception("channel %s: unexpected error while sending", self.channel.name)
            finally:
                with self._cond:
                    self._busy = []

    def _send(self, items: list[_Item]) -> None:
        delivery = self._delivery
        settings = delivery.settings
        notification = Notification(_notices(items), delivery.dashboard_url)
        name = self.channel.name
        for attempt in range(1, settings.max_attempts + 1):
            try:
                self.channel.send(notification, settings.timeout_seconds)
            except DeliveryError as exc:
                last = attempt == settings.max_attempts
                records = [LogRecord(name, i.alert.id, i.kind, attempt, ERROR, str(exc), i.outbox_id) for i in items]
                if last:
                    records += [LogRecord(name, i.alert.id, i.kind, attempt, FAILED,
                                          f"gave up after {attempt} attempts: {exc}", i.outbox_id) for i in items]
                delivery.record(records)
                if last:
                    log.error("channel %s: %d notice(s) failed after %d attempts: %s", name, len(items), attempt, exc)
                    return
                pause = min(settings.backoff_seconds * (2 ** (attempt - 1)), settings.backoff_max_seconds)
                if delivery.stopping.wait(pause):
                    return  # not finished: the outbox row stays open and is sent after the restart
            else:
                delivery.record([LogRecord(name, i.alert.id, i.kind, attempt, DELIVERED, "", i.outbox_id) for i in items])
                return


def _notices(items: Sequence[_Item]) -> tuple[Notice, ...]:
    """One notice per alert: an alert that fired and resolved within one group goes out once, as resolved."""
    by_alert: dict[str, Notice] = {}
    for item in items:
        kind = RESOLVED if item.kind == RESOLVED else FIRING
        notice = Notice(kind, item.alert, repeat=item.kind == REPEAT)
        earlier = by_alert.get(item.alert.id)
        if earlier is None or kind == RESOLVED or earlier.kind != RESOLVED:
            by_alert[item.alert.id] = notice
    return tuple(by_alert.values())


class Delivery:
    """Owns the queue, the dispatcher and the senders. ``start()`` / ``stop()`` from the composition root."""

    def __init__(
        self,
        store: Store,
        channels: Sequence[Channel],
        settings: DeliverySettings,
        silences: Silences,
        dashboard_url: str = "",
        clock: Callable[[], float] = time.time,
    ):
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique, got {names}")
        self.store = store
        self.channels = tuple(channels)
        self.settings = settings
        self.silences = silences
        self.dashboard_url = dashboard_url
        self.log = DeliveryLog(store)
        self._clock = clock
        self._queue: queue.Queue[Sequence[Transition] | None] = queue.Queue(maxsize=settings.queue_size)
        self._needs_reconcile = threading.Event()
        self.stopping = threading.Event()
        self._counters = _Counters()
        self._senders = {c.name: ChannelSender(c, self) for c in channels}
        self._dispatcher = threading.Thread(target=self._run, name="notify-dispatcher", daemon=True)
        self._started = False
        self._reconciled = threading.Condition()
        self._reconciles = 0  # reconcile passes the dispatcher has finished; wait_settled counts them

    # ------------------------------------------------------------ ingest side
    def listener(self, transitions: Sequence[Transition]) -> None:
        """Monitor listener: runs on the ingesting thread, so it only enqueues and never blocks."""
        wanted = [t for t in transitions if t.kind in (FIRING, RESOLVED)]
        if not wanted or not self._started or self.stopping.is_set():
            return  # not running: the reconcile at start finds these in the store
        try:
            self._queue.put_nowait(wanted)
        except queue.Full:
            # Nothing is lost: the transitions are committed in the store and the next reconcile sends them.
            with self._counters.lock:
                self._counters.dropped += len(wanted)
            self._needs_reconcile.set()

    # ------------------------------------------------------------- lifecycle
    def start(self) -> Delivery:
        if self._started:
            return self
        self._started = True
        for sender in self._senders.values():
            sender.start()
        self._needs_reconcile.set()  # whatever was committed but not delivered before this start
        self._dispatcher.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads; what is not delivered stays open in the outbox for the next start."""
        if not self._started:
            return
        self.stopping.set()
        with contextlib.suppress(queue.Full):  # if full, the dispatcher sees ``stopping`` within its poll interval
            self._queue.put_nowait(None)
        self._dispatcher.join(timeout)
        for sender in self._senders.values():
            sender.join(timeout)

    # ------------------------------------------------------------ dispatcher
    def _run(self) -> None:
        last_periodic = 0.0
        last_prune = time.monotonic()
        poll = min(1.0, self.settings.reconcile_seconds)
        while not self.stopping.is_set():
            batch: list[Transition] = []
            with contextlib.suppress(queue.Empty):  # empty: nothing (more) waiting
                first = self._queue.get(timeout=poll)
                if first is not None:
                    batch.extend(first)
                while True:  # take everything already waiting: one outbox transaction for all of it
                    more = self._queue.get_nowait()
                    if more is not None:
                        batch.extend(more)
            if self.stopping.is_set():
                return
            try:
                if batch:
                    self._dispatch(self.log.add_transitions([(t.kind, t.alert) for t in batch], self._clock()))
                now = time.monotonic()
                if self._needs_reconcile.is_set() or now - last_periodic >= self.settings.reconcile_seconds:
                    last_periodic = now
                    self._needs_reconcile.clear()
                    self.reconcile()
                    self._repeat_firing()
                    with self._reconciled:
                        self._reconciles += 1
                        self._reconciled.notify_all()
                if now - last_prune >= PRUNE_EVERY_SECONDS:
                    last_prune = now
                    self.log.prune(self._clock() - self.settings.log_retention_days * 86400)
            except StoreError:
                log.exception("delivery: store error; will retry from the outbox")
                self._needs_reconcile.set()
                self.stopping.wait(poll)
            except Exception:  # the dispatcher must survive anything; the outbox keeps the work
                log.exception("delivery: unexpected error in the dispatcher")
                self._needs_reconcile.set()
                self.stopping.wait(poll)

    def reconcile(self) -> None:
        """Put committed transitions the outbox lacks into it, and re-route open rows not held by a sender."""
        missing = self.log.missing_transitions()
        if missing:
            self.log.add_transitions(missing, self._clock())
        # Read what the senders hold before reading the log: a sender records its outcome before it lets go.
        held = {name: sender.held() for name, sender in self._senders.items()}
        for entry, finished in self.log.open_entries():
            channels = [c for c in self.channels if c.name not in finished and entry.id not in held[c.name]]
            if channels:
                self._dispatch([entry], channels)

    def _dispatch(self, entries: Sequence[OutboxEntry], channels: Sequence[Channel] | None = None) -> None:
        channels = self.channels if channels is None else channels
        now = self._clock()
        queued_at = time.monotonic()
        finals: list[LogRecord] = []
        per_channel: dict[str, list[_Item]] = {}
        for entry in entries:
            silenced_by = self.silences.silenced_by(entry.alert, now)
            for channel in channels:
                if entry.kind == RESOLVED and not channel.send_resolved:
                    finals.append(LogRecord(channel.name, entry.alert.id, entry.kind, 0, SKIPPED,
                                            "send_resolved is off for this channel", entry.id))
                elif silenced_by:
                    finals.append(LogRecord(channel.name, entry.alert.id, entry.kind, 0, SILENCED,
                                            f"silenced by {', '.join(silenced_by)}", entry.id))
                elif entry.kind == RESOLVED and self.log.firing_was_silenced(entry.alert.id, channel.name):
                    finals.append(LogRecord(channel.name, entry.alert.id, entry.kind, 0, SKIPPED,
                                            "its firing notice was silenced, so nobody was told it fired", entry.id))
                else:
                    per_channel.setdefault(channel.name, []).append(_Item(entry.kind, entry.alert, entry.id, queued_at))
            if silenced_by:
                log.info("%s alert %s (%s) is silenced by %s; nothing sent",
                         entry.kind, entry.alert.id, entry.alert.rule, ", ".join(silenced_by))
        self.record(finals)
        for name, items in per_channel.items():
            self._senders[name].add(items)

    def _repeat_firing(self) -> None:
        """Remind of still-firing alerts after repeat_interval; tell of ones whose silence has ended."""
        firing = [a for a in self.store.open_alerts() if a.state == FIRING]
        if not firing:
            return
        now = self._clock()
        # What the senders hold is read before the log, as in reconcile(): a sender records its outcome
        # before it lets go, so a notice delivered between the two reads is seen as held, never as unsent.
        held = {name: sender.held_alerts() for name, sender in self._senders.items()}
        outcomes = self.log.last_firing_outcomes([a.id for a in firing])
        queued_at = time.monotonic()
        for alert in firing:
            if self.silences.silenced_by(alert, now):
                continue
            for channel in self.channels:
                seen = outcomes.get((alert.id, channel.name))
                if not seen or alert.id in held[channel.name]:
                    continue  # not dispatched yet (the outbox will), or on its way
                sent = max([seen[o] for o in (DELIVERED, FAILED) if o in seen], default=None)
                if sent is None:
                    if SILENCED in seen:  # silenced when it fired, the silence is over, it still fires
                        self._senders[channel.name].add([_Item(FIRING, alert, None, queued_at)])
                elif now - sent >= self.settings.repeat_interval_seconds:
                    self._senders[channel.name].add([_Item(REPEAT, alert, None, queued_at)])

    def wait_settled(self, timeout: float) -> bool:
        """Wait until nothing more will go out: True once settled, False if ``timeout`` seconds pass first.

        Settled means a reconcile pass that began after this call has finished, and then the queue is
        empty, no sender holds or is sending a notice (each records its outcome before it lets go), and
        every committed transition has a final outcome on every channel. Only a new transition, a
        repeat after ``repeat_interval`` or a silence that ends can send anything after that.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._reconciled:
                # Two passes: the first may have begun before this call.
                target = self._reconciles + 2
                asked_at = -1
                while self._reconciles < target:
                    if asked_at != self._reconciles:  # ask (and wake the dispatcher) once per pass
                        asked_at = self._reconciles
                        self._needs_reconcile.set()
                        with contextlib.suppress(queue.Full):  # a None only wakes a running dispatcher
                            self._queue.put_nowait(None)
                    left = deadline - time.monotonic()
                    if left <= 0 or self.stopping.is_set() or not self._dispatcher.is_alive():
                        return False
                    self._reconciled.wait(min(left, 0.5))
            with self._queue.mutex:
                queued = any(item is not None for item in self._queue.queue)
            if (not queued and not any(s.depth() for s in self._senders.values())
                    and not self.log.open_entries() and not self.log.missing_transitions()):
                return True
            if time.monotonic() >= deadline:
                return False

    # ----------------------------------------------------------------- record
    def record(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        self.log.record(records, self._clock(), [c.name for c in self.channels])
        for r in records:
            self._counters.add(r.channel, r.outcome)

    # ------------------------------------------------------------------ read
    def stats(self) -> DeliveryStats:
        """For /metrics and the API: outcome counts since start, queue depths, dropped transitions."""
        with self._counters.lock:
            outcomes = dict(self._counters.outcomes)
            dropped = self._counters.dropped
        return {
            "outcomes": outcomes,
            "dropped": dropped,
            "queue_depth": self._queue.qsize(),
            "pending": {name: s.depth() for name, s in self._senders.items()},
            "running": self._started and not self.stopping.is_set(),
        }
