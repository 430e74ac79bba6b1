"""The count one minute would need for a rule to breach there: the alert line a chart can draw for any rule.

A rule judges a window (a sum, a share, a level against a reference), so a fixed
per-minute bound is not its condition: quiet traffic crosses it without an alert
and a window filling up breaches below it. Here, with every other minute and metric
held as received, ``rule.judge(view, m).breach`` is asked as a function of one
count at minute m, and the line is put where that verdict turns, half-way between
the two counts on either side (``alert_line``). The series is then beyond the line
exactly at the minutes the rule breaches.

The turn is looked for starting from the count received (galloping away from it,
then bisecting), so the line is always consistent with the verdict on the count
that was received, even where a rule is not monotone in one minute's count (a
tail table's 4% steps can make a share rule's limit jump by more than one count):
there the line is a turn on the right side of the count received (the neighbouring
minute's, when it is one, else the nearest). For the other rule types the verdict
is monotone (more of a bad count, or less of an approval, can only breach more),
so the line is simply the least (the largest, firing below) count that breaches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Protocol

from .metrics import RATE_PREFIX, STATUS_FEED, split_metric, status_metric
from .series import SeriesView

# How far a search for a turn goes from the count received: past it, no count alerts at that minute.
MAX_COUNT = 1 << 20


class JudgingRule(Protocol):
    """What is needed of a rule here: its metric, its verdict, and which side of a value is worse."""

    metric: str

    def judge(self, view: SeriesView, minute: int): ...

    def worse(self, new: float, old: float) -> bool: ...


def counted_metric(rule: JudgingRule) -> str:
    """The count whose minute is varied: the rule's metric, or for a share (``rate:denied``) its status."""
    return status_metric(rule.metric[len(RATE_PREFIX):]) if rule.metric.startswith(RATE_PREFIX) else rule.metric


def fires_below(rule: JudgingRule) -> bool:
    """Whether fewer counts is what alerts (approval drops, ``below`` thresholds): a lower line, not an upper."""
    return rule.worse(0.0, 1.0)


class ColumnSeries:
    """A ``SeriesView`` over aligned columns (a snapshot's copies): minutes ``start`` onwards, zero outside.

    Counts are held as plain dicts and sets, as ``MinuteSeries`` holds them: a rule asks for a minute's count
    tens of times a judgement, and a dict answers that in C.
    """

    def __init__(self, start: int, counts: Mapping[str, Sequence[int]], received: Mapping[str, Sequence[bool]]):
        self.start = start
        minutes = range(start, start + max((len(v) for v in counts.values()), default=0))
        self._values = dict(counts)
        self._columns = {metric: dict(zip(minutes, values, strict=False)) for metric, values in counts.items()}
        self._received = {feed: frozenset(m for m, seen in zip(minutes, flags, strict=False) if seen)
                          for feed, flags in received.items()}
        statuses = [values for metric, values in counts.items() if split_metric(metric)[0] == STATUS_FEED]
        self._totals = dict(zip(minutes, map(sum, zip(*statuses, strict=True)), strict=False)) if statuses else {}

    def count(self, metric: str, minute: int) -> int:
        column = self._columns.get(metric)
        return column.get(minute, 0) if column else 0

    def counts_of(self, metric: str) -> Mapping[int, int]:
        return self._columns.get(metric) or {}

    def window_sum(self, metric: str, end_minute: int, minutes: int) -> int:
        values = self._values.get(metric)
        if values is None:
            return 0
        lo, hi = max(end_minute - minutes + 1 - self.start, 0), max(end_minute + 1 - self.start, 0)
        return sum(values[lo:hi])

    def value(self, metric: str, minute: int) -> float:
        return _value(self, metric, minute)

    def received_of(self, feed: str) -> AbstractSet[int]:
        return self._received.get(feed, frozenset())

    def status_totals(self) -> Mapping[int, int]:
        return self._totals


def _value(view: SeriesView, metric: str, minute: int) -> float:
    """``SeriesView.value`` from counts and totals, as ``MinuteSeries`` computes it."""
    if metric.startswith(RATE_PREFIX):
        total = view.status_totals().get(minute, 0)
        return view.count(status_metric(metric[len(RATE_PREFIX):]), minute) / total if total else 0.0
    return float(view.count(metric, minute))


class OneMinuteChanged:
    """``base`` with the count of ``metric`` at one minute set to ``count`` (and, for a status, the totals with
    it); which minutes the feed sent data for is unchanged. ``move_to`` another minute and ``set_count`` again
    as often as needed: the copies of the metric's counts and of the totals (made the first time a rule asks
    for them, as dicts, so a rule's look-ups stay at C speed) are changed in place and put back on a move."""

    def __init__(self, base: SeriesView, metric: str, minute: int | None = None):
        self.base = base
        self.metric = metric
        self._status = split_metric(metric)[0] == STATUS_FEED
        self._counts: dict[int, int] | None = None
        self._totals: dict[int, int] | None = None
        self.minute = 0
        self.received = self.delta = self._total = 0
        self._moved = False
        if minute is not None:
            self.move_to(minute)

    def move_to(self, minute: int) -> None:
        if self._moved:
            self._put_back()
        self.minute, self._moved = minute, True
        self.received = self.base.count(self.metric, minute)
        self._total = self.base.status_totals().get(minute, 0)
        self.delta = 0

    def _put_back(self) -> None:
        for copy, original in ((self._counts, self.base.counts_of(self.metric)),
                               (self._totals, self.base.status_totals() if self._status else None)):
            if copy is None or original is None:
                continue
            if self.minute in original:
                copy[self.minute] = original[self.minute]
            else:
                copy.pop(self.minute, None)

    def set_count(self, count: int) -> None:
        self.delta = count - self.received
        if self._counts is not None:
            self._counts[self.minute] = count
        if self._totals is not None:
            self._totals[self.minute] = self._total + self.delta

    def count(self, metric: str, minute: int) -> int:
        if metric == self.metric and minute == self.minute:
            return self.received + self.delta
        return self.base.count(metric, minute)

    def counts_of(self, metric: str) -> Mapping[int, int]:
        if metric != self.metric:
            return self.base.counts_of(metric)
        if self._counts is None:
            self._counts = dict(self.base.counts_of(metric))
            self._counts[self.minute] = self.received + self.delta
        return self._counts

    def window_sum(self, metric: str, end_minute: int, minutes: int) -> int:
        total = self.base.window_sum(metric, end_minute, minutes)
        if metric == self.metric and end_minute - minutes < self.minute <= end_minute:
            total += self.delta
        return total

    def value(self, metric: str, minute: int) -> float:
        return _value(self, metric, minute)

    def received_of(self, feed: str) -> AbstractSet[int]:
        return self.base.received_of(feed)

    def status_totals(self) -> Mapping[int, int]:
        if not self._status:
            return self.base.status_totals()
        if self._totals is None:
            self._totals = dict(self.base.status_totals())
            self._totals[self.minute] = self._total + self.delta
        return self._totals


def _turn(breach, start: int, verdict: bool, step_sign: int) -> tuple[int, int] | None:
    """(last count with ``verdict``, first count without it) going from ``start`` by ``step_sign``, adjacent; None
    when the verdict holds as far as the search goes (down to 0, or up to ``MAX_COUNT``)."""
    same, step = start, 1
    while True:
        other = start + step_sign * step
        if other < 0 or other > MAX_COUNT:
            other = 0 if step_sign < 0 else MAX_COUNT
            if other == same or breach(other) == verdict:
                return None
            break
        if breach(other) != verdict:
            break
        same, step = other, step * 2
    while abs(other - same) > 1:  # bisect: ``same`` keeps the verdict, ``other`` does not
        middle = (same + other) // 2
        if breach(middle) == verdict:
            same = middle
        else:
            other = middle
    return same, other


def critical_count(rule: JudgingRule, view: SeriesView, minute: int, hint: int | None = None,
                   changed: OneMinuteChanged | None = None) -> int | None:
    """Where the verdict of ``rule`` at ``minute`` turns, as one count of its ``counted_metric`` varies.

    A rule that fires above: the least count c that breaches, so a count breaches exactly when it is c or
    more; None when no count breaches. A rule that fires below: the largest count that breaches; None when
    none does. (Each the turn nearest the count received where the rule is not monotone; see the module.)
    ``hint``, the neighbouring minute's answer, is where the search starts: lines are mostly flat or move by
    a count or two, so three judgements usually settle a minute instead of a dozen. ``changed``: a
    ``OneMinuteChanged`` over ``view`` and the rule's counted metric to reuse (its copies are made once).
    """
    if changed is None:
        changed = OneMinuteChanged(view, counted_metric(rule))
    changed.move_to(minute)
    received = changed.received
    known: dict[int, bool] = {}

    def breach(count: int) -> bool:
        verdict = known.get(count)
        if verdict is None:
            if count == received:
                verdict = bool(rule.judge(view, minute).breach)
            else:
                changed.set_count(count)
                verdict = bool(rule.judge(changed, minute).breach)
            known[count] = verdict
        return verdict

    below = fires_below(rule)
    if hint is not None and 0 <= hint <= MAX_COUNT and hint != received:
        found = _nearest(breach, hint, below)
        # A monotone rule has one turn, so the one found from the hint is it; any other rule's is taken only
        # when it agrees with the verdict on the count received.
        if found is not None and (monotone_in_count(rule) or
                                  (received <= found if below else received >= found) == breach(received)):
            return found
    found = _nearest(breach, received, below)
    if found is None and breach(received):
        return MAX_COUNT if below else 0  # every count breaches, as far as the search goes
    return found


# Rule types whose verdict at a minute can only turn once as that minute's count grows (``monotone_in_count``).
# Not ``rate``: its limit is a tail table's count for the window's total, which the count itself is part of,
# and at the table's 4% steps the limit can jump by more than the one count added.
MONOTONE_TYPES = frozenset({"threshold", "poisson_tail", "seasonal", "drop", "profile_drop", "sequential_drop"})


def monotone_in_count(rule: JudgingRule) -> bool:
    """Whether more of the counted metric at a minute can only move the rule's verdict one way: thresholds and
    window sums against limits that do not depend on that count (a tail rule's reference is another metric;
    a drop rule's level comes from minutes before its windows)."""
    if getattr(rule, "type_name", None) not in MONOTONE_TYPES:
        return False
    return getattr(rule, "per", None) != counted_metric(rule)  # a tail rule referenced to its own count is not


def _nearest(breach, start: int, below: bool) -> int | None:
    """The turn found from ``start``: for a rule firing above, the least breaching count of the pair either side
    of it; firing below, the largest breaching one. None when the verdict never turns in that direction."""
    verdict = breach(start)
    # Breaching above: the turn is below ``start``; breaching below: above it; and the other way round when clean.
    step_sign = (+1 if verdict else -1) if below else (-1 if verdict else +1)
    found = _turn(breach, start, verdict, step_sign)
    if found is None:
        return None
    same, other = found
    return same if verdict else other


def alert_line(rule: JudgingRule, critical: int | None) -> float | None:
    """The value to draw for a ``critical_count``: half a count outside it, so no count sits on the line and a
    count is beyond the line exactly when it breaches."""
    if critical is None:
        return None
    return critical + 0.5 if fires_below(rule) else critical - 0.5
