"""Notification delivery off the ingest path: per incident, a bounded queue, a dispatcher, one sender per channel.

The incident tracker calls ``Delivery.incident_listener`` after each commit
with what happened to each incident (opened, escalated, resolved); it only
puts them on a bounded queue (a full queue drops them from memory, and the
next reconcile finds them in the store). The dispatcher thread records each
new transition in the outbox (once per incident, kind and revision), applies
silences and ``send_resolved``, and hands the rest to each channel's sender.
A sender waits ``group_wait`` so that what happens to one incident in quick
succession goes out as one message, then tries with a timeout and exponential
backoff, and logs every attempt. A slow or dead receiver only holds up its own
sender thread. Open incidents are repeated after ``repeat_interval``, unless an
analyst acknowledged them (``acknowledged``): someone is on it. A channel with
``resend_seconds`` (Alertmanager, which forgets alerts nobody refreshes) gets
open incidents again at that interval instead, acknowledged or not. At
start, and whenever the queue overflowed, a reconcile re-sends whatever the
store says was committed but never finished: delivery is at-least-once.

Silences match alerts (rule, metric, severity). An incident is silenced when
every one of its member alerts is: one unsilenced member is enough to page,
since it may be the symptom nobody planned for. An incident without member
alerts in the store is never silenced.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypedDict

from .alerts import Alert
from .channels import Channel, DeliveryError
from .delivery_log import (
    DELIVERED,
    ERROR,
    FAILED,
    SILENCED,
    SKIPPED,
    DeliveryLog,
    IncidentSource,
    LogRecord,
    OutboxEntry,
)
from .incident_actions import Acknowledgement
from .incident_message import REPEAT, Notification
from .incidents import ESCALATED, INCIDENT_TRANSITIONS, OPENED, RESOLVED_TRANSITION, Incident, IncidentTransition
from .metrics import epoch_to_iso
from .notify_config import DeliverySettings
from .silences import Silences
from .store import SqlStore, StoreError

log = logging.getLogger("monitor.delivery")

PRUNE_EVERY_SECONDS = 3600.0
# Which message stands for a group of transitions of one incident sent together: the latest news wins.
_PRECEDENCE = (REPEAT, ESCALATED, OPENED, RESOLVED_TRANSITION)


class DeliveryStats(TypedDict):
    """What /metrics and the API read from the worker."""

    outcomes: dict[tuple[str, str], int]
    dropped: int
    queue_depth: int
    pending: dict[str, int]
    running: bool


@dataclass(frozen=True)
class _Item:
    """One incident transition (or reminder) waiting to go to one channel."""

    kind: str  # opened, escalated, resolved or repeat
    incident: Incident
    alerts: tuple[Alert, ...]
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
    """The thread that owns one channel: groups what is waiting per incident, sends it, retries, logs."""

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

    def held_incidents(self) -> set[str]:
        """Incidents with a message waiting in or being sent by this sender."""
        with self._cond:
            return {i.incident.id for i in (*self._pending, *self._busy)}

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
        wait = _group_wait(self.channel, self._delivery.settings)
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
                for group in _per_incident(items):
                    if self._delivery.stopping.is_set():
                        break  # not finished: the outbox rows stay open and are sent after the restart
                    self._send(group)
            except Exception:  # a bug in a channel must not end its thread; the outbox keeps the work
                log.exception("channel %s: unexpected error while sending", self.channel.name)
            finally:
                with self._cond:
                    self._busy = []

    def _send(self, items: list[_Item]) -> None:
        delivery = self._delivery
        settings = delivery.settings
        notification = delivery.with_acknowledgement(_notification(items, delivery.dashboard_url))
        name = self.channel.name
        incident_id = notification.incident.id
        for attempt in range(1, settings.max_attempts + 1):
            try:
                self.channel.send(notification, settings.timeout_seconds)
            except DeliveryError as exc:
                last = attempt == settings.max_attempts
                records = [LogRecord(name, incident_id, i.kind, attempt, ERROR, str(exc), i.outbox_id) for i in items]
                if last:
                    records += [LogRecord(name, incident_id, i.kind, attempt, FAILED,
                                          f"gave up after {attempt} attempts: {exc}", i.outbox_id) for i in items]
                delivery.record(records)
                if last:
                    log.error("channel %s: the %s message of incident %s failed after %d attempts: %s",
                              name, notification.kind, incident_id, attempt, exc)
                    return
                pause = min(settings.backoff_seconds * (2 ** (attempt - 1)), settings.backoff_max_seconds)
                if delivery.stopping.wait(pause):
                    return  # not finished: the outbox row stays open and is sent after the restart
            else:
                delivery.record([LogRecord(name, incident_id, i.kind, attempt, DELIVERED, "", i.outbox_id)
                                 for i in items])
                return


def _group_wait(channel: Channel, settings: DeliverySettings) -> float:
    """The channel's own group_wait (the Alertmanager channel may leave grouping to Alertmanager), else the
    worker's."""
    own: float | None = getattr(channel, "group_wait_seconds", None)
    return settings.group_wait_seconds if own is None else own


def _resend_seconds(channel: Channel) -> float | None:
    """How often a channel that must be refreshed (Alertmanager) gets a firing incident again; None for the
    others, which are reminded after repeat_interval."""
    return getattr(channel, "resend_seconds", None)


def _per_incident(items: Sequence[_Item]) -> list[list[_Item]]:
    """The waiting items, one group per incident, in the order the incidents first appear."""
    groups: dict[str, list[_Item]] = {}
    for item in items:
        groups.setdefault(item.incident.id, []).append(item)
    return list(groups.values())


def _notification(items: Sequence[_Item], dashboard_url: str) -> Notification:
    """One message for one incident's waiting items: the newest state, under the latest news (an incident that
    opened and resolved within one group_wait goes out once, as resolved)."""
    kind = max((i.kind for i in items), key=_PRECEDENCE.index)
    newest = items[-1]
    return Notification(kind, newest.incident, newest.alerts, dashboard_url)


class Delivery:
    """Owns the queue, the dispatcher and the senders. ``start()`` / ``stop()`` from the composition root.

    ``incidents`` is where a reconcile finds committed incidents (the tracker's table); without it, a
    restart still re-sends what reached the outbox, but a transition dropped from a full queue or lost in
    a crash before it reached the outbox is not found again.
    """

    def __init__(
        self,
        store: SqlStore,
        channels: Sequence[Channel],
        settings: DeliverySettings,
        silences: Silences,
        dashboard_url: str = "",
        clock: Callable[[], float] = time.time,
        incidents: IncidentSource | None = None,
        acknowledged: Callable[[Sequence[str]], Mapping[str, Acknowledgement]] | None = None,
    ):
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique, got {names}")
        self.store = store
        self.channels = tuple(channels)
        self.settings = settings
        self.silences = silences
        self.dashboard_url = dashboard_url
        self.incidents = incidents
        # Which of some incident ids an analyst acknowledged (detection.incident_actions): no reminders for them.
        self.acknowledged = acknowledged
        self.log = DeliveryLog(store, incidents)
        self._clock = clock
        self._queue: queue.Queue[Sequence[IncidentTransition] | None] = queue.Queue(maxsize=settings.queue_size)
        self._needs_reconcile = threading.Event()
        self._full_scan = threading.Event()  # read resolved incidents too at the next reconcile
        self._full_scan.set()  # at start: whatever was committed while nobody listened
        self.stopping = threading.Event()
        self._counters = _Counters()
        self._senders = {c.name: ChannelSender(c, self) for c in channels}
        self._dispatcher = threading.Thread(target=self._run, name="notify-dispatcher", daemon=True)
        self._started = False
        # Cleared while another instance leads (detection/cluster.py): only the leader delivers.
        self._serving = threading.Event()
        self._serving.set()
        self._reconciled = threading.Condition()
        self._reconciles = 0  # reconcile passes the dispatcher has finished; wait_settled counts them
        # Reminders are looked for at each reconcile, and more often when a channel must be refreshed: a
        # tenth of its interval, so a refresh is at most that late.
        resends = [r for r in (_resend_seconds(c) for c in channels) if r is not None]
        self._repeat_every = min([settings.reconcile_seconds, *(r / 10 for r in resends)])

    # ------------------------------------------------------------ ingest side
    def incident_listener(self, transitions: Sequence[IncidentTransition]) -> None:
        """Incident tracker listener: runs on the ingesting thread, so it only enqueues and never blocks."""
        wanted = [t for t in transitions if t.kind in INCIDENT_TRANSITIONS]
        if not wanted or not self._started or self.stopping.is_set() or not self._serving.is_set():
            return  # not running: the reconcile at start finds these in the store
        try:
            self._queue.put_nowait(wanted)
        except queue.Full:
            # Nothing is lost: the incidents are committed in the store and the next full reconcile sends them.
            with self._counters.lock:
                self._counters.dropped += len(wanted)
            self._full_scan.set()
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

    def pause(self) -> None:
        """Deliver nothing until ``resume`` (this instance no longer leads); what is open stays in the outbox."""
        self._serving.clear()

    def resume(self) -> None:
        """Deliver again (this instance leads): first a full reconcile, as at start."""
        self._full_scan.set()
        self._needs_reconcile.set()
        self._serving.set()

    @property
    def serving(self) -> bool:
        return self._serving.is_set()

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
        last_repeat = 0.0
        last_prune = time.monotonic()
        poll = min(1.0, self.settings.reconcile_seconds)
        while not self.stopping.is_set():
            if not self._serving.is_set():
                # Another instance leads and delivers. What this one had queued is dropped from memory: the
                # leader's reconcile finds it in the store.
                with contextlib.suppress(queue.Empty):
                    while True:
                        self._queue.get_nowait()
                self._serving.wait(poll)
                continue
            batch: list[IncidentTransition] = []
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
                    self._dispatch(self.log.add_transitions([(t.kind, t.incident) for t in batch], self._clock()))
                now = time.monotonic()
                if self._needs_reconcile.is_set() or now - last_periodic >= self.settings.reconcile_seconds:
                    last_periodic = now
                    self._needs_reconcile.clear()
                    last_repeat = now
                    self.reconcile()
                    self._repeat_open()
                    with self._reconciled:
                        self._reconciles += 1
                        self._reconciled.notify_all()
                elif now - last_repeat >= self._repeat_every:
                    last_repeat = now
                    self._repeat_open()
                if now - last_prune >= PRUNE_EVERY_SECONDS:
                    last_prune = now
                    kept = None if self.incidents is None else {i.id for i in self.incidents(True)}
                    self.log.prune(self._clock() - self.settings.log_retention_days * 86400, kept)
            except StoreError:
                log.exception("delivery: store error; will retry from the outbox")
                self._full_scan.set()  # the batch taken off the queue may not have reached the outbox
                self._needs_reconcile.set()
                self.stopping.wait(poll)
            except Exception:  # the dispatcher must survive anything; the outbox keeps the work
                log.exception("delivery: unexpected error in the dispatcher")
                self._full_scan.set()
                self._needs_reconcile.set()
                self.stopping.wait(poll)

    def _missing(self, full: bool) -> list[tuple[str, Incident]]:
        """Committed transitions the outbox lacks. A full scan reads resolved incidents too; the periodic pass
        reads only open ones (a resolution is only ever lost with a full queue, a crash or a store error, and
        each of those asks for a full scan)."""
        if self.incidents is None:
            return []
        return self.log.missing_transitions(self.incidents(full))

    def reconcile(self) -> None:
        """Put committed transitions the outbox lacks into it, and re-route open rows not held by a sender."""
        # Cleared before the store is read: a request made after this line is served by the next pass, and
        # one made before it is about a commit this pass's read already sees.
        full = self._full_scan.is_set()
        self._full_scan.clear()
        missing = self._missing(full)  # on a store error the dispatcher asks for a full scan again
        if missing:
            self.log.add_transitions(missing, self._clock())
        # Read what the senders hold before reading the log: a sender records its outcome before it lets go.
        held = {name: sender.held() for name, sender in self._senders.items()}
        for entry, finished in self.log.open_entries():
            channels = [c for c in self.channels if c.name not in finished and entry.id not in held[c.name]]
            if channels:
                self._dispatch([entry], channels)

    def silenced_by(self, alerts: Sequence[Alert], now: float) -> list[str]:
        """The silences muting an incident: empty unless every member alert is silenced (see the module doc)."""
        if not alerts:
            return []
        found: dict[str, None] = {}
        for alert in alerts:
            ids = self.silences.silenced_by(alert, now)
            if not ids:
                return []
            found.update(dict.fromkeys(ids))
        return list(found)

    def with_acknowledgement(self, notification: Notification) -> Notification:
        """The message, saying who acknowledged its incident (and when) if anyone did."""
        if self.acknowledged is None:
            return notification
        try:
            ack = self.acknowledged([notification.incident.id]).get(notification.incident.id)
        except StoreError:  # the message matters more than who is on it
            log.exception("delivery: cannot read the acknowledgement of incident %s", notification.incident.id)
            return notification
        if ack is None:
            return notification
        return replace(notification, acknowledged_by=f"{ack.by} at {epoch_to_iso(ack.at)}")

    def _dispatch(self, entries: Sequence[OutboxEntry], channels: Sequence[Channel] | None = None) -> None:
        channels = self.channels if channels is None else channels
        now = self._clock()
        queued_at = time.monotonic()
        finals: list[LogRecord] = []
        per_channel: dict[str, list[_Item]] = {}
        for entry in entries:
            incident = entry.incident
            silenced_by = self.silenced_by(entry.alerts, now)
            resolved = entry.kind == RESOLVED_TRANSITION
            for channel in channels:
                if resolved and not channel.send_resolved:
                    finals.append(LogRecord(channel.name, incident.id, entry.kind, 0, SKIPPED,
                                            "send_resolved is off for this channel", entry.id))
                elif silenced_by:
                    finals.append(LogRecord(channel.name, incident.id, entry.kind, 0, SILENCED,
                                            f"every member alert is silenced, by {', '.join(silenced_by)}", entry.id))
                elif resolved and self.log.opening_was_silenced(incident.id, channel.name):
                    finals.append(LogRecord(channel.name, incident.id, entry.kind, 0, SKIPPED,
                                            "its opening was silenced, so nobody was told it opened", entry.id))
                else:
                    per_channel.setdefault(channel.name, []).append(
                        _Item(entry.kind, incident, entry.alerts, entry.id, queued_at))
            if silenced_by:
                log.info("incident %s %s is silenced by %s; nothing sent", incident.id, entry.kind,
                         ", ".join(silenced_by))
        self.record(finals)
        for name, items in per_channel.items():
            self._senders[name].add(items)

    def _open_incidents(self) -> list[Incident]:
        if self.incidents is not None:
            return [i for i in self.incidents(False) if i.is_open]
        return self.log.unresolved_incidents()

    def _repeat_open(self) -> None:
        """Remind of open incidents after repeat_interval; tell of ones whose silence has ended."""
        incidents = self._open_incidents()
        if not incidents:
            return
        now = self._clock()
        # What the senders hold is read before the log, as in reconcile(): a sender records its outcome
        # before it lets go, so a message delivered between the two reads is seen as held, never as unsent.
        held = {name: sender.held_incidents() for name, sender in self._senders.items()}
        outcomes = self.log.last_announced([i.id for i in incidents])
        acknowledged = self.acknowledged([i.id for i in incidents]) if self.acknowledged is not None else {}
        queued_at = time.monotonic()
        for incident in incidents:
            alerts: tuple[Alert, ...] | None = None
            for channel in self.channels:
                seen = outcomes.get((incident.id, channel.name))
                if not seen or incident.id in held[channel.name]:
                    continue  # not dispatched yet (the outbox will), or on its way
                sent = max([seen[o] for o in (DELIVERED, FAILED) if o in seen], default=None)
                if sent is None and SILENCED not in seen:
                    continue
                resend = _resend_seconds(channel)
                if sent is not None and now - sent < (resend or self.settings.repeat_interval_seconds):
                    continue
                if alerts is None:
                    alerts = self.log.member_alerts(incident)
                if self.silenced_by(alerts, now):
                    break
                # Silenced when it opened, the silence is over and it is still open: that is its opening.
                kind = OPENED if sent is None else REPEAT
                if kind == REPEAT and incident.id in acknowledged and resend is None:
                    continue  # someone is on it: reminders stop (an escalation or the resolution still goes out);
                    # a refresh goes on, or Alertmanager would resolve the incident after its resolve_timeout
                self._senders[channel.name].add([_Item(kind, incident, alerts, None, queued_at)])

    def wait_settled(self, timeout: float) -> bool:
        """Wait until nothing more will go out: True once settled, False if ``timeout`` seconds pass first.

        Settled means a reconcile pass that began after this call has finished, and then the queue is
        empty, no sender holds or is sending a message (each records its outcome before it lets go), and
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
                    and not self.log.open_entries() and not self._missing(True)):
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
    def queue_depth(self) -> int:
        """Transition batches waiting for the dispatcher (not the wake-up markers ``stop`` and ``wait_settled``
        put in, which a dispatcher that has stopped never takes out)."""
        with self._queue.mutex:
            return sum(1 for item in self._queue.queue if item is not None)

    def stats(self) -> DeliveryStats:
        """For /metrics and the API: outcome counts since start, queue depths, dropped transitions."""
        with self._counters.lock:
            outcomes = dict(self._counters.outcomes)
            dropped = self._counters.dropped
        return {
            "outcomes": outcomes,
            "dropped": dropped,
            "queue_depth": self.queue_depth(),
            "pending": {name: s.depth() for name, s in self._senders.items()},
            "running": self._started and not self.stopping.is_set(),
        }
