"""In-memory per-minute counts for a bounded window of minutes, per metric.

``MinuteSeries`` is the engine's working set. It is not thread-safe on its own:
the ``Monitor`` guards it with its lock, and readers get copies via snapshots.
Rules read it through the small ``SeriesView`` interface.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Protocol

from .metrics import RATE_PREFIX, status_metric

_EMPTY: Mapping[int, int] = MappingProxyType({})


class SeriesView(Protocol):
    """What a rule may read: counts (missing minutes are zero) and derived values."""

    def count(self, metric: str, minute: int) -> int: ...

    def counts_of(self, metric: str) -> Mapping[int, int]: ...

    def window_sum(self, metric: str, end_minute: int, minutes: int) -> int: ...

    def value(self, metric: str, minute: int) -> float: ...

    def status_total(self, minute: int) -> int: ...

    def has_data(self, feed: str, minute: int) -> bool: ...


class MinuteSeries:
    """Counts keyed by metric then minute, plus which minutes each feed sent data for."""

    def __init__(self, statuses: Iterable[str]):
        self.status_metrics = tuple(status_metric(s) for s in statuses)
        self.counts: dict[str, dict[int, int]] = {}
        self.received: dict[str, set[int]] = {}
        self._oldest: int | None = None  # lower bound of the minutes held, so pruning can skip work

    # -- writing (under the Monitor's lock) --
    def add(self, feed: str, metric: str, minute: int, count: int) -> None:
        per_minute = self.counts.get(metric)
        if per_minute is None:
            per_minute = self.counts[metric] = {}
        per_minute[minute] = per_minute.get(minute, 0) + count
        seen = self.received.get(feed)
        if seen is None:
            seen = self.received[feed] = set()
        seen.add(minute)
        if self._oldest is None or minute < self._oldest:
            self._oldest = minute

    def add_many(self, deltas: dict[tuple[str, int], int], feed_of_metric: dict[str, str], keep_from: int) -> None:
        """Add summed counts; minutes before ``keep_from`` are outside the window and skipped."""
        counts, received = self.counts, self.received
        oldest = self._oldest
        for (metric, minute), count in deltas.items():
            if minute < keep_from:
                continue
            if oldest is None or minute < oldest:
                oldest = minute
            per_minute = counts.get(metric)
            if per_minute is None:
                per_minute = counts[metric] = {}
            per_minute[minute] = per_minute.get(minute, 0) + count
            feed = feed_of_metric[metric]
            seen = received.get(feed)
            if seen is None:
                seen = received[feed] = set()
            seen.add(minute)
        self._oldest = oldest

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
        if self._oldest is not None and self._oldest < minute:
            self._oldest = minute

    # -- reading (SeriesView) --
    def counts_of(self, metric: str) -> Mapping[int, int]:
        """The metric's {minute: count}; read-only by contract (rules must not write)."""
        return self.counts.get(metric) or _EMPTY

    def count(self, metric: str, minute: int) -> int:
        per_minute = self.counts.get(metric)
        return per_minute.get(minute, 0) if per_minute else 0

    def window_sum(self, metric: str, end_minute: int, minutes: int) -> int:
        per_minute = self.counts.get(metric)
        if not per_minute:
            return 0
        get = per_minute.get
        return sum(get(m, 0) for m in range(end_minute - minutes + 1, end_minute + 1))

    def status_total(self, minute: int) -> int:
        return sum(self.count(m, minute) for m in self.status_metrics)

    def value(self, metric: str, minute: int) -> float:
        if metric.startswith(RATE_PREFIX):
            total = self.status_total(minute)
            if total == 0:
                return 0.0
            return self.count(status_metric(metric[len(RATE_PREFIX):]), minute) / total
        return float(self.count(metric, minute))

    def has_data(self, feed: str, minute: int) -> bool:
        seen = self.received.get(feed)
        return bool(seen) and minute in seen  # type: ignore[operator]

    def metrics(self) -> list[str]:
        return sorted(self.counts)

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
