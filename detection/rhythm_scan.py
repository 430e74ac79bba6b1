"""The profile_drop rule's bulk skip-ahead: which of many minutes could breach, worked out for all of them at once.

``ProfileDropRule.judge`` recomputes today's level for every minute (60 reference minutes, a 5-minute
smoothing, a median, two halves): about 60 us a minute in Python, most of a bulk replay's time. Here the
same sums are taken for a whole block of consecutive minutes with numpy, and a minute is ruled out only
where it cannot breach by a margin far wider than the float rounding between the two ways of summing
(1e-9 against ~1e-13). Every other minute (a feed gap or a zero profile hour near it, a reference minute
too close to the dip floor to be sure which side it falls on, a window near its limit) is left to the
plain ``judge``, so the decisions, the started_at and the Judgement's values are the plain judgement's.

Nothing is remembered between calls: each call reads the counts as they are then, so late rows and
feed gaps are seen exactly as ``judge`` sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .metrics import feed_of
from .series import SeriesView

if TYPE_CHECKING:
    from .rhythm import ProfileDropRule

Rows = np.ndarray  # one value per judged minute of the block

# Relative slack between these sums and judge's (both float64; their rounding differs by ~1e-13).
SLACK = 1e-9


def possible_breaches(rule: ProfileDropRule, view: SeriesView, minutes: Sequence[int]) -> list[int]:
    """Indices into ``minutes`` (ascending epoch minutes) that the plain judgement must look at; every
    other minute is certain not to breach."""
    from .rhythm import MAX_TREND, MINUTES_PER_WEEK, MONDAY_OFFSET  # rhythm imports this module lazily

    k = len(minutes)
    if k == 0:
        return []
    longest, reference = max(rule.windows), rule.reference
    half = reference // 2
    low = minutes[0] - longest - reference + 1  # the first minute's first reference minute
    span = minutes[-1] - low + 1
    if span > 4 * k + longest + reference:
        return list(range(k))  # minutes far apart: their references hold gaps anyway
    counts, seen = view.counts_of(rule.metric), view.received_of(feed_of(rule.metric))
    every = range(low, low + span)
    count = np.fromiter(map(counts.get, every, [0] * span), dtype=np.float64, count=span)
    received = np.fromiter(map(seen.__contains__, every), dtype=bool, count=span)
    shape = rule.profile.array[(np.arange(low + MONDAY_OFFSET, low + MONDAY_OFFSET + span)) % MINUTES_PER_WEEK]
    offset = np.asarray(minutes, dtype=np.int64) - minutes[0]  # row j's reference starts at column offset[j]
    pairs = _Pairs(count, shape, received, offset, reference)
    level, has_level, change, size, sure = _levels(rule, pairs, half)

    # Every window at once: rows down, windows across. Column ``last`` is just past a row's judged minute.
    windows, ahead = _window_constants(rule.windows, half)
    last = (offset + (longest + reference))[:, None]
    before = last - windows
    observed = pairs.running_count_of_columns[last] - pairs.running_count_of_columns[before]
    shape_sum = pairs.running_shape_of_columns[last] - pairs.running_shape_of_columns[before]
    level, size = level[:, None], size[:, None]
    if rule.trend:  # judge's _extrapolate for every row and window
        bound = MAX_TREND * level
        level = np.maximum(level + np.maximum(-bound, np.minimum(bound, change[:, None] * ahead)), 0.0)
    high = level * shape_sum * (1 + SLACK) + SLACK * (size * (shape_sum + 1.0) + 1.0)
    # A window judge looks at breaches only if its expectation is at least min_expected and the count at
    # most (1 - min_change) of it; judge stops at the first window holding a minute with no data.
    quiet = (high < rule.min_expected) | (observed > (1 - rule.min_change) * high)
    if not pairs.every_received:
        missing = np.concatenate(([0], np.cumsum(~received)))
        quiet |= missing[last] > missing[before]
    return np.flatnonzero(~(sure & (quiet.all(axis=1) | ~has_level))).tolist()


@lru_cache(maxsize=16)
def _window_constants(windows: tuple[int, ...], half: int) -> tuple[np.ndarray, np.ndarray]:
    """The windows, and for each how far (in halves' spacings) its middle is from the newer half's
    middle: judge's ``ahead``, whose difference is exact there (the minute cancels)."""
    longest = max(windows)
    return np.array(windows), np.array([(longest + (half - 1) / 2 - (w - 1) / 2) / half for w in windows])


class _Pairs:
    """judge's reference "pairs" (minutes received, with a profile above 0) of every row, packed together:
    row j's are packed[start[j]:start[j] + number[j]], the first ``older[j]`` of them its older half."""

    def __init__(self, count: np.ndarray, shape: np.ndarray, received: np.ndarray, offset: np.ndarray,
                 reference: int):
        self.reference = reference
        self.every_received = bool(received.all())
        self.running_count_of_columns = np.concatenate(([0.0], np.cumsum(count)))
        self.running_shape_of_columns = np.concatenate(([0.0], np.cumsum(shape)))
        positive = shape > 0
        if self.every_received and bool(positive.all()):  # the usual case: every minute is a pair
            self.start, self.number = offset, np.full(len(offset), reference)
            self.older = np.full(len(offset), reference - reference // 2)
            self.count, self.shape = count, shape
            self.running_count, self.running_shape = self.running_count_of_columns, self.running_shape_of_columns
        else:
            good = received & positive
            before = np.concatenate(([0], np.cumsum(good)))  # pairs before each column
            self.start = before[offset]
            self.number = before[offset + reference] - self.start
            self.older = before[offset + reference - reference // 2] - self.start
            self.count, self.shape = count[good], shape[good]
            self.running_count = np.concatenate(([0.0], np.cumsum(self.count)))
            self.running_shape = np.concatenate(([0.0], np.cumsum(self.shape)))
        self.running_ratio = np.concatenate(([0.0], np.cumsum(self.count / self.shape)))
        # Judge's ratios are summed over one reference, these over the block: both err far below this.
        self.tolerance = SLACK * (abs(float(self.running_ratio[-1])) + 1.0)


def _levels(rule: ProfileDropRule, pairs: _Pairs, half: int) -> tuple[Rows, Rows, Rows, Rows, Rows]:
    """Per row: judge's (level, whether it has one, change) from ``levels``, a size for the slack, and
    whether all of that is certain. A reference whose minutes all have data and no dip is the usual case
    and is summed whole; the others go through the smoothing and the median."""
    from .rhythm import DIP_SHARE

    reference, tolerance = pairs.reference, pairs.tolerance
    rows = len(pairs.start)
    level, change, size = np.zeros(rows), np.zeros(rows), np.ones(rows)
    has_level, sure = np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool)
    whole = np.flatnonzero(pairs.number == reference)
    if len(whole):
        # No dip, for sure, where the lowest smoothed value is above DIP_SHARE x (mean + sd) of them: a
        # median is never more than one sd above the mean. The sums of judge's 5-minute smoothing are
        # running sums: the inner values are one centred mean, the two at each end 3- and 4-minute means.
        ratio = pairs.running_ratio
        centred = (ratio[5:] - ratio[:-5]) / 5
        running, running_squares = (np.concatenate(([0.0], np.cumsum(v))) for v in (centred, centred * centred))
        start = pairs.start[whole]
        inner = as_strided(centred, (len(centred) - reference + 5, reference - 4), centred.strides * 2,
                           writeable=False)  # sliding windows, without sliding_window_view's checks
        inner = inner[start[0]:start[-1] + 1] if start[-1] - start[0] == len(start) - 1 else inner[start]
        edges = ratio[start[:, None] + np.array([0, 3, 4, reference - 4, reference - 3, reference])]
        ends = (edges[:, [1, 2, 5, 5]] - edges[:, [0, 0, 3, 4]]) / np.array([3, 4, 4, 3])
        total = running[start + reference - 4] - running[start] + ends.sum(axis=1)
        squares = running_squares[start + reference - 4] - running_squares[start] + (ends * ends).sum(axis=1)
        mean = total / reference
        spread = np.sqrt(np.maximum(squares / reference - mean * mean + 1e-12 * (squares / reference + 1.0), 0.0))
        lowest = np.minimum(inner.min(axis=1), ends.min(axis=1))
        clean = lowest - tolerance > DIP_SHARE * (mean + spread + tolerance)
        undipped = whole if clean.all() else whole[clean]
        split = reference - half
        marks = pairs.start[undipped][:, None] + np.array([0, split, reference])
        counted, weight = pairs.running_count[marks], pairs.running_shape[marks]
        if rule.trend:
            recent = (counted[:, 2] - counted[:, 1]) / (weight[:, 2] - weight[:, 1])
            before = (counted[:, 1] - counted[:, 0]) / (weight[:, 1] - weight[:, 0])
            level[undipped], change[undipped] = recent, recent - before
            size[undipped] = np.abs(recent) + np.abs(before) + 1.0
        else:
            level[undipped] = (counted[:, 2] - counted[:, 0]) / (weight[:, 2] - weight[:, 0])
            size[undipped] = np.abs(level[undipped]) + 1.0
        has_level[undipped] = sure[undipped] = True
        if len(undipped) == rows:
            return level, has_level, change, size, sure
    # judge has no level from fewer pairs than half the reference: certain, nothing breaches.
    too_few = pairs.number * 2 < reference
    sure[too_few] = True
    rest = np.flatnonzero(~sure & ~too_few)
    if len(rest):
        _smoothed_levels(rule, pairs, half, rest, (level, has_level, change, size, sure))
    return level, has_level, change, size, sure


def _smoothed_levels(rule: ProfileDropRule, pairs: _Pairs, half: int, rows: np.ndarray,
                     out: tuple[Rows, Rows, Rows, Rows, Rows]) -> None:
    """judge's ``levels`` for these rows as it computes them, whatever their number of pairs: the 5-pair
    smoothing, which pairs the dip floor keeps, and the level over those (in each half, with a trend).
    A row's pairs fill the first ``number`` columns of a reference-wide matrix; the rest are masked."""
    from .rhythm import DIP_SHARE

    level, has_level, change, size, sure = out
    number, start = pairs.number[rows][:, None], pairs.start[rows][:, None]
    column = np.arange(pairs.reference)[None, :]
    used = column < number
    first, end = np.maximum(column - 2, 0), np.minimum(column + 3, number)  # judge's _neighbourhoods
    top = len(pairs.running_ratio) - 1
    ratio = pairs.running_ratio
    smooth = np.where(used, (ratio[np.minimum(start + end, top)] - ratio[np.minimum(start + first, top)])
                      / np.maximum(end - first, 1), np.inf)  # unused columns sort last
    floor = DIP_SHARE * np.take_along_axis(np.sort(smooth, axis=1), number // 2, axis=1)
    kept = used & (smooth >= floor)
    # Which side of the floor a pair is on is certain only away from it (judge sums in another order).
    sure[rows] = ~(used & (np.abs(smooth - floor) <= pairs.tolerance)).any(axis=1)
    at = np.minimum(start + column, len(pairs.count) - 1)
    kept_counts, kept_shapes = pairs.count[at] * kept, pairs.shape[at] * kept

    def level_of(columns: np.ndarray) -> tuple[Rows, Rows]:
        """(level, whether judge has one) over the kept pairs of these columns (a mask per row)."""
        counted = (kept & columns).sum(axis=1)
        weight = (kept_shapes * columns).sum(axis=1)
        ok = (counted * 4 >= half) & (weight > 0)
        return np.divide((kept_counts * columns).sum(axis=1), weight, out=np.zeros(len(rows)), where=ok), ok

    newer = column >= pairs.older[rows][:, None]
    if rule.trend:
        recent, has_recent = level_of(newer)
        before, has_before = level_of(~newer)
        level[rows], has_level[rows], change[rows] = recent, has_recent & has_before, recent - before
        size[rows] = np.abs(recent) + np.abs(before) + 1.0
    else:
        level[rows], has_level[rows] = level_of(used)
        size[rows] = np.abs(level[rows]) + 1.0
