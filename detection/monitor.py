"""The Monitor: the one thread-safe object that ingests counts, judges rules on event time and keeps alerts.

Time model (see DESIGN.md, "Time"): each feed (statuses, auth codes) has a
watermark, the newest minute it has sent. A minute is open until the watermark
passes it, or until the wall clock has run a minute plus a grace past the moment
the watermark minute was first seen (``tick``). Closed minutes are judged by
every rule of the feed, in order; rules that are ``monotone`` (upper bounds on a
count) may also fire while the minute is open. Minutes missing between received
ones are a feed gap: reported, never judged, so a silent feed never resolves a
firing alert. Windows and retention are measured back from the newest event
time, never from the wall clock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from . import wording
from .admission import Admission
from .alerts import FIRING, PENDING, RESOLVED, Alert, Transition, alert_id
from .breakdown import Breakdowns
from .commit import CommitTicket, GroupCommitter
from .incident_tracker import IncidentTracker
from .incidents import Incident, IncidentTransition
from .ingest_log import LogEntry, deltas_of
from .metrics import (
    AUTH_CODE_FEED,
    FEEDS,
    STATUS_FEED,
    auth_code_metric,
    feed_metric,
    feed_of,
    status_metric,
)
from .records import CountRecord, FieldError, RecordValidationError
from .rules import Judgement, Rule
from .series import BatchEffect, MinuteSeries
from .slice_judge import SliceJudge
from .slice_series import SliceSeries
from .slices import SLICE_SEPARATOR, LabelPolicy, LabelRefused
from .snapshot import FeedStatus, Snapshot
from .store import PendingWrite, SqlStore, Store, StoreError
from .thresholds import Thresholds

_T = TypeVar("_T")
IDEMPOTENCY_SECONDS = 24 * 3600
_MINUTE_OF = itemgetter(2)  # of a CountRecord
NO_DATA_RULE = "no_data"
FEED_GAP_RULE = "feed_gap"


class IdempotencyConflict(ValueError):
    """The same Idempotency-Key was used before for a different request."""


@dataclass(frozen=True)
class MonitorSettings:
    window_minutes: int = 7 * 24 * 60  # kept in memory; older minutes live only in the store
    retention_minutes: int = 30 * 24 * 60  # kept in the store
    close_grace_seconds: float = 30.0
    prune_every_minutes: int = 60

    def __post_init__(self) -> None:
        if self.window_minutes < 60:
            raise ValueError("window_minutes must be at least 60")
        if self.retention_minutes < self.window_minutes:
            raise ValueError("retention_minutes must be at least window_minutes")


@dataclass
class IngestResult:
    accepted: int
    alerts: list[dict[str, Any]]
    replayed: bool = False  # answered from an earlier request with the same Idempotency-Key
    # A replay of a request still committing: answered only once that commit is durable.
    first_commit: CommitTicket | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "alerts": self.alerts}


@dataclass
class _RuleState:
    breach: int = 0
    clean: int = 0
    open_counted: int | None = None  # open minute already counted as breaching
    alert: Alert | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "breach": self.breach,
            "clean": self.clean,
            "open_counted": self.open_counted,
            "alert_id": self.alert.id if self.alert else None,
        }


@dataclass
class _FeedClock:
    watermark: int | None = None  # newest minute received
    closed_through: int | None = None  # every minute up to here has been judged
    watermark_wall: float = 0.0  # wall time the watermark minute was first seen
    last_received_wall: float = 0.0
    no_data: Alert | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "watermark": self.watermark,
            "closed_through": self.closed_through,
            "no_data_id": self.no_data.id if self.no_data else None,
        }


Listener = Callable[[Sequence[Transition]], None]
IncidentListener = Callable[[Sequence[IncidentTransition]], None]


class Monitor:
    def __init__(
        self,
        thresholds: Thresholds,
        store: SqlStore | None = None,
        settings: MonitorSettings | None = None,
        clock: Callable[[], float] = time.time,
        judging: bool = True,
    ):
        self.thresholds = thresholds
        self.store = store if store is not None else Store(":memory:")
        self.settings = settings or MonitorSettings()
        self._clock = clock
        # Whether this engine judges rules: always with one instance; with several on one PostgreSQL only while
        # this one leads (detection/cluster.py). There, every ingest goes to ``shared`` (the ingest log), and the
        # leader judges the log; a standby's memory follows the store.
        self.judging = judging
        self.shared: SharedWriter | None = None
        self.log_cursor: str | None = None  # a standby's place in the ingest log (a PostgreSQL snapshot)
        self._lock = threading.RLock()
        self._committer = GroupCommitter(self.store, self._after_failed_commit)
        # Why memory cannot be trusted (a failed rebuild, an engine error mid-ingest), or None. While
        # set, writes are refused: rows staged from memory behind the disk would overwrite stored counts.
        self._stale: str | None = None
        # Firing/resolved lines in the log come from the console channel (detection/channels.py).
        self._listeners: list[Listener] = []
        self._incident_listeners: list[IncidentListener] = []
        self._ingested: dict[str, int] = {}  # per metric, since this process started (Prometheus counters)
        self.started_wall = clock()
        # Labels records may carry, and the values each dimension holds (detection/slices.py).
        self.labels = LabelPolicy(thresholds.dimensions, thresholds.dimension_pairs)
        self._rules_by_feed: dict[str, list[Rule]] = {feed: [] for feed in FEEDS}
        for rule in thresholds.rules:
            if not rule.by:  # rules judged per slice are the SliceJudge's
                self._rules_by_feed[feed_of(rule.metric)].append(rule)
        self.slice_judge = SliceJudge([rule for rule in thresholds.rules if rule.by])
        self._monotone_by_feed = {f: [r for r in rules if r.monotone] for f, rules in self._rules_by_feed.items()}
        # Groups firing alerts into incidents; fed in _collect_changes, so incidents share the alerts' commit.
        self.incident_tracker = IncidentTracker(thresholds.rules, thresholds.statuses, thresholds.auth_codes,
                                                thresholds.incident_quiet_minutes, self.labels.groups())
        self._feed_metrics = {
            STATUS_FEED: tuple(status_metric(s) for s in thresholds.statuses),
            AUTH_CODE_FEED: tuple(auth_code_metric(c) for c in thresholds.auth_codes),
        }
        self.breakdowns = Breakdowns(self)
        self._load()

    # ------------------------------------------------------------------ setup
    def _reset_memory(self) -> None:
        self.series = MinuteSeries(self.thresholds.statuses)
        self.slices = SliceSeries(self.settings.window_minutes)
        self.incident_tracker.slices = self.slices
        self.slice_judge.forget_rows()
        self._feeds = {feed: _FeedClock() for feed in FEEDS}
        self._states = {rule.id: _RuleState() for rule in self.thresholds.rules if not rule.by}
        self._active_slices: dict[str, set[str]] = {}  # sliced rule id -> slice keys whose state is not idle
        self._pruned_through: int | None = None
        self._admission = Admission(self.series, self.settings.window_minutes)
        # Idempotency keys whose first request is staged but not yet committed.
        self._pending_keys: dict[str, tuple[str, IngestResult, CommitTicket]] = {}
        self._begin_changes()

    def _load(self) -> None:
        """Rebuild memory from the store: counts in the window, feed clocks, rule states, open alerts.

        On a shared store (PostgreSQL, several instances) a judging engine also judges the ingest-log rows
        no leader judged, and a standby notes where its following of the log starts (``log_cursor``).
        """
        with self._lock:
            self._reset_memory()
            now = self._clock()
            self._restore(now, keep_walls=False)
            newest = self._newest_minute()
            since = None if newest is None else newest - self.settings.window_minutes + 1
            waiting: list[LogEntry] = []
            if not self.store.shared:
                rows = self.store.counts_since(since) if since is not None else []
            elif self.judging:
                rows, waiting = self.store.counts_and_unjudged(since)  # type: ignore[attr-defined]
                rows = _without(rows, waiting)  # their records are judged below, as if they arrived now
            else:
                rows, self.log_cursor = self.store.counts_and_cursor(since)  # type: ignore[attr-defined]
            sliced = []
            for metric, minute, count in rows:
                if SLICE_SEPARATOR in metric:
                    sliced.append(("", metric, minute, count))
                else:
                    self.series.add(feed_of(metric), metric, minute, count)
            if sliced:
                self.slices.add_records(sliced, since if since is not None else 0)
                self.labels.seed(self.slices.all_keys())
            if since is not None:
                self._admission.measure()
                self._pruned_through = since - 1
            if not self.judging:
                self._begin_changes()  # a standby shows the leader's state; it never writes any
                return
            self.store.write(self._collect_changes())
            if waiting:  # written here, not staged: a reload runs with commits paused or from the committer
                self.store.write(self._judge_logged(waiting)[2])

    def _restore(self, now: float, keep_walls: bool) -> None:
        """Feed clocks, rule states, open alerts and open incidents from the store; counts are not touched.

        ``keep_walls``: a standby refreshing its view keeps when it last saw each feed move, so its page
        can still tell a silent feed.
        """
        meta = self.store.meta()
        open_alerts = {a.id: a for a in self.store.open_alerts()}
        before = self._feeds
        self._feeds = {feed: _FeedClock() for feed in FEEDS}
        self._states = {rule.id: _RuleState() for rule in self.thresholds.rules if not rule.by}
        self._active_slices = {}
        for feed, saved in meta.get("feeds", {}).items():
            if feed not in self._feeds:
                continue
            clock = self._feeds[feed]
            clock.watermark = saved.get("watermark")
            clock.closed_through = saved.get("closed_through")
            seen = before[feed]
            if keep_walls and seen.watermark is not None and seen.watermark == clock.watermark:
                clock.watermark_wall, clock.last_received_wall = seen.watermark_wall, seen.last_received_wall
            else:
                # A restarted process gives a feed the full no-data grace again.
                clock.watermark_wall = clock.last_received_wall = now if clock.watermark is not None else 0.0
            clock.no_data = open_alerts.pop(saved.get("no_data_id") or "", None)
        newest = self._newest_minute()
        saved_states = self.store.rule_states()
        rules: list[Any] = [rule for rule in self.thresholds.rules if not rule.by]
        rules += self.slice_judge.views_of(saved_states)  # sliced rules' states, one per slice
        for rule in rules:
            saved = saved_states.get(rule.state_key)
            if not saved:
                continue
            state = self._states.setdefault(rule.state_key, _RuleState())
            state.breach = saved.get("breach", 0)
            state.clean = saved.get("clean", 0)
            state.open_counted = saved.get("open_counted")
            alert = open_alerts.pop(saved.get("alert_id") or "", None)
            if alert is not None and alert.rule == rule.id and alert.metric == rule.metric:
                state.alert = alert
            else:
                state.breach = state.clean = 0
                state.open_counted = None
            if rule.by and (state.alert is not None or state.breach):
                self._active_slices.setdefault(rule.id, set()).add(rule.key)
        # Open alerts whose rule is gone (thresholds changed) would stay open forever: close them.
        for orphan in open_alerts.values():
            if orphan.state == PENDING:
                self._forget_alert(orphan.id)
                continue
            orphan.state = RESOLVED
            orphan.resolved_at = max(orphan.started_at, newest or orphan.started_at)
            orphan.message += " (closed: its rule is no longer configured)"
            self._touch_alert(orphan)
        live_open = [s.alert for s in self._states.values() if s.alert is not None]
        live_open += [c.no_data for c in self._feeds.values() if c.no_data is not None]
        self.incident_tracker.restore(self.store.open_incidents(), live_open)

    # ------------------------------------------------------- several instances
    def promote(self) -> None:
        """Start judging (this instance now leads): reload everything from the store, judge what no leader did."""
        with self._committer.paused(), self._lock:
            # Writes still queued are a standby's (records for the log): they commit after this, unjudged, and
            # this leader judges them from the log like any other instance's.
            self.judging = True
            self._reload(StoreError("this instance became the leader"))

    def demote(self) -> None:
        """Stop judging (another instance leads): memory goes on following the store."""
        with self._lock:
            self.judging = False

    def judge_logged(self, entries: Sequence[LogEntry]) -> list[Transition]:
        """The leader judges records other instances stored (the ingest log), as if they were posted to it now."""
        if self._stale is not None:
            self._rebuild_memory()
        with self._lock:
            if not self.judging:
                return []
            transitions, incident_transitions, write, prune = self._judge_logged(entries)
            ticket = self._committer.stage(write)
        self._committer.wait(ticket)
        if prune:
            self._prune_quietly()
        self._notify(transitions, incident_transitions)
        return transitions

    def _judge_logged(self, entries: Sequence[LogEntry]) -> tuple[list[Transition], list[IncidentTransition],
                                                                  PendingWrite, bool]:
        records = [record for entry in entries for record in entry.records]
        now = self._clock()
        prune = False
        if records and self.labels.enabled:  # other instances' values (folded there) are this one's too
            self.labels.seed({r[0].partition(SLICE_SEPARATOR)[2] for r in records if SLICE_SEPARATOR in r[0]})
        if records:
            try:
                _effect, prune = self._absorb(records, self._keep_from(records), now)
            except Exception as exc:
                self._stale = f"judging logged records failed half-way ({type(exc).__name__}: {exc})"
                raise
        self._track_incidents()
        transitions = self._changes.transitions
        incident_transitions = self._changes.incident_transitions
        write = self._collect_changes()
        write.judged_log = [entry.id for entry in entries]
        return transitions, incident_transitions, write, prune

    def follow(self, entries: Sequence[LogEntry], since: str, to: str) -> None:
        """A standby adds the records stored between log cursors ``since`` and ``to`` to what its page shows;
        it judges nothing. Ignored if memory was reloaded meanwhile (it then holds them already)."""
        with self._lock:
            if self.judging or self.log_cursor != since:
                return
            self.log_cursor = to
            records = [record for entry in entries for record in entry.records]
            if records:
                keep_from = self._keep_from(records)
                records, sliced = self._split(records)
                self.series.add_records(records, keep_from)
                if sliced:
                    self.slices.add_records(sliced, keep_from)
                    self.labels.seed({feed.partition(SLICE_SEPARATOR)[2] for feed, *_rest in sliced})
                self._maybe_prune()

    def reload(self) -> None:
        """Rebuild memory from the store now (a standby that lost its place in the ingest log)."""
        with self._committer.paused(), self._lock:
            self._reload(StoreError("memory was reloaded from the store"))

    def refresh_view(self) -> None:
        """A standby rereads the leader's alerts, incidents and feed clocks (its counts follow the log)."""
        with self._lock:
            if self.judging:
                return
            self._restore(self._clock(), keep_walls=True)
            self._begin_changes()

    def admit(self, records: list[CountRecord]) -> dict[str, int]:
        """Check records as an ingest would (window, ceiling) without keeping them; their totals per metric
        (of the global series: slices are not counted apart)."""
        with self._lock:
            records = self._split(records)[0]
            if not records:
                return {}
            self._admission.check(records, self._keep_from(records))
            totals: dict[str, int] = {}
            for _feed, metric, _minute, count in records:
                totals[metric] = totals.get(metric, 0) + count
            return totals

    def fold_labels(self, records: list[CountRecord]) -> list[CountRecord]:
        """Records with label values past their dimension's cap folded into ``other``; RecordValidationError
        (nothing changed) when a dimension that refuses values past its cap would need one."""
        if not self.labels.enabled:
            return records
        with self._lock:
            return self._fold(records)

    def _fold(self, records: list[CountRecord]) -> list[CountRecord]:
        try:
            return self.labels.fold(records)
        except LabelRefused as exc:
            raise RecordValidationError([FieldError(None, exc.field, str(exc))]) from None

    def accepted_count(self, records: Sequence[CountRecord]) -> int:
        """How many records a request sent: its slice records (one per slice of a labelled record) are not counted."""
        if not self.labels.enabled:
            return len(records)
        return sum(1 for record in records if SLICE_SEPARATOR not in record[0])

    def _split(self, records: list[CountRecord]) -> tuple[list[CountRecord], list[CountRecord]]:
        """(records of the global series, slice records)."""
        if not self.labels.enabled:
            return records, []
        boundary = getattr(records, "sliced_from", None)
        if boundary is not None:  # straight from validate_records: slice records follow the others
            return records[:boundary], records[boundary:]
        base: list[CountRecord] = []
        sliced: list[CountRecord] = []
        for record in records:
            (sliced if SLICE_SEPARATOR in record[0] else base).append(record)
        return base, sliced

    def _keep_from(self, records: list[CountRecord]) -> int:
        """The oldest minute memory keeps once ``records`` (not empty) are in: the window back from the newest event."""
        return max(self._newest_minute() or 0, *map(_MINUTE_OF, records)) - self.settings.window_minutes + 1

    def count_ingested(self, per_metric: dict[str, int], sign: int = 1) -> None:
        """Add to (or take back from) the counts this process accepted (the /metrics counters)."""
        with self._lock:
            for metric, count in per_metric.items():
                self._ingested[metric] = self._ingested.get(metric, 0) + sign * count

    # --------------------------------------------------------------- listeners
    def add_listener(self, listener: Listener) -> None:
        """Called with the transitions of every ingest/tick, after they are stored, outside the lock."""
        with self._lock:
            self._listeners.append(listener)

    def add_incident_listener(self, listener: IncidentListener) -> None:
        """Called with the incident transitions of every ingest/tick, after they are stored, outside the lock."""
        with self._lock:
            self._incident_listeners.append(listener)

    def _notify(self, transitions: Sequence[Transition], incidents: Sequence[IncidentTransition] = ()) -> None:
        if transitions:
            _call_each(list(self._listeners), transitions, "alert")
        if incidents:
            _call_each(list(self._incident_listeners), incidents, "incident")

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        records: Iterable[CountRecord],
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> IngestResult:
        """Add validated records, judge what they close, store everything, return this call's alert changes.

        With ``idempotency_key``, a key seen in the last 24 h returns the first
        answer and changes nothing; the same key with a different
        ``fingerprint`` raises ``IdempotencyConflict``. Returns only once this
        call's transaction (or, for a replay, the first request's) committed;
        raises StoreError, with nothing stored, when it did not.
        """
        if self.shared is not None:  # several instances: through the ingest log, judged by the leader
            return self.shared.ingest(records if isinstance(records, list) else list(records),
                                      idempotency_key, fingerprint)
        if self._stale is not None:
            self._rebuild_memory()
        result = self._ingest(records, idempotency_key, fingerprint)
        if result.first_commit is not None:
            self._committer.wait(result.first_commit)  # raises the first request's StoreError
        return result

    def _ingest(self, records: Iterable[CountRecord], idempotency_key: str | None, fingerprint: str) -> IngestResult:
        records = records if isinstance(records, list) else list(records)
        with self._lock:
            if self._stale is not None:  # another request's failure, since ingest() checked
                raise StoreError(f"store write refused while the engine reloads: {self._stale}")
            now = self._clock()
            if idempotency_key is not None:
                earlier = self._earlier_answer(idempotency_key, fingerprint, now)
                if earlier is not None:
                    return earlier

            if not records:
                return IngestResult(0, [])
            if self.labels.enabled:
                records = self._fold(records)
            batch_newest = max(map(_MINUTE_OF, records))
            newest = max(self._newest_minute() or 0, batch_newest)
            keep_from = newest - self.settings.window_minutes + 1
            # A check that changes nothing: a refused batch (422) leaves memory as it was.
            self._admission.check(self._split(records)[0], keep_from)
            try:
                effect, prune = self._absorb(records, keep_from, now, stage=True)
            except Exception as exc:
                # Memory holds part of a request that will never be stored: rebuild it from the
                # store before anything else is written from it.
                self._stale = f"an ingest failed half-way ({type(exc).__name__}: {exc})"
                raise

            self._track_incidents()  # before the answer is shaped: firing alerts carry their incident_id
            transitions = self._changes.transitions
            incident_transitions = self._changes.incident_transitions
            result = IngestResult(self.accepted_count(records), [t.alert.to_dict() for t in transitions])
            if idempotency_key is not None:
                self._changes.write.idempotency = (
                    idempotency_key, fingerprint, now, json.dumps(result.to_dict())
                )
            ticket = self._committer.stage(self._collect_changes())
            if idempotency_key is not None:
                self._pending_keys[idempotency_key] = (fingerprint, result, ticket)
            ingested = self._ingested  # counted now, taken back below if the write fails
            for metric, count in effect.per_metric.items():
                ingested[metric] = ingested.get(metric, 0) + count
        try:
            self._committer.wait(ticket)  # the answer waits until the records are on disk
        finally:
            if idempotency_key is not None or ticket.error is not None:
                with self._lock:
                    if idempotency_key is not None and self._pending_keys.get(idempotency_key, (None, None, None))[2] is ticket:
                        del self._pending_keys[idempotency_key]
                    if ticket.error is not None:
                        for metric, count in effect.per_metric.items():
                            self._ingested[metric] -= count
        if prune:
            self._prune_quietly()
        self._notify(transitions, incident_transitions)
        return result

    def _absorb(self, records: list[CountRecord], keep_from: int, now: float, stage: bool = False) -> tuple[BatchEffect, bool]:
        """Add records to memory and judge what they close; ``stage``: also queue their counts for the store.
        True with the effect when the store is due a retention prune."""
        records, sliced = self._split(records)
        effect = self.series.add_records(records, keep_from)
        if sliced:
            cells = self.slices.add_records(sliced, keep_from)
            if stage and not self.store.shared:
                self._stage_slices(cells, sliced, keep_from)
            records = records + sliced  # (for the shared store's deltas below)
        if stage and self.store.shared:
            # Deltas, added in the database: other instances may be adding to the same minutes.
            deltas = self._changes.write.count_deltas
            for key, counts in deltas_of(records).items():
                merged = deltas.setdefault(key, {})
                for metric, count in counts.items():
                    merged[metric] = merged.get(metric, 0) + count
        elif stage:
            self._stage_counts(effect.held, effect.outside)
        touched = set(effect.per_metric)
        for feed, (first, last) in effect.spans.items():
            self._advance(feed, first, last, now, touched)
        return effect, self._maybe_prune()

    def _prune_quietly(self) -> None:
        try:
            self.prune_store()
        except StoreError:  # the request is committed: its answer stands; the next prune retries
            logging.getLogger("monitor").exception("retention prune failed")

    def _earlier_answer(self, key: str, fingerprint: str, now: float) -> IngestResult | None:
        """The first answer for an Idempotency-Key seen in the last 24 h (stored or still committing)."""
        pending = self._pending_keys.get(key)
        if pending is not None:
            saved_fingerprint, result, first_commit = pending
            response = None
        else:
            earlier = self.store.idempotent_response(key, now - IDEMPOTENCY_SECONDS)
            if earlier is None:
                return None
            saved_fingerprint, response = earlier
        if saved_fingerprint != fingerprint:
            raise IdempotencyConflict("this Idempotency-Key was already used for a different request body")
        if response is None:
            # The first request is still committing: this retry is answered once that commit is
            # durable (ingest() waits for it outside the lock), and fails with it if it fails.
            return IngestResult(result.accepted, result.alerts, replayed=True, first_commit=first_commit)
        body = json.loads(response)
        return IngestResult(body["accepted"], body["alerts"], replayed=True)

    def _stage_counts(self, held: set[tuple[str, int]], outside: dict[tuple[str, int], dict[str, int]]) -> None:
        """Queue the touched minutes for the store: whole rows from memory, deltas for minutes outside the window."""
        rows = self._changes.write.counts
        counts = self.series.counts
        for feed, minute in held:
            row = {}
            for metric in self._feed_metrics[feed]:
                per_minute = counts.get(metric)
                if per_minute is not None and minute in per_minute:
                    row[metric] = per_minute[minute]
            rows[(feed, minute)] = row
        deltas = self._changes.write.count_deltas
        for key, late in outside.items():
            merged = deltas.setdefault(key, {})
            for metric, count in late.items():
                merged[metric] = merged.get(metric, 0) + count

    def _stage_slices(self, cells: set[tuple[str, int]], sliced: list[CountRecord], keep_from: int) -> None:
        """Queue slice rows for the store: whole rows from memory, deltas for minutes outside the window."""
        self._changes.write.counts.update(self.slices.stored_rows(self._feed_metrics, cells))
        deltas = self._changes.write.count_deltas
        for feed, metric, minute, count in sliced:
            if minute < keep_from:
                merged = deltas.setdefault((feed, minute), {})
                merged[metric] = merged.get(metric, 0) + count

    def tick(self, now: float | None = None) -> list[Transition]:
        """Let the wall clock act: close open minutes whose time has passed, raise no-data alerts."""
        if self._stale is not None:
            self._rebuild_memory()
        with self._lock:
            if self._stale is not None or not self.judging:  # stale memory, or another instance judges
                return []
            now = self._clock() if now is None else now
            grace = self.settings.close_grace_seconds
            for feed, clock in self._feeds.items():
                if clock.watermark is None:
                    continue
                if clock.closed_through is not None and clock.closed_through < clock.watermark:
                    event_now = clock.watermark * 60 + (now - clock.watermark_wall)
                    if event_now >= (clock.watermark + 1) * 60 + grace:
                        self._close(feed, clock.watermark, clock.watermark)
                after = self.thresholds.no_data_minutes * 60
                if after and clock.no_data is None and now - clock.last_received_wall >= after:
                    self._open_no_data(feed, clock, now)
                elif clock.no_data is not None:
                    silent = round((now - clock.last_received_wall) / 60, 1)
                    if silent > clock.no_data.value:
                        clock.no_data.value = silent
                        clock.no_data.message = wording.no_data_message(feed_metric(feed), silent, clock.watermark)
                        clock.no_data.detail = wording.no_data_detail(
                            feed_metric(feed), silent, self.thresholds.no_data_minutes, clock.watermark)
                        self._touch_alert(clock.no_data)
            self._track_incidents()
            transitions = self._changes.transitions
            incident_transitions = self._changes.incident_transitions
            ticket = self._committer.stage(self._collect_changes())
        self._committer.wait(ticket)
        self._notify(transitions, incident_transitions)
        return transitions

    # --------------------------------------------------------- time and rules
    def _advance(self, feed: str, first: int, last: int, now: float, touched: set[str]) -> None:
        clock = self._feeds[feed]
        clock.last_received_wall = now
        if clock.watermark is None:
            clock.watermark, clock.closed_through, clock.watermark_wall = last, first - 1, now
            self._close(feed, first, last - 1)
            self._changes.meta_dirty = True
        elif last > clock.watermark:
            start = (clock.closed_through if clock.closed_through is not None else clock.watermark - 1) + 1
            clock.watermark, clock.watermark_wall = last, now
            self._close(feed, start, last - 1)
            self._changes.meta_dirty = True
        if clock.no_data is not None:
            self._resolve_no_data(feed, clock)
        if clock.closed_through is not None and clock.closed_through < clock.watermark:
            self._judge_open(feed, clock.watermark, touched)

    def _close(self, feed: str, start: int, end: int) -> None:
        """Judge minutes ``start..end`` in order; runs with no data are a feed gap, never judged.

        The cost is bounded by the minutes held in memory, not by the span: a gap of
        decades (a first record from 1970, then one from now) is one comparison.
        """
        if end < start:
            return
        seen = self.series.received.get(feed, set())
        if end - start < len(seen):
            minutes = [m for m in range(start, end + 1) if m in seen]
        else:  # a span longer than what is held: pick the received minutes out of memory instead
            minutes = sorted(m for m in seen if start <= m <= end)
        expected = start
        for minute in minutes:
            if minute > expected:
                self._feed_gap(feed, expected, minute - 1)
            expected = minute + 1
        if expected <= end:
            self._feed_gap(feed, expected, end)
        # Rules are independent of each other, so each walks the minutes on its own and
        # skips quickly over the stretches where it is quiet and nothing can happen.
        for rule in self._rules_by_feed[feed]:
            state = self._states[rule.id]
            index, count = 0, len(minutes)
            while index < count:
                if state.alert is None and not state.breach and state.open_counted is None:
                    found = rule.first_breach(self.series, minutes, index)
                    if found is None:
                        break
                    index = found
                self._judge(rule, minutes[index])
                index += 1
        if self.slice_judge.rules_of(feed) and self.slices.series_count:
            for minute in minutes:
                self._judge_slices(feed, minute)
        clock = self._feeds[feed]
        clock.closed_through = max(end, clock.closed_through if clock.closed_through is not None else end)
        self._changes.meta_dirty = True

    def _judge_slices(self, feed: str, minute: int) -> None:
        """Every slice of the feed's sliced rules at a closed minute: those that breach or still have a state."""
        for view, judgement in self.slice_judge.judge(feed, self.slices, minute, self._active_slices):
            state = self._states.get(view.state_key)
            if state is None:
                state = self._states[view.state_key] = _RuleState()
            self._step(view, state, judgement, minute)
            active = self._active_slices.setdefault(view.id, set())
            if state.alert is None and not state.breach:
                active.discard(view.key)
            else:
                active.add(view.key)

    def _judge(self, rule: Rule, minute: int) -> None:
        self._step(rule, self._states[rule.id], rule.judge(self.series, minute), minute)

    def _step(self, rule: Any, state: _RuleState, judgement: Judgement, minute: int) -> None:
        """One judged minute through a rule's lifecycle: normal, pending, firing, resolved."""
        if not judgement.breach and state.alert is None and not state.breach and state.open_counted is None:
            return  # the common case: all quiet, nothing to record
        if state.open_counted == minute:
            # This minute already counted as a breach while it was open; a count only grows.
            state.open_counted = None
            self._changes.states.add(rule.state_key)
            if judgement.breach:
                self._note_breach(rule, state, judgement, minute)
                return
            state.breach = max(0, state.breach - 1)
        alert = state.alert
        if alert is None or alert.state == PENDING:
            if judgement.breach:
                self._breach(rule, state, judgement, minute)
            elif alert is not None or state.breach:
                if alert is not None:  # a pending breach that cleared is not an episode
                    self._forget_alert(alert.id)
                    state.alert = None
                state.breach = 0
                self._changes.states.add(rule.state_key)
            return
        # firing
        if judgement.breach:
            self._note_breach(rule, state, judgement, minute)
        if judgement.clean:
            state.clean += 1
            if state.clean >= rule.resolve_minutes:
                alert.state = RESOLVED
                alert.resolved_at = minute + 1
                self._touch_alert(alert, RESOLVED)
                state.alert, state.breach, state.clean = None, 0, 0
        else:
            state.clean = 0
        self._changes.states.add(rule.state_key)

    def _judge_open(self, feed: str, minute: int, touched: set[str]) -> None:
        """Upper bounds on counts may fire before the minute closes; only touched metrics can have changed."""
        for rule in self._monotone_by_feed[feed]:
            if rule.metric not in touched:
                continue
            state = self._states[rule.id]
            judgement = rule.judge(self.series, minute)
            if not judgement.breach:
                continue
            if state.open_counted == minute or (state.alert is not None and state.alert.state == FIRING):
                self._note_breach(rule, state, judgement, minute)
                continue
            state.open_counted = minute
            self._breach(rule, state, judgement, minute)

    def _breach(self, rule: Any, state: _RuleState, judgement: Judgement, minute: int) -> None:
        """A breaching minute while normal or pending."""
        state.breach += 1
        state.clean = 0
        self._changes.states.add(rule.state_key)
        if state.alert is None:
            state.alert = Alert(
                id=alert_id(rule.id, rule.metric, minute),
                rule=rule.id,
                rule_type=rule.type_name,
                metric=rule.metric,
                severity=rule.severity,
                state=PENDING,
                started_at=minute,
                last_breach_at=minute,
                value=judgement.value,
                threshold=judgement.threshold,
                expected=judgement.expected,
                message=rule.message(judgement),
                detail=rule.detail(judgement),
            )
            fires_now = state.breach >= rule.for_minutes
            if not fires_now:
                self._touch_alert(state.alert, PENDING)
        else:
            self._note_breach(rule, state, judgement, minute)
        if state.breach >= rule.for_minutes:
            state.alert.state = FIRING
            state.alert.fired_at = minute
            self._touch_alert(state.alert, FIRING)

    def _note_breach(self, rule: Any, state: _RuleState, judgement: Judgement, minute: int) -> None:
        alert = state.alert
        if alert is None:
            return
        changed = False
        if alert.last_breach_at is None or minute > alert.last_breach_at:
            alert.last_breach_at = minute
            changed = True
        if rule.worse(judgement.value, alert.value):
            alert.value = judgement.value
            alert.threshold = judgement.threshold
            alert.expected = judgement.expected
            alert.message = rule.message(judgement)
            alert.detail = rule.detail(judgement)
            changed = True
        if changed:
            self._touch_alert(alert)

    # ---------------------------------------------------------- feed alerts
    def _feed_gap(self, feed: str, first: int, last: int) -> None:
        minutes = last - first + 1
        alert = Alert(
            id=alert_id(FEED_GAP_RULE, feed_metric(feed), first),
            rule=FEED_GAP_RULE,
            rule_type=FEED_GAP_RULE,
            metric=feed_metric(feed),
            severity=self.thresholds.feed_gap_severity,
            state=FIRING,
            started_at=first,
            fired_at=first,
            last_breach_at=last,
            value=minutes,
            threshold=0,
            message=wording.feed_gap_message(feed_metric(feed), first, last),
            detail=wording.feed_gap_detail(feed_metric(feed), first, last),
        )
        self._touch_alert(alert, FIRING)
        alert.state = RESOLVED
        alert.resolved_at = last + 1
        self._touch_alert(alert, RESOLVED)

    def _open_no_data(self, feed: str, clock: _FeedClock, now: float) -> None:
        start = (clock.watermark or 0) + 1
        silent = round((now - clock.last_received_wall) / 60, 1)
        clock.no_data = Alert(
            id=alert_id(NO_DATA_RULE, feed_metric(feed), start),
            rule=NO_DATA_RULE,
            rule_type=NO_DATA_RULE,
            metric=feed_metric(feed),
            severity=self.thresholds.no_data_severity,
            state=FIRING,
            started_at=start,
            fired_at=start,
            value=silent,
            threshold=self.thresholds.no_data_minutes,
            message=wording.no_data_message(feed_metric(feed), silent, clock.watermark),
            detail=wording.no_data_detail(feed_metric(feed), silent, self.thresholds.no_data_minutes, clock.watermark),
        )
        self._touch_alert(clock.no_data, FIRING)
        self._changes.meta_dirty = True

    def _resolve_no_data(self, feed: str, clock: _FeedClock) -> None:
        alert = clock.no_data
        assert alert is not None
        alert.state = RESOLVED
        alert.resolved_at = max(alert.started_at, clock.watermark or alert.started_at)
        alert.message += "; data is arriving again"
        self._touch_alert(alert, RESOLVED)
        clock.no_data = None
        self._changes.meta_dirty = True

    # ------------------------------------------------------------- pruning
    def _newest_minute(self) -> int | None:
        marks = [c.watermark for c in self._feeds.values() if c.watermark is not None]
        return max(marks) if marks else None

    def _maybe_prune(self) -> bool:
        """Forget minutes that left the memory window; True when the store is due a retention prune."""
        newest = self._newest_minute()
        if newest is None:
            return False
        keep_from = newest - self.settings.window_minutes + 1
        if self._pruned_through is None:
            self._pruned_through = keep_from - 1
            return False
        if keep_from - 1 - self._pruned_through >= self.settings.prune_every_minutes:
            oldest = self.series.oldest_minute()
            if oldest is not None and oldest < keep_from:
                self.series.prune_before(keep_from)
            self.slices.prune_before(keep_from)
            self._pruned_through = keep_from - 1
            return True
        return False

    def prune_store(self) -> dict[str, int]:
        """Delete minutes and finished alerts older than the retention, and expired idempotency keys."""
        with self._lock:
            newest = self._newest_minute()
            if newest is None:
                return {"minutes": 0, "alerts": 0, "incidents": 0, "idempotency_keys": 0}
            return self.store.prune(
                newest - self.settings.retention_minutes + 1, self._clock() - IDEMPOTENCY_SECONDS
            )

    # ------------------------------------------------------------- changes
    def _begin_changes(self) -> None:
        self._changes = _Changes()

    def _forget_alert(self, alert_id: str) -> None:
        """A pending breach that cleared: not an episode, so it leaves the store (and this call's writes)."""
        self._changes.alerts.pop(alert_id, None)
        self._changes.deleted_alerts.append(alert_id)

    def _touch_alert(self, alert: Alert, transition: str | None = None) -> None:
        self._changes.alerts[alert.id] = alert
        if transition is not None:
            self._changes.transitions.append(Transition(transition, alert.copy()))

    def _track_incidents(self) -> None:
        """Hand this call's alert changes to the incident tracker (once per call)."""
        changes = self._changes
        if changes.incidents_tracked:
            return
        changes.incidents_tracked = True
        outcome = self.incident_tracker.observe(changes.transitions, changes.alerts, self.series,
                                                self._newest_minute(), changes.write.counts.keys())
        changes.write.incidents, changes.incident_transitions = outcome.incidents, outcome.transitions

    def _collect_changes(self) -> PendingWrite:
        """Turn what this call changed into one store write (copies, so later changes cannot leak in)."""
        self._track_incidents()
        changes = self._changes
        write = changes.write
        write.alerts = [alert.copy() for alert in changes.alerts.values()]
        write.deleted_alerts = list(changes.deleted_alerts)
        write.rule_states = {rid: self._states[rid].to_dict() for rid in changes.states}
        write.fenced = True  # the engine's judging: written only while this instance leads (the store checks)
        # On a cluster every record is in the ingest log before it is judged: judging can be redone from there.
        write.durable = self.shared is None
        if changes.meta_dirty:
            write.meta = {"feeds": {f: c.to_dict() for f, c in self._feeds.items()}}
        self._begin_changes()
        return write

    def _after_failed_commit(self, error: StoreError) -> None:
        """Memory is ahead of the disk: drop what is queued and rebuild memory from what was committed.

        Runs while the committer holds its lock, so no other write is on its way to the disk.
        """
        logging.getLogger("monitor").error("store write failed, reloading the engine from the store: %s", error)
        with self._lock:
            self._committer.fail_queued(error)
            self._reload(error)

    def _reload(self, cause: Exception) -> None:
        """``_load``; if that fails too, memory is stale and writes are refused until a rebuild succeeds."""
        try:
            self._load()
        except Exception as exc:
            self._stale = f"{cause}; reloading from the store failed: {exc}"
            raise StoreError(f"store unavailable: {self._stale}") from exc
        self._stale = None

    def _rebuild_memory(self) -> None:
        """Rebuild stale memory from the store, with no write in flight (called without the Monitor's lock)."""
        with self._committer.paused(), self._lock:
            if self._stale is None:
                return  # another request rebuilt it meanwhile
            error = StoreError(f"store write refused while the engine reloads: {self._stale}")
            self._committer.fail_queued(error)
            self._reload(error)

    # ------------------------------------------------------------- reading
    def snapshot(self, minutes: int = 60, recent_alerts: int = 50) -> Snapshot:
        """Copy the last ``minutes`` minutes (up to the newest event time) and the alert state.

        The lock is held only while copying; readers then work on immutable data.
        """
        minutes = max(1, min(int(minutes), self.settings.window_minutes))
        with self._lock:
            now = self._clock()
            newest = self._newest_minute()
            if newest is None:
                start = end = None
                counts: dict[str, tuple[int, ...]] = {}
                received: dict[str, tuple[bool, ...]] = {}
            else:
                end = newest
                start = newest - minutes + 1
                counts = {m: self.series.column(m, start, end) for m in self.thresholds.metrics() if not m.startswith("rate:")}
                received = {f: self.series.received_flags(f, start, end) for f in FEEDS}
            open_alerts = [s.alert.copy() for s in self._states.values() if s.alert is not None]
            open_alerts += [c.no_data.copy() for c in self._feeds.values() if c.no_data is not None]
            feeds = {f: self._feed_status(f, c, now) for f, c in self._feeds.items()}
            open_incidents = tuple(self.incident_tracker.open_incidents())
        recent = tuple(self.store.alerts(None, limit=recent_alerts)) if recent_alerts else ()
        return Snapshot(
            start_minute=start,
            end_minute=end,
            counts=MappingProxyType(counts),
            received=MappingProxyType(received),
            open_alerts=tuple(sorted(open_alerts, key=lambda a: (a.state != FIRING, -a.started_at))),
            recent_alerts=recent,
            rules=tuple(rule.describe() for rule in self.thresholds.rules),
            feeds=MappingProxyType(feeds),
            statuses=self.thresholds.statuses,
            auth_codes=self.thresholds.auth_codes,
            taken_at=now,
            open_incidents=open_incidents,
        )

    def _feed_status(self, feed: str, clock: _FeedClock, now: float) -> FeedStatus:
        has_data = clock.watermark is not None
        return FeedStatus(
            feed=feed,
            newest_minute=clock.watermark,
            closed_through=clock.closed_through,
            last_received_wall=clock.last_received_wall if has_data else None,
            silent_seconds=(now - clock.last_received_wall) if has_data else None,
            no_data_alert=clock.no_data is not None,
        )

    def alerts(self, state: str = "all", limit: int = 100) -> list[Alert]:
        """Alerts newest first, from the store (all of history that retention keeps)."""
        states = None if state == "all" else [state]
        return self.store.alerts(states, limit)

    def incidents(self, state: str = "all", limit: int = 100, before: tuple[int, str] | None = None) -> list[Incident]:
        """Incidents newest first, from the store (``state``: open, resolved or all; ``before``: a paging cursor)."""
        return self.store.incidents(None if state == "all" else [state], limit, before)

    def incident(self, incident_id: str) -> Incident | None:
        return self.store.incident(incident_id)

    # Slices (detection/breakdown.py reads them): which acquirer, merchant or brand carries a change.
    def with_slices(self, read: Callable[[SliceSeries, int | None], _T]) -> _T:
        """``read(slice counts, newest event minute)`` under the lock (for readers such as ``Breakdowns``)."""
        with self._lock:
            return read(self.slices, self._newest_minute())

    def dimensions(self) -> dict[str, list[str]]:
        return self.breakdowns.dimensions()

    def breakdown(self, metric: str, by: str, minutes: int = 60, top: int = 10) -> dict[str, Any]:
        return self.breakdowns.breakdown(metric, by, minutes, top)

    def slice_counts(self, key: str, minutes: int = 60) -> dict[str, Any]:
        return self.breakdowns.slice_counts(key, minutes)

    def newest_event_minute(self) -> int | None:
        with self._lock:
            return self._newest_minute()

    def feed_statuses(self) -> dict[str, FeedStatus]:
        with self._lock:
            now = self._clock()
            return {f: self._feed_status(f, c, now) for f, c in self._feeds.items()}

    def ingested_totals(self) -> dict[str, int]:
        """Counts accepted per metric since this process started (replayed idempotent requests excluded)."""
        with self._lock:
            return dict(self._ingested)

    def uptime_seconds(self) -> float:
        return self._clock() - self.started_wall


class _Changes:
    """What the current ingest/tick changed, collected for one store transaction.

    A plain class with slots: one is made per request, so it stays cheap.
    """

    __slots__ = ("alerts", "deleted_alerts", "states", "transitions", "meta_dirty", "write", "incidents_tracked",
                 "incident_transitions")

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}
        self.deleted_alerts: list[str] = []
        self.states: set[str] = set()
        self.transitions: list[Transition] = []
        self.meta_dirty = False
        self.incidents_tracked = False
        self.incident_transitions: list[IncidentTransition] = []
        self.write = PendingWrite(counts={}, alerts=[], deleted_alerts=[], rule_states={}, meta={})


class SharedWriter(Protocol):
    """Where ingests go when several instances share the store (detection/shared_ingest.py)."""

    def ingest(self, records: list[CountRecord], idempotency_key: str | None, fingerprint: str) -> IngestResult: ...


def _without(rows: list[tuple[str, int, int]], entries: Sequence[LogEntry]) -> list[tuple[str, int, int]]:
    """Stored counts less the records of ``entries`` (which are judged next, and so added again)."""
    less: dict[tuple[str, int], int] = {}
    for entry in entries:
        for _feed, metric, minute, count in entry.records:
            less[(metric, minute)] = less.get((metric, minute), 0) + count
    if not less:
        return rows
    out = []
    for metric, minute, count in rows:
        left = count - less.get((metric, minute), 0)
        if left:
            out.append((metric, minute, left))
    return out


def _call_each(listeners: Sequence[Callable[[Any], None]], changes: Sequence[Any], what: str) -> None:
    for listener in listeners:
        try:
            listener(changes)
        except Exception:  # a broken listener must never break ingestion
            logging.getLogger("monitor").exception("%s listener %r failed", what, listener)

