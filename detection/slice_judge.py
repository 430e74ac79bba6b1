"""Judging rules per slice: a ``poisson_tail`` rule with ``"by": ["acquirer"]`` watches every acquirer on its own.

For each closed minute, each sliced rule reads the window sums of all its slices at once (numpy, from
``SliceSeries``): only slices whose count reaches the rule's ``min_count`` can breach, so the tail
test runs for few of thousands. A slice's expectation is its own ratio (the thresholds file's
``slices``, learned per slice and shrunk toward the pooled ratio by the analysis CLI) times its own
reference count (its approvals) over the window; a slice the file does not know uses the pooled ratio,
scaled by its own volume in the same way. The rule's ``p_value`` is chosen by the learner for all its
slices together, so many slices do not mean many false alarms.

The lifecycle (pending, firing, resolved) is the Monitor's, run on a ``SliceRule``: a per-slice view of
the rule whose ``metric`` is the slice metric (``status:denied@acquirer=acq-07``) and whose state is kept
under ``state_key`` (``<rule id>|<slice>``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import wording
from .metrics import feed_of
from .rules import Judgement, Rule
from .slice_series import SliceSeries
from .slices import slice_dimension, slice_metric

STATE_SEPARATOR = "|"


class SliceRule:
    """One slice's view of a sliced rule: what the Monitor's rule lifecycle needs (id, metric, wording)."""

    def __init__(self, rule: Any, key: str):
        self.rule = rule
        self.key = key
        self.id = rule.id
        self.by = rule.by
        self.metric = slice_metric(rule.metric, key)
        self.state_key = f"{rule.id}{STATE_SEPARATOR}{key}"
        self.type_name = rule.type_name
        self.severity = rule.severity
        self.for_minutes = rule.for_minutes
        self.resolve_minutes = rule.resolve_minutes
        self.ratio = rule.slice_ratios.get(key, rule.ratio)

    def worse(self, new: float, old: float) -> bool:
        return new > old

    def message(self, judgement: Judgement) -> str:
        w = self.rule.window
        expected = None if judgement.expected is None else judgement.expected * w
        return wording.window_count_message(self.metric, judgement.value * w, w, expected)

    def detail(self, judgement: Judgement) -> str:
        w = self.rule.window
        expected = None if judgement.expected is None else judgement.expected * w
        return wording.tail_detail(judgement.value * w, w, expected, judgement.threshold * w, self.rule.min_count,
                                   self.rule.p_value, self.rule.dispersion, self.ratio, self.rule.per)


class SliceJudge:
    """The sliced rules of one thresholds file, judged slice by slice (owned by the Monitor, under its lock)."""

    def __init__(self, rules: Sequence[Rule]):
        self.rules = list(rules)
        self._by_id = {rule.id: rule for rule in self.rules}
        self._by_feed: dict[str, list[Any]] = {}
        for rule in self.rules:
            self._by_feed.setdefault(feed_of(rule.metric), []).append(rule)
        self._views: dict[str, SliceRule] = {}  # state key -> its view (made once per slice)
        # (rule id, metric) -> ((slice count, series count), rows): the slices of a group only ever grow, in
        # order, and a slice's series of a sparse metric may appear later than the slice (its first failure):
        # a new series of any slice makes the rows be looked up again.
        self._rows: dict[tuple[str, str], tuple[tuple[int, int], np.ndarray]] = {}

    def forget_rows(self) -> None:
        """Memory was rebuilt (a new SliceSeries numbers its rows anew): look every slice's rows up again."""
        self._rows.clear()

    def rules_of(self, feed: str) -> list[Any]:
        return self._by_feed.get(feed, [])

    def view(self, rule: Any, key: str) -> SliceRule:
        state_key = f"{rule.id}{STATE_SEPARATOR}{key}"
        view = self._views.get(state_key)
        if view is None:
            view = self._views[state_key] = SliceRule(rule, key)
        return view

    def views_of(self, saved_states: Mapping[str, Any]) -> list[SliceRule]:
        """The views whose states the store holds (rules still configured, slices of their dimension)."""
        out = []
        for state_key in saved_states:
            rule_id, sep, key = state_key.partition(STATE_SEPARATOR)
            rule = self._by_id.get(rule_id)
            if not sep or rule is None:
                continue
            try:
                if slice_dimension(key) != ",".join(rule.by):
                    continue
            except ValueError:
                continue
            out.append(self.view(rule, key))
        return out

    def _rows_of(self, rule: Any, metric: str, keys: list[str], slices: SliceSeries) -> np.ndarray:
        known = self._rows.get((rule.id, metric))
        stamp = (len(keys), slices.series_count)
        if known is not None and known[0] == stamp:
            return known[1]
        rows = slices.rows(metric, keys)
        self._rows[(rule.id, metric)] = (stamp, rows)
        return rows

    def judge(self, feed: str, slices: SliceSeries, minute: int,
              active: Mapping[str, set[str]]) -> Iterator[tuple[SliceRule, Judgement]]:
        """(view, judgement) for each slice that reaches its rule's minimum count, or whose state is not idle."""
        for rule in self._by_feed.get(feed, ()):
            keys = slices.keys(",".join(rule.by))
            if not keys:
                continue
            w = rule.window
            observed = slices.window_sums(self._rows_of(rule, rule.metric, keys, slices), minute, w)
            candidates = set(np.flatnonzero(observed >= rule.min_count).tolist())
            still = active.get(rule.id)
            if still:
                positions = {key: index for index, key in enumerate(keys)}
                candidates.update(positions[key] for key in still if key in positions)
            if not candidates:
                continue
            ordered = sorted(candidates)
            per_rows = self._rows_of(rule, rule.per, keys, slices)[ordered]
            reference = slices.window_sums(per_rows, minute, w)
            for index, per in zip(ordered, reference.tolist(), strict=True):
                view = self.view(rule, keys[index])
                count = int(observed[index])
                if count < rule.min_count:
                    yield view, Judgement(False, count / w, rule.min_count / w, True, None)
                    continue
                expected = view.ratio * per
                critical = max(rule.min_count, rule._table.critical_count(expected))
                breach = count >= critical
                yield view, Judgement(breach, count / w, critical / w, not breach, expected / w, w)
