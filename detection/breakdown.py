"""Reading slices: which slices carry a metric's excess over the last minutes, and one slice's own series.

The answers of ``GET /api/breakdown``, ``GET /api/dimensions`` and the dashboard's breakdown panel and
slice filter. They read the Monitor's slice counts under its lock (``Monitor.with_slices``) and shape
plain dicts; the work is bounded by ``MAX_BREAKDOWN_MINUTES`` and ``MAX_TOP``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .contributions import contributions
from .metrics import AUTH_CODE_FEED, STATUS_FEED, auth_code_metric, minute_to_iso, status_metric
from .slice_series import SliceSeries
from .slices import parse_slice_key, slice_dimension, slice_metric, slice_value

if TYPE_CHECKING:
    from .monitor import Monitor

MAX_BREAKDOWN_MINUTES = 24 * 60
MAX_TOP = 50


class Breakdowns:
    """Slice reads for one Monitor (owned by it; safe from any thread)."""

    def __init__(self, monitor: Monitor):
        self._monitor = monitor
        thresholds = monitor.thresholds
        self.feed_metrics = {STATUS_FEED: tuple(status_metric(s) for s in thresholds.statuses),
                             AUTH_CODE_FEED: tuple(auth_code_metric(c) for c in thresholds.auth_codes)}
        self.count_metrics = frozenset(self.feed_metrics[STATUS_FEED] + self.feed_metrics[AUTH_CODE_FEED])

    def dimensions(self) -> dict[str, list[str]]:
        """Each configured dimension and pair with the values it holds now (pairs: ``acq-07,visa``)."""
        labels = self._monitor.labels
        out: dict[str, list[str]] = dict(labels.values())

        def pairs(slices: SliceSeries, _newest: int | None) -> dict[str, list[str]]:
            return {group: sorted(slice_value(k) for k in slices.keys(group))
                    for group in labels.groups() if "," in group}

        out.update(self._monitor.with_slices(pairs))
        return out

    def breakdown(self, metric: str, by: str, minutes: int = 60, top: int = 10) -> dict[str, Any]:
        """Observed against expected per slice of ``by`` for ``metric`` over the newest ``minutes``, top by excess;
        raises ValueError with a readable reason for an unknown metric or dimension, or a bound passed."""
        if metric not in self.count_metrics:
            raise ValueError(f"metric: unknown count {metric!r}; expected one of {', '.join(sorted(self.count_metrics))}")
        groups = self._monitor.labels.groups()
        if by not in groups:
            known = ", ".join(groups) or "none (the thresholds file has no \"dimensions\")"
            raise ValueError(f"by: unknown dimension {by!r}; configured: {known}")
        if not 1 <= minutes <= MAX_BREAKDOWN_MINUTES:
            raise ValueError(f"minutes: expected 1 to {MAX_BREAKDOWN_MINUTES}, got {minutes}")
        if not 1 <= top <= MAX_TOP:
            raise ValueError(f"top: expected 1 to {MAX_TOP}, got {top}")

        def read(slices: SliceSeries, newest: int | None) -> dict[str, Any]:
            answer: dict[str, Any] = {"metric": metric, "by": by, "minutes": minutes, "from": None, "to": None,
                                      "observed": 0, "expected": 0.0, "slices_total": len(slices.keys(by)),
                                      "slices": [], "heatmap": {"minutes": [], "values": [], "counts": []}}
            if newest is None:
                return answer
            first, last = newest - minutes + 1, newest
            rows = contributions(slices, metric, by, first, last, self.feed_metrics)
            answer.update({"from": minute_to_iso(first), "to": minute_to_iso(last),
                           "observed": int(sum(c.observed for c in rows)),
                           "expected": round(sum(c.expected for c in rows), 2)})
            chosen = rows[:top]
            answer["slices"] = [c.to_dict() for c in chosen]
            matrix = slices.matrix(slices.rows(metric, [c.key for c in chosen]), first, last)
            answer["heatmap"] = {"minutes": [minute_to_iso(m) for m in range(first, last + 1)],
                                 "values": [slice_value(c.key) for c in chosen],
                                 "counts": matrix.tolist()}
            return answer

        return self._monitor.with_slices(read)

    def slice_counts(self, key: str, minutes: int) -> dict[str, Any]:
        """One slice's counts of every status and auth code over the newest ``minutes`` (the charts' filter);
        raises ValueError for a slice of no configured dimension."""
        try:
            group = slice_dimension(key)
            parse_slice_key(key)
        except ValueError as exc:
            raise ValueError(f"slice: {exc}") from None
        if group not in self._monitor.labels.groups():
            raise ValueError(f"slice: {key!r} is not of a configured dimension "
                             f"({', '.join(self._monitor.labels.groups()) or 'none configured'})")
        window = self._monitor.settings.window_minutes
        minutes = max(1, min(int(minutes), window))

        def read(slices: SliceSeries, newest: int | None) -> dict[str, Any]:
            if newest is None:
                return {"slice": key, "start_minute": None, "end_minute": None, "counts": {}}
            start = newest - minutes + 1
            counts = {metric: slices.column(slice_metric(metric, key), start, newest)
                      for metrics in self.feed_metrics.values() for metric in metrics}
            return {"slice": key, "start_minute": start, "end_minute": newest, "counts": counts,
                    "known": slices.has(key)}

        return self._monitor.with_slices(read)
