"""Per-slice rules learned from labelled exports (issue 12): a ``"dimensions"`` section and ``"by"`` rules.

For each label column of the exports the thresholds file gets a dimension (``max_values`` = twice the values
seen, at least ``MIN_MAX_VALUES``; values past the cap fold into "other"). For each dimension of at most
``MAX_SLICED_VALUES`` values, and each bad-event count the global learner watches with a tail rule (denied,
failed, backend_reversed, reversed, auth codes 51 and 59), one ``poisson_tail`` rule with ``"by": [dimension]``:

- ``per``: approvals of the same feed (``status:approved``, or ``auth_code:00`` for codes), so a slice's
  expectation follows its own volume;
- ``ratio``: the pooled ratio metric / per over the training minutes the global learner found normal;
- ``slices``: each value's own ratio shrunk toward the pooled one (empirical Bayes with a prior worth
  ``PRIOR_APPROVALS`` approvals: ratio_s = (m_s + K x pooled) / (per_s + K)), so a small slice borrows
  strength from the whole instead of getting a noisy baseline of its own, and a large one keeps its own;
  a slice's stretches of ``INCIDENT_RUN`` minutes or more that look like an incident of its own (tail
  p < 1e-3) are left out first (the global learner leaves out only what moves the global series);
- ``dispersion``: one negative-binomial size per rule fitted on all its slices' clean 5-minute windows
  (slices move together a little: a busy slice's counts are wider than Poisson);
- ``p_value``: the metric's per-minute budget (``LearnOptions.p_value``) divided by the number of slices, so
  the rule's false alarms stay within one metric's budget however many slices it judges; then checked on the
  training minutes with the engine's own test (window count >= the tail's critical count for ratio_s x the
  slice's approvals in the window, and >= ``min_count``) and lowered tenfold until the episodes raised over
  all slices are within the budget for those days.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.learn import CLEANING_P, Analysis, _round_p
from analysis.loading import History
from detection.metrics import auth_code_metric, status_metric
from detection.stat_rules import PoissonTailRule, TailTable

MIN_MAX_VALUES = 20
MAX_SLICED_VALUES = 300  # a dimension with more values (card numbers, say) gets no per-slice rules
PRIOR_APPROVALS = 500.0  # K: the pooled ratio counts as much as this many approvals of a slice's own
WINDOW = 5
RESOLVE = 5
LOWEST_P = 1e-14
# A slice's own incident (one acquirer's denials tripling for 20 minutes) does not move the global series
# enough for the global learner to leave it out: a slice's stretches of this many minutes or more with
# improbable windows (tail p < 1e-3) are left out of its baseline and of the budget check. Shorter blips
# stay in, and count against the budget: they are the slice's own noise.
INCIDENT_RUN = 10
# The bad-event counts a slice rule watches, and its minimum window count: as the global tail rules for the
# sparse statuses (a few reversals at once are normal: DATA.md), 5 for denials (a handful in 5 minutes at a
# small acquirer at night is ordinary; a tripling there is 7 or more).
WATCHED = {
    status_metric("denied"): 5,
    status_metric("failed"): 3,
    status_metric("backend_reversed"): 4,
    status_metric("reversed"): 8,
    auth_code_metric("51"): 5,
    auth_code_metric("59"): 5,
}


@dataclass
class SliceRules:
    """What the learner adds to a thresholds file: dimensions, the sliced rules (as written) and why."""

    dimensions: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    why: dict[str, str] = field(default_factory=dict)  # rule id -> reasoning, for the summary and provenance

    def add_to(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` (a thresholds file's JSON) with the dimensions and the sliced rules added."""
        if not self.dimensions:
            return config
        out = dict(config)
        out["dimensions"] = self.dimensions
        out["rules"] = list(config.get("rules", [])) + self.rules
        provenance = dict(out.get("provenance", {}))
        provenance["slices"] = {
            "method": f"per-slice ratios shrunk toward the pooled ratio with a prior of {PRIOR_APPROVALS:g} "
                      f"approvals; p_value = the metric's budget / slices, lowered until the training days' "
                      f"episodes over all slices are within the budget",
            "why": self.why,
        }
        out["provenance"] = provenance
        return out


def thresholds_config(analysis: Analysis) -> tuple[dict[str, Any], SliceRules]:
    """The thresholds file the CLI writes for ``analysis``: the global rules, plus dimensions and sliced rules
    when the exports have label columns (the file is exactly as before without them)."""
    sliced = learn_slices(analysis.history, analysis)
    return sliced.add_to(analysis.thresholds.to_config()), sliced


def write_config(config: dict[str, Any], path: str | Path) -> None:
    """Write atomically, so a reader never sees half a file (as ``detection.thresholds.write_thresholds``)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tmp.replace(target)


def learn_slices(history: History, analysis: Analysis) -> SliceRules:
    """Dimensions and per-slice rules for the label columns of ``history`` (nothing without label columns)."""
    out = SliceRules()
    global_tails = {rule.metric: rule for rule in analysis.thresholds.rules if isinstance(rule, PoissonTailRule)}
    budget_minutes = analysis.options.p_value
    train_days = max(float(analysis.clean.sum()) / 1440.0, 1.0 / 24)
    episodes_allowed = analysis.options.false_alerts_per_week * train_days / 7.0
    for dimension in history.dimensions():
        values = history.dimension_values(dimension)
        out.dimensions[dimension] = {"max_values": max(MIN_MAX_VALUES, 2 * len(values)), "overflow": "other"}
        if len(values) > MAX_SLICED_VALUES or not values:
            continue
        for metric, min_count in WATCHED.items():
            rule = global_tails.get(metric)
            per = status_metric("approved") if metric.startswith("status:") else auth_code_metric("00")
            try:
                _, counts = history.slice_series(metric, dimension)
                _, reference = history.slice_series(per, dimension)
            except KeyError:
                continue  # the export has no such status or code
            if rule is None or not counts.any():
                continue
            fitted = _fit(counts, reference, analysis.clean, min_count, budget_minutes / len(values),
                          episodes_allowed)
            rule_id = f"{metric.partition(':')[2] if metric.startswith('status:') else 'auth_' + metric[10:]}" \
                      f"_by_{dimension}"
            out.rules.append({
                "id": rule_id, "type": "poisson_tail", "metric": metric, "per": per, "by": [dimension],
                "ratio": _round_ratio(fitted.pooled),
                "slices": {f"{dimension}={value}": _round_ratio(ratio)
                           for value, ratio in zip(values, fitted.ratios.tolist(), strict=True)},
                "window": WINDOW, "p_value": fitted.p_value, "min_count": min_count,
                "dispersion": None if fitted.size is None else round(fitted.size, 2),
                "severity": rule.severity, "for": 1, "resolve": RESOLVE,
                "description": f"{metric.partition(':')[2].replace('_', ' ')} "
                               f"{'declines' if metric.startswith('auth') else 'transactions'} above normal "
                               f"in one {dimension}",
            })
            out.why[rule_id] = fitted.why(metric, per, dimension, len(values), min_count, budget_minutes,
                                          episodes_allowed, train_days)
    return out


@dataclass
class _Fit:
    pooled: float
    ratios: np.ndarray
    size: float | None
    p_value: float
    first_p: float
    episodes: int
    shrunk: int  # slices whose own ratio moved more than halfway toward the pooled one

    def why(self, metric: str, per: str, dimension: str, slices: int, min_count: int, budget: float,
            allowed: float, days: float) -> str:
        law = "Poisson" if self.size is None else f"negative binomial (size {self.size:.1f}, pooled over the slices)"
        lowered = "" if self.p_value == self.first_p else f", lowered from {self.first_p:.2e}"
        return (f"usually {self.pooled:.4g} per {per} pooled over {slices} {dimension} values; each value's own "
                f"ratio shrunk toward it with a prior of {PRIOR_APPROVALS:g} approvals ({self.shrunk} small values "
                f"mostly borrow the pooled ratio); {law}; alert at {min_count}+ in {WINDOW} min when the tail "
                f"probability is below {self.p_value:.2e} (the metric's {budget:.2e} a minute over {slices} "
                f"slices{lowered}): {self.episodes} episodes over all slices on {days:.1f} normal training days, "
                f"the budget allows {allowed:.2f}")


def _rolling(values: np.ndarray, window: int) -> np.ndarray:
    """Sum of the ``window`` minutes ending at each minute (fewer at the start), per row."""
    cumulative = np.concatenate((np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1, dtype=np.float64)), axis=1)
    ends = np.arange(1, values.shape[1] + 1)
    return cumulative[:, ends] - cumulative[:, np.maximum(ends - window, 0)]


def critical_counts(table: TailTable, expected: np.ndarray) -> np.ndarray:
    """``table.critical_count`` for each expectation at once (the same grid, the same rounding up)."""
    flat = np.asarray(expected, dtype=np.float64).ravel()
    with np.errstate(divide="ignore"):
        index = np.ceil((np.log(np.maximum(flat, table.LOW)) - math.log(table.LOW)) / math.log(table.STEP) - 1e-9)
    index = np.where(flat <= table.LOW, 0, index).astype(np.int64)
    out = np.empty(len(flat), dtype=np.float64)
    beyond = index >= table.POINTS
    out[beyond] = np.floor(flat[beyond] + 4.0 * np.sqrt(flat[beyond])) + 1
    inside = ~beyond
    for point in np.unique(index[inside]).tolist():
        out[inside & (index == point)] = table.critical_count(table.LOW * table.STEP ** point * (1 - 1e-12))
    return out.reshape(np.shape(expected))


def _breaches(counts: np.ndarray, reference: np.ndarray, ratios: np.ndarray, p_value: float, size: float | None,
              min_count: int) -> np.ndarray:
    """The engine's test per slice and minute: window count >= max(min_count, critical(ratio_s x window approvals))."""
    observed = _rolling(counts, WINDOW)
    flags = observed >= min_count
    if not flags.any():
        return flags
    expected = ratios[:, None] * _rolling(reference, WINDOW)
    table = TailTable(p_value, size)
    rows, cols = np.nonzero(flags)
    limits = critical_counts(table, expected[rows, cols])
    out = np.zeros_like(flags)
    out[rows, cols] = observed[rows, cols] >= limits
    return out


def _episodes(flags: np.ndarray, usable: np.ndarray) -> int:
    """Alert episodes per slice over the usable minutes: a run of breaches, runs closer than RESOLVE one episode."""
    total = 0
    for row in flags & usable:
        minutes = np.flatnonzero(row)
        if len(minutes):
            total += 1 + int((np.diff(minutes) > RESOLVE).sum())
    return total


def _nb_size(counts: np.ndarray, expected_per_minute: np.ndarray, clean: np.ndarray) -> float | None:
    """Negative-binomial size of clean non-overlapping windows over all slices; None when Poisson fits."""
    n = counts.shape[1] // WINDOW * WINDOW
    if n == 0:
        return None
    xs = counts[:, :n].reshape(counts.shape[0], -1, WINDOW).sum(axis=2)
    mus = expected_per_minute[:, :n].reshape(counts.shape[0], -1, WINDOW).sum(axis=2)
    ok = clean[:, :n].reshape(counts.shape[0], -1, WINDOW).all(axis=2) & (mus > 0)
    xs, mus = xs[ok], mus[ok]
    if len(xs) < 30 or mus.mean() < 0.2:
        return None
    excess = float(((xs - mus) ** 2 - mus).sum())
    if excess <= 0:
        return None
    return max(float((mus ** 2).sum() / excess), 0.5)


def _long_runs(flags: np.ndarray, length: int) -> np.ndarray:
    """Only the runs of at least ``length`` consecutive flagged minutes of each row."""
    out = np.zeros_like(flags)
    for row in range(flags.shape[0]):
        edges = np.diff(np.concatenate(([0], flags[row].astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            if end - start >= length:
                out[row, start:end] = True
    return out


def _fit(counts: np.ndarray, reference: np.ndarray, clean: np.ndarray, min_count: int, first_p: float,
         allowed: float) -> _Fit:
    usable = np.broadcast_to(clean, counts.shape).copy()
    ratios = np.zeros(counts.shape[0])
    pooled = 0.0
    size = None
    for _round in range(2):
        # Estimate, then leave out each slice's own improbable windows (padded) and estimate again.
        metric_sums = (counts * usable).sum(axis=1).astype(np.float64)
        per_sums = (reference * usable).sum(axis=1).astype(np.float64)
        pooled = float(metric_sums.sum() / max(per_sums.sum(), 1.0))
        ratios = (metric_sums + PRIOR_APPROVALS * pooled) / (per_sums + PRIOR_APPROVALS)
        size = _nb_size(counts, ratios[:, None] * reference, usable)
        flagged = _long_runs(_breaches(counts, reference, ratios, CLEANING_P, size, 3), INCIDENT_RUN)
        spread = _rolling(flagged.astype(np.float64), WINDOW + 5) > 0
        usable = np.broadcast_to(clean, counts.shape) & ~spread & ~np.roll(spread, -5, axis=1)
    own = counts.sum(axis=1) / np.maximum(reference.sum(axis=1), 1)
    shrunk = int((np.abs(ratios - pooled) < 0.5 * np.abs(own - pooled)).sum())
    p_value = _round_p(first_p)
    episodes = _episodes(_breaches(counts, reference, ratios, p_value, size, min_count), usable)
    while episodes > allowed and p_value > LOWEST_P:
        p_value = _round_p(p_value / 10)
        episodes = _episodes(_breaches(counts, reference, ratios, p_value, size, min_count), usable)
    return _Fit(pooled, ratios, size, p_value, _round_p(first_p), episodes, shrunk)


def _round_ratio(value: float) -> float:
    return float(f"{value:.5g}")
