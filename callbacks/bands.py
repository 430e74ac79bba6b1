"""The charts' alert lines and normal: per shown minute, the count at which a rule on that panel would breach.

A line is ``detection.critical``'s: with every other minute as received, the count
where ``rule.judge(view, minute)`` turns, so the drawn series is beyond the line
exactly at the minutes a rule breaches. Working that out asks a rule a few times
per minute, so the lines are remembered per minute and recomputed only from the
first minute whose data changed since the last snapshot (a line at minute m reads
minutes up to m only): an ordinary refresh computes the newest minute or two.
One ``RuleBands`` belongs to one ``register_callbacks`` call, never to the module.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from detection import Snapshot
from detection.critical import (
    ColumnSeries,
    OneMinuteChanged,
    alert_line,
    counted_metric,
    critical_count,
    fires_below,
)
from detection.metrics import feed_of
from detection.rules import Rule

Entry = tuple[float | None, float | None, tuple[int | None, ...]]  # (lower line, upper line, each rule's count)


def reach(rule: Rule) -> int:
    """Minutes before the judged one that a rule may read (its windows, reference and lookback, summed: an
    overestimate is only a few more minutes copied)."""
    windows = getattr(rule, "windows", None)
    return (int(getattr(rule, "window", 1)) + int(getattr(rule, "reference", 0)) + int(getattr(rule, "lookback", 0))
            + (max(windows) if windows else 0) + 1)


def trimmed(snap: Snapshot, minutes: int) -> Snapshot:
    """``snap`` without its minutes before the newest ``minutes`` (read only so the rules' windows have data)."""
    if snap.start_minute is None or len(snap.minutes) <= minutes:
        return snap
    cut = len(snap.minutes) - minutes
    return replace(snap, start_minute=snap.start_minute + cut,
                   counts=MappingProxyType({m: c[cut:] for m, c in snap.counts.items()}),
                   received=MappingProxyType({f: r[cut:] for f, r in snap.received.items()}))


@dataclass
class _Remembered:
    """Lines worked out from one run of snapshots of the same length (one range), and what they came from."""

    start: int | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    lines: dict[str, dict[int, Entry]] = field(default_factory=dict)
    closed: dict[str, int | None] = field(default_factory=dict)  # each feed's last closed minute


def _columns(snap: Snapshot) -> dict[str, np.ndarray]:
    out = {metric: np.asarray(values) for metric, values in snap.counts.items()}
    out.update({f"received:{feed}": np.asarray(flags) for feed, flags in snap.received.items()})
    return out


def _closed(snap: Snapshot) -> dict[str, int | None]:
    return {feed: status.closed_through for feed, status in snap.feeds.items()}


def _first_change(old: _Remembered, start: int, new: Mapping[str, np.ndarray]) -> int | None:
    """The first minute whose data differs between what ``old`` was computed from and ``new`` (minutes only one
    of them holds are not compared: minutes ``old`` lacks have no lines yet); None when nothing differs."""
    if old.start is None or set(old.columns) != set(new):
        return start
    first: int | None = None
    for key, values in new.items():
        before = old.columns[key]
        lo, hi = max(start, old.start), min(start + len(values), old.start + len(before))
        if lo >= hi:
            continue
        differ = np.flatnonzero(values[lo - start:hi - start] != before[lo - old.start:hi - old.start])
        if differ.size and (first is None or lo + int(differ[0]) < first):
            first = lo + int(differ[0])
    return first


class RuleBands:
    """Lower and upper alert lines and the normal, per panel metric and minute, remembered between refreshes."""

    def __init__(self, rules: Sequence[Rule], keep_minutes: int = 3 * 4320):
        self.rules = tuple(rules)
        self.keep_minutes = keep_minutes
        self.lead = max((reach(r) for r in self.rules), default=0)  # minutes read before the first one drawn
        self._lock = threading.Lock()
        self._remembered: dict[int, _Remembered] = {}  # by snapshot length: each range keeps its own
        self._expected: dict[str, dict[int, float | None]] = {}

    def drawn_on(self, metric: str) -> tuple[Rule, ...]:
        """The rules whose line goes on ``metric``'s panel: those counting it, shares of it included."""
        return tuple(r for r in self.rules if counted_metric(r) == metric)

    def for_snapshot(self, snap: Snapshot) -> SnapshotBands:
        """The lines for ``snap`` (read with ``lead`` minutes before the first minute drawn), to use in a ``with``
        block: entering it forgets the lines of every minute from the first one whose data changed, and holds
        the lines of that range to itself until the block ends (a second tab waits instead of mixing them)."""
        return SnapshotBands(self, snap)

    def lines_of(self, snap: Snapshot, metric: str, minutes: range) -> tuple[list | None, list | None, list | None]:
        """One panel's ``SnapshotBands.lines`` for ``snap``, in a block of its own."""
        with self.for_snapshot(snap) as lines:
            return lines.lines(metric, minutes)

    def _enter(self, snap: Snapshot) -> _Remembered:
        """Under the lock: the remembered lines of ``snap``'s range, with those its data changed forgotten."""
        assert snap.start_minute is not None
        columns = _columns(snap)
        closed = _closed(snap)
        kept = self._remembered.setdefault(len(snap.minutes), _Remembered())
        changed = _first_change(kept, snap.start_minute, columns)
        for feed, through in closed.items():  # a minute that closed is drawn with more rules (see _entry)
            before = kept.closed.get(feed)
            if before != through:
                first = snap.start_minute if before is None or through is None else min(before, through) + 1
                changed = first if changed is None else min(changed, first)
        kept.closed = closed
        for lines in kept.lines.values():
            if changed is not None:
                for minute in [m for m in lines if m >= changed]:
                    del lines[minute]
            if len(lines) > self.keep_minutes:
                for minute in [m for m in lines if m < snap.start_minute]:
                    del lines[minute]
        kept.start, kept.columns = snap.start_minute, columns
        return kept

    def expected(self, metric: str, minutes: range) -> list[float | None] | None:
        """A rule's normal per minute (rules are fixed once loaded, so remembered for good)."""
        mine = [r for r in self.rules if r.metric == metric]
        if not mine:
            return None
        memo = self._expected.setdefault(metric, {})
        if len(memo) > self.keep_minutes:
            for old in [m for m in memo if m < minutes[0]]:
                del memo[old]
        out = []
        for minute in minutes:
            if minute not in memo:
                memo[minute] = next((e for e in (r.expected(minute) for r in mine) if e is not None), None)
            out.append(memo[minute])
        return out if any(v is not None for v in out) else None


class SnapshotBands:
    """The lines of one snapshot, inside ``with``: ``lines(metric, minutes)`` as the chart panels want them."""

    def __init__(self, bands: RuleBands, snap: Snapshot):
        self.bands = bands
        self.snap = snap
        self.kept: _Remembered | None = None
        self._view: ColumnSeries | None = None
        self._open_from: int | None = None  # the first minute not closed, of the feed being drawn

    def __enter__(self) -> SnapshotBands:
        self.bands._lock.acquire()
        try:
            self.kept = self.bands._enter(self.snap) if self.snap.start_minute is not None else _Remembered()
        except BaseException:
            self.bands._lock.release()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.kept = None
        self.bands._lock.release()

    def _first_open(self, metric: str) -> int | None:
        status = self.snap.feeds.get(feed_of(metric))
        if status is None:
            return None  # no feed clock known (a snapshot built by hand): every minute counts as closed
        return None if status.closed_through is None and status.newest_minute is None else (
            (status.closed_through + 1) if status.closed_through is not None else self.snap.start_minute)

    def _series(self) -> ColumnSeries:
        if self._view is None:
            assert self.snap.start_minute is not None
            self._view = ColumnSeries(self.snap.start_minute, self.snap.counts, self.snap.received)
        return self._view

    def _entry(self, rules: Sequence[Rule], minute: int, hints: tuple[int | None, ...] | None,
               changed: OneMinuteChanged) -> Entry:
        view = changed.base
        # A minute still open is judged only by the rules that may fire on it (``Rule.monotone``: a count only
        # grows); the others judge it once it closes, so until then they draw nothing there.
        open_minute = self._open_from is not None and minute >= self._open_from
        counts = tuple(None if open_minute and not rule.monotone
                       else critical_count(rule, view, minute, hints[i] if hints else None, changed)
                       for i, rule in enumerate(rules))
        lower = upper = None
        for rule, count in zip(rules, counts, strict=True):
            line = alert_line(rule, count)
            if line is None:
                continue
            # Any rule breaching alerts: the lowest upper line and the highest lower line are the ones crossed first.
            if fires_below(rule):
                lower = line if lower is None else max(lower, line)
            else:
                upper = line if upper is None else min(upper, line)
        return lower, upper, counts

    def lines(self, metric: str, minutes: range) -> tuple[list | None, list | None, list | None]:
        """(lower, upper, expected) aligned with ``minutes``; None for a side no rule draws."""
        if self.kept is None:
            raise RuntimeError("SnapshotBands.lines is for use inside its with block")
        if not minutes:
            return None, None, None
        expected = self.bands.expected(metric, minutes)
        rules = self.bands.drawn_on(metric)
        if not rules or self.snap.start_minute is None:
            return None, None, expected
        known = self.kept.lines.setdefault(metric, {})
        entries: list[Entry] = []
        previous = known.get(minutes[0] - 1)
        self._open_from = self._first_open(metric)
        changed: OneMinuteChanged | None = None  # made only when a minute is not remembered
        for minute in minutes:
            entry = known.get(minute)
            if entry is None:
                if changed is None:
                    changed = OneMinuteChanged(self._series(), metric)
                entry = known[minute] = self._entry(rules, minute, previous[2] if previous else None, changed)
            entries.append(entry)
            previous = entry
        lower = [e[0] for e in entries]
        upper = [e[1] for e in entries]
        return (lower if any(v is not None for v in lower) else None,
                upper if any(v is not None for v in upper) else None,
                expected)
