"""In-memory per-minute counts for a bounded window of minutes, per metric.

``MinuteSeries`` is the engine's working set. It is not thread-safe on its own:
the ``Monitor`` guards it with its lock, and readers get copies via snapshots.
Rules read it through the small ``SeriesView`` interface.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from .metrics import RATE_PREFIX, status_metric

_EMPTY: Mapping[int, int] = MappingProxyType({})


@dataclass
class BatchEffect:
    """What one batch touched: per feed its [first, last] minute, the (feed, minute) cells held in
    memory, counts per metric, and counts for minutes outside the memory window (store only)."""

    spans: dict[str, list[int]] = field(default_factory=dict)
    held: set[tuple[str, int]] = field(default_factory=set)
    per_metric: dict[str, int] = field(default_factory=dict)
    outside: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)


class SeriesView(Protocol):
    """What a rule may read: counts (missing minutes are zero) and derived values."""

    def count(self, metric: str, minute: int) -> int: ...

    def counts_of(self, metric: str) -> Mapping[int, int]: ...

    def window_sum(self, metric: str, end_minute: int, minutes: int) -> int: ...

    def value(self, metric: str, minute: int) -> float: ...

    def received_of(self, feed: str) -> AbstractSet[int]: ...

    def status_totals(self) -> Mapping[int, int]: ...


class MinuteSeries:
    """Counts keyed by metric then minute, plus which minutes each feed sent data for."""

    def __init__(self, statuses: Iterable[str]):
        self.status_metrics = tuple(status_metric(s) for s in statuses)
        self.counts: dict[str, dict[int, int]] = {}
        self.received: dict[str, set[int]] = {}
        # All statuses per minute, kept as counts arrive: rate rules need it for every minute they judge.
        self.totals: dict[int, int] = {}
        self._status_set = frozenset(self.status_metrics)
        self._oldest: int | None = None  # lower bound of the minutes held, so pruning can skip work

    # -- writing (under the Monitor's lock) --
    def add(self, feed: str, metric: str, minute: int, count: int) -> None:
        per_minute = self.counts.get(metric)
        if per_minute is None:
            per_minute = self.counts[metric] = {}
        per_minute[minute] = per_minute.get(minute, 0) + count
        if metric in self._status_set:
            self.totals[minute] = self.totals.get(minute, 0) + count
        seen = self.received.get(feed)
        if seen is None:
            seen = self.received[feed] = set()
        seen.add(minute)
        if self._oldest is None or minute < self._oldest:
            self._oldest = minute

    def add_records(self, records: Iterable[tuple[str, str, int, int]], keep_from: int) -> BatchEffect:
        """Add validated (feed, metric, minute, count) records in one pass.

        Minutes before ``keep_from`` are outside the memory window: they are not
        held, only returned for the store.
        """
        counts, totals, statuses = self.counts, self.totals, self._status_set
        effect = BatchEffect()
        spans, held, per_metric, outside = effect.spans, effect.held, effect.per_metric, effect.outside
        for feed, metric, minute, count in records:
            span = spans.get(feed)
            if span is None:
                spans[feed] = [minute, minute]
            elif minute < span[0]:
                span[0] = minute
            elif minute > span[1]:
                span[1] = minute
            per_metric[metric] = per_metric.get(metric, 0) + count
            if minute < keep_from:
                late = outside.setdefault((feed, minute), {})
                late[metric] = late.get(metric, 0) + count
                continue
            per_minute = counts.get(metric)
            if per_minute is None:
                per_minute = counts[metric] = {}
            per_minute[minute] = per_minute.get(minute, 0) + count
            if metric in statuses:
                totals[minute] = totals.get(minute, 0) + count
            held.add((feed, minute))
        oldest = self._oldest
        for feed, minute in held:
            seen = self.received.get(feed)
            if seen is None:
                seen = self.received[feed] = set()
            seen.add(minute)
            if oldest is None or minute < oldest:
                oldest = minute
        self._oldest = oldest
        return effect

    def oldest_minute(self) -> int | None:
        return self._oldest

    def prune_before(self, minute: int) -> None:
        """Forget minutes older than ``minute`` (they live on in the store)."""
        for per_minute in self.counts.values():
            for old in [m for m in per_minute if m < minute]:
                del per_minute[old]
        for seen in self.received.values():
            for old in [m for m in seen if m < minute]:
                seen.discard(old)
        for old in [m for m in self.totals if m < minute]:
            del self.totals[old]
        if self._oldest is not None and self._oldest < minute:
            self._oldest = minute

    # -- reading (SeriesView) --
    def counts_of(self, metric: str) -> Mapping[int, int]:
        """The metric's {minute: count}; read-only by contract (rules must not write)."""
        return self.counts.get(metric) or _EMPTY

    def received_of(self, feed: str) -> AbstractSet[int]:
        """Minutes the feed sent data for; read-only by contract."""
        return self.received.get(feed) or frozenset()

    def status_totals(self) -> Mapping[int, int]:
        """All statuses per minute; read-only by contract."""
        return self.totals

    def count(self, metric: str, minute: int) -> int:
        per_minute = self.counts.get(metric)
        return per_minute.get(minute, 0) if per_minute else 0

    def window_sum(self, metric: str, end_minute: int, minutes: int) -> int:
        per_minute = self.counts.get(metric)
        if not per_minute:
            return 0
        get = per_minute.get
        return sum(get(m, 0) for m in range(end_minute - minutes + 1, end_minute + 1))

    def value(self, metric: str, minute: int) -> float:
        if metric.startswith(RATE_PREFIX):
            total = self.totals.get(minute, 0)
            if total == 0:
                return 0.0
            return self.count(status_metric(metric[len(RATE_PREFIX):]), minute) / total
        return float(self.count(metric, minute))

    def column(self, metric: str, start: int, end: int) -> tuple[int, ...]:
        """Counts for minutes ``start..end`` inclusive, zero where nothing was received."""
        per_minute = self.counts.get(metric)
        if not per_minute:
            return (0,) * max(0, end - start + 1)
        get = per_minute.get
        return tuple(get(m, 0) for m in range(start, end + 1))

    def received_flags(self, feed: str, start: int, end: int) -> tuple[bool, ...]:
        seen = self.received.get(feed, set())
        return tuple(m in seen for m in range(start, end + 1))
