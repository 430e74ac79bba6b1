"""Which slices carry a change: each slice's observed count against its own normal, and its share of the excess.

The yardstick for a slice (``acquirer=acq-07``) over a span of minutes is its own rate before the span
(the metric per transaction of the slice over ``BASELINE_MINUTES`` before it, shrunk toward the rate
of all slices with ``PRIOR_TRANSACTIONS`` pseudo-transactions, so a small slice borrows the whole's
rate instead of its own noisy one) times its own transactions during the span. Counts that should not
fall (approvals, code 00) are judged the other way round: their normal is the slice's own level before
the span, and the shortfall is what counts. A slice's *share* is its part of the positive excess
summed over all slices of the dimension: "acq-07: 81% of the extra denials" (the way ThirdEye's
contribution analysis reads). Computed from the counts, never from rule names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .metrics import AUTH_CODE_FEED, STATUS_FEED, feed_of
from .slice_series import SliceSeries
from .slices import slice_value

BASELINE_MINUTES = 60
PRIOR_TRANSACTIONS = 200.0
FALLING = frozenset({f"{STATUS_FEED}:approved", f"{AUTH_CODE_FEED}:00"})


@dataclass(frozen=True)
class Contribution:
    key: str  # the slice, acquirer=acq-07
    observed: float
    expected: float
    excess: float  # observed above normal; for approvals, normal above observed
    share: float  # of the summed positive excess of the dimension's slices (0 when there is none)
    share_of_total: float  # of the metric's observed count over all slices

    def to_dict(self) -> dict[str, Any]:
        return {"value": slice_value(self.key), "slice": self.key, "observed": round(self.observed, 2),
                "expected": round(self.expected, 2), "excess": round(self.excess, 2) + 0.0,
                "share_of_excess": round(self.share, 4), "share_of_total": round(self.share_of_total, 4)}


def contributions(slices: SliceSeries, metric: str, group: str, first: int, last: int,
                  feed_metrics: Mapping[str, Sequence[str]]) -> list[Contribution]:
    """Every slice of ``group`` (a dimension or pair) for ``metric`` over minutes ``first..last``, by excess,
    largest first."""
    keys = slices.keys(group)
    if not keys or last < first:
        return []
    feed = feed_of(metric)
    volume_metrics = [m for m in feed_metrics.get(feed, ()) if not m.startswith("rate:")]
    span = slices.matrix(slices.rows(metric, keys), first, last).sum(axis=1).astype(float)
    before_first = first - BASELINE_MINUTES
    before = slices.matrix(slices.rows(metric, keys), before_first, first - 1).sum(axis=1).astype(float)
    if metric in FALLING:
        held = _held_minutes(slices, before_first, first - 1)
        level = before / held if held else np.zeros(len(keys))
        expected = level * (last - first + 1) if held else span.copy()
        excess = expected - span
    else:
        volume_span = np.zeros(len(keys))
        volume_before = np.zeros(len(keys))
        for name in volume_metrics:
            rows = slices.rows(name, keys)
            volume_span += slices.matrix(rows, first, last).sum(axis=1)
            volume_before += slices.matrix(rows, before_first, first - 1).sum(axis=1)
        total_before = volume_before.sum()
        if total_before > 0:
            pooled = before.sum() / total_before
            rate = (before + PRIOR_TRANSACTIONS * pooled) / (volume_before + PRIOR_TRANSACTIONS)
        else:  # nothing before the span: each slice at the span's own pooled rate (its share of volume)
            volume_total = volume_span.sum()
            rate = np.full(len(keys), span.sum() / volume_total if volume_total else 0.0)
        expected = rate * volume_span
        excess = span - expected
    positive = np.clip(excess, 0, None)
    total_excess = float(positive.sum())
    total_observed = float(span.sum())
    out = [Contribution(key, float(span[i]), float(expected[i]), float(excess[i]),
                        float(positive[i]) / total_excess if total_excess > 0 else 0.0,
                        float(span[i]) / total_observed if total_observed > 0 else 0.0)
           for i, key in enumerate(keys)]
    out.sort(key=lambda c: (-c.excess, c.key))
    return out


def _held_minutes(slices: SliceSeries, start: int, end: int) -> int:
    """How many of minutes ``start..end`` memory holds slice counts for."""
    if end < start:
        return 0
    return int(slices.held_between(start, end))

