"""Statistical rule types: a Poisson / negative-binomial tail for sparse counts, a seasonal
(hour-of-day) rule for high counts, and a rate rule on a status's share of all transactions.

Each is a small pure object like ``ThresholdRule``: its thresholds are worked out once when it
is built (from the thresholds file), so ``judge`` only sums a short window and looks a number up.
They judge closed minutes only (their expectation depends on the rest of the minute's data), except a
``poisson_tail`` rule with ``judge_open``: it judges the open minute too, its reference count floored at the
previous minute's when it is under half of it, so a spike posted in one batch fires in the minute it arrives instead of the next.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import wording
from .metrics import AUTH_CODE_FEED, RATE_PREFIX, STATUS_FEED, feed_of, split_metric, status_metric
from .rules import ConfigError, FieldReader, Judgement, Rule, register_rule
from .series import SeriesView

HOURS = 24
MAX_WINDOW = 60
# judge_open: a newest minute whose reference count is under this fraction of the minute before is taken
# as half-posted and counted as the minute before. Ordinary minutes never fall this far (approvals vary
# about 10% a minute), so a complete minute is judged on its own counts and the tail keeps its budget.
OPEN_FLOOR = 0.5


def hour_of_day(minute: int) -> int:
    """UTC hour of an epoch minute: the index into a 24-value profile."""
    return (minute % 1440) // 60


def read_profile(reader: FieldReader, key: str, minimum: float = 0.0) -> tuple[float, ...]:
    """A per-minute level: one number (flat) or 24 numbers, one per UTC hour of day."""
    reader.used.add(key)
    if key not in reader.obj:
        raise ConfigError(f"{reader.where}.{key}: is required")
    value = reader.obj[key]
    values = value if isinstance(value, list) else [value]
    ok = len(values) in (1, HOURS) and all(
        not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v >= minimum for v in values
    )
    if not ok:
        raise ConfigError(
            f"{reader.where}.{key}: expected a number >= {minimum:g} or a list of 24 such numbers "
            f"(one per UTC hour), got {value!r}"
        )
    return tuple(float(v) for v in values)


def profile_config(profile: Sequence[float]) -> float | list[float]:
    return profile[0] if len(profile) == 1 else [round(v, 6) for v in profile]


def _at(profile: Sequence[float], minute: int) -> float:
    return profile[0] if len(profile) == 1 else profile[hour_of_day(minute)]


def _window(reader: FieldReader, default: int) -> int:
    window = reader.int("window", default, minimum=1)
    if window > MAX_WINDOW:
        raise ConfigError(f"{reader.where}.window: expected an integer from 1 to {MAX_WINDOW}, got {window}")
    return window


def _probability(reader: FieldReader, key: str) -> float:
    value = reader.number(key)
    if not 0 < value < 0.5:
        raise ConfigError(f"{reader.where}.{key}: expected a probability between 0 and 0.5, got {value!r}")
    return value


def count_limits(p_value: float, dispersion: float | None, means: Sequence[float], lower: bool = False) -> list[int]:
    """For each expected count, the count at which a tail of probability ``p_value`` starts.

    Upper (default): the smallest c with P(X >= c) <= p. Lower: the largest c with P(X <= c) <= p
    (-1 when even 0 is not that unlikely). X is Poisson(mean), or negative binomial with size
    ``dispersion`` (variance mean + mean^2 / size). Each law's probabilities are summed in log space
    by their ratio recursion, so small tails keep their precision (no scipy needed at run time).
    """
    import numpy as np  # only when a statistical rule is built

    out = []
    for mean in means:
        spread = math.sqrt(mean * (1 + (mean / dispersion if dispersion else 0.0)))
        # The search reaches 14 spreads past the mean, then further for the rarer tails a small p asks for
        # (p = 1e-60 lies about 20 spreads out); past about 40 spreads every probability underflows to 0.
        for spreads in (14, 48, 160):
            found = _tail_limit(np, p_value, dispersion, mean, int(mean + spreads * spread + 40), lower)
            if found is not None:
                break
        out.append(found if found is not None else int(mean + 160 * spread + 41))
    return out


def _tail_limit(np: Any, p_value: float, dispersion: float | None, mean: float, top: int, lower: bool) -> int | None:
    """``count_limits`` for one mean, searching counts 0..top; None when the upper tail reaches past ``top``."""
    k = np.arange(1, top + 1, dtype=np.float64)
    if dispersion is None:
        first = -mean
        steps = math.log(mean) - np.log(k)
    else:
        q = mean / (dispersion + mean)  # the failure probability of the NB law
        first = dispersion * math.log1p(-q)
        steps = np.log(k - 1 + dispersion) - np.log(k) + math.log(q)
    log_pmf = np.concatenate(([first], first + np.cumsum(steps)))
    pmf = np.exp(log_pmf - log_pmf.max()) * math.exp(log_pmf.max())
    if lower:
        cdf = np.cumsum(pmf)
        return int(np.searchsorted(cdf, p_value, side="right")) - 1
    upper_tail = np.cumsum(pmf[::-1])[::-1]  # P(X >= c), summed from the far end for precision
    return int(np.argmax(upper_tail <= p_value)) if (upper_tail <= p_value).any() else None


class TailTable:
    """Tail limits (``count_limits``) on a geometric grid of expected counts, filled in as needed.

    The grid has 4% steps; a lookup rounds the expectation up to the next grid point (down for a
    lower bound), so the threshold errs on the side of fewer alerts. A rule meets only a narrow
    band of expectations, so each grid point is worked out the first time it is needed (about
    60 us) and then looked up.
    """

    LOW = 1e-3
    STEP = 1.04
    POINTS = 360  # up to about 1e3 * 1.3e3: beyond any per-window count of one status

    def __init__(self, p_value: float, dispersion: float | None, lower: bool = False):
        self.p_value = p_value
        self.dispersion = dispersion
        self.lower = lower
        self.critical: list[int | None] = [None] * self.POINTS
        self._log_low = math.log(self.LOW)
        self._log_step = math.log(self.STEP)

    def _fill(self, index: int) -> int:
        mean = self.LOW * self.STEP**index
        value = self.critical[index] = count_limits(self.p_value, self.dispersion, [mean], self.lower)[0]
        return value

    def remembered(self, known: dict[int, int], factor: float, count: int) -> int:
        """``critical_count(factor * count)``, kept in ``known`` by the whole count (cleared past a few thousand):
        a quiet rule's skip-ahead asks for nearly every minute, and the counts it meets repeat."""
        if len(known) >= 4096:
            known.clear()
        value = known[count] = self.critical_count(factor * count)
        return value

    def critical_count(self, expected: float) -> int:
        if expected <= self.LOW:
            index = 0
        else:
            index = math.ceil((math.log(expected) - self._log_low) / self._log_step - 1e-9)
            if index >= self.POINTS:
                # Far beyond the grid: a normal approximation is exact enough for such counts.
                margin = 4.0 * math.sqrt(expected)
                return int(expected - margin) - 1 if self.lower else int(expected + margin) + 1
            if self.lower:
                index = max(index - 1, 0)  # round the expectation down instead: a lower bound errs low
        value = self.critical[index]
        return self._fill(index) if value is None else value


@register_rule
class PoissonTailRule(Rule):
    """Sparse counts: too many in a short window for the metric's usual ratio to a reference count.

    Expected window count = ``ratio`` x (the ``per`` metric's count in the same window), where
    ``per`` is a high-volume count of the same feed (approvals, or auth code 00), so volume swings
    (a daily cycle) move the expectation with them. A breach needs the window count to be at
    least ``min_count`` and to have an upper-tail probability of at most ``p_value`` under a
    Poisson (``dispersion`` null) or negative binomial (size ``dispersion``) law.

    ``judge_open``: the rule also judges the minute still open (the engine calls ``judge`` on it as data
    arrives), and a newest minute whose reference count is under half the previous minute's counts as
    the previous minute's. A minute usually arrives in one batch, but when it trickles in, its reference
    so far may lag its denials; the floor keeps a half-posted minute from looking like a spike. The same floor applies when
    the minute is judged closed, so replaying history gives the same alerts as receiving it live.
    """

    type_name = "poisson_tail"
    sliceable = True

    def __init__(self, *, ratio: float, per: str, window: int, p_value: float, min_count: int,
                 dispersion: float | None = None, per_level: Sequence[float] = (117.0,), judge_open: bool = False,
                 **common: Any):
        super().__init__(**common)
        self.judge_open = judge_open
        self.ratio = ratio
        self.per = per
        self.window = window
        self.p_value = p_value
        self.min_count = min_count
        self.dispersion = dispersion
        self.per_level = tuple(per_level)
        self._table = TailTable(p_value, dispersion)
        self._by_reference: dict[int, int] = {}  # the limit for each reference count first_breach met

    @property
    def monotone(self) -> bool:
        return self.judge_open

    def _reference(self, view: SeriesView, minute: int) -> float:
        """The ``per`` count over the window; with ``judge_open`` the newest minute counts at least as
        many as the one before it (see the class docstring)."""
        per = view.window_sum(self.per, minute, self.window)
        if self.judge_open:
            newest, before = view.count(self.per, minute), view.count(self.per, minute - 1)
            if newest < OPEN_FLOOR * before:
                per += before - newest
        return per

    def judge(self, view: SeriesView, minute: int) -> Judgement:
        observed = view.window_sum(self.metric, minute, self.window)
        if observed < self.min_count:
            # The usual case for sparse counts: no tail can breach below the minimum count.
            return Judgement(False, observed / self.window, self.min_count / self.window, True, None)
        expected = self.ratio * self._reference(view, minute)
        critical = max(self.min_count, self._table.critical_count(expected))
        breach = observed >= critical
        w = self.window
        return Judgement(breach, observed / w, critical / w, not breach, expected / w, w)

    def first_breach(self, view: SeriesView, minutes: Sequence[int], start: int) -> int | None:
        # The same test as judge(), on rolling sums (written out: this loop runs for every quiet
        # minute of every tail rule); below the minimum count nothing can breach.
        get_observed, get_per = view.counts_of(self.metric).get, view.counts_of(self.per).get
        ratio, min_count, window = self.ratio, self.min_count, self.window
        known, remembered = self._by_reference, self._table.remembered
        floor = self.judge_open
        previous = per_at = None
        observed = per = 0
        for index in range(start, len(minutes)):
            minute = minutes[index]
            if previous is not None and minute == previous + 1:
                observed += get_observed(minute, 0) - get_observed(minute - window, 0)
            else:
                observed = sum(get_observed(m, 0) for m in range(minute - window + 1, minute + 1))
            previous = minute
            if observed < min_count:
                continue
            # The reference is summed only where the count could breach (for a sparse count, rarely).
            if per_at is not None and minute == per_at + 1:
                per += get_per(minute, 0) - get_per(minute - window, 0)
            else:
                per = sum(get_per(m, 0) for m in range(minute - window + 1, minute + 1))
            per_at = minute
            newest, before = get_per(minute, 0), get_per(minute - 1, 0)
            reference = per + before - newest if floor and newest < OPEN_FLOOR * before else per
            critical = known.get(reference)
            if critical is None:
                critical = remembered(known, ratio, reference)
            if observed >= critical:
                return index
        return None

    def expected(self, minute: int) -> float | None:
        return self.ratio * _at(self.per_level, minute)

    def bounds(self, minute: int) -> tuple[float | None, float | None]:
        expected_window = self.ratio * _at(self.per_level, minute) * self.window
        return (None, max(self.min_count, self._table.critical_count(expected_window)) / self.window)

    def condition_text(self) -> str:
        kind, key = split_metric(self.per)
        per = f"code {key}" if kind == AUTH_CODE_FEED else key
        return (f"{self.min_count}+ in {self.window} min and more than chance allows (p < {self.p_value:.0e}) "
                f"for its usual {self.ratio * 100:.3g} per 100 {per}")

    # Judgements hold per-minute values: times the window, they are the window counts the rule judged.
    def message(self, judgement: Judgement) -> str:
        w = self.window
        expected = None if judgement.expected is None else judgement.expected * w
        return wording.window_count_message(self.metric, judgement.value * w, w, expected)

    def detail(self, judgement: Judgement) -> str:
        w = self.window
        expected = None if judgement.expected is None else judgement.expected * w
        return wording.tail_detail(judgement.value * w, w, expected, judgement.threshold * w, self.min_count,
                                   self.p_value, self.dispersion, self.ratio, self.per)

    def params(self) -> dict[str, Any]:
        params = {"ratio": self.ratio, "per": self.per, "window": self.window, "p_value": self.p_value,
                  "min_count": self.min_count, "dispersion": self.dispersion,
                  "per_level": profile_config(self.per_level)}
        if self.judge_open:  # written only when set, so files of rules that judge closed minutes stay as they were
            params["judge_open"] = True
        return params

    @classmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> PoissonTailRule:
        known = list(metrics)
        common = cls.common_fields(reader, known)
        metric = common["metric"]
        if metric.startswith(RATE_PREFIX):
            raise ConfigError(f"{reader.where}.metric: a poisson_tail rule counts a status or auth code, "
                              f"not a rate; got {metric!r}")
        same_feed = [m for m in known if not m.startswith(RATE_PREFIX) and feed_of(m) == feed_of(metric)]
        per = reader.text("per")
        if per not in same_feed:
            # The reference must come from the same feed, so judging never waits on the other feed's clock.
            raise ConfigError(f"{reader.where}.per: expected a count of the same feed as {metric!r} "
                              f"(one of {', '.join(same_feed)}), got {per!r}")
        rule = cls(
            ratio=reader.number("ratio", minimum=0),
            per=per,
            window=_window(reader, 5),
            p_value=_probability(reader, "p_value"),
            min_count=reader.int("min_count", 3, minimum=1),
            dispersion=_dispersion(reader),
            per_level=read_profile(reader, "per_level") if reader.has("per_level") else (117.0,),
            judge_open=_flag(reader, "judge_open"),
            **common,
        )
        reader.reject_unknown(("type", "description"))
        return rule


def _flag(reader: FieldReader, key: str) -> bool:
    """An optional true/false field, false when absent."""
    reader.used.add(key)
    value = reader.obj.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{reader.where}.{key}: expected true or false, got {value!r}")
    return value


def _dispersion(reader: FieldReader) -> float | None:
    value = reader.optional_number("dispersion")
    if value is not None and value <= 0:
        raise ConfigError(f"{reader.where}.dispersion: expected a positive negative-binomial size or null, got {value!r}")
    return value


@register_rule
class SeasonalRule(Rule):
    """High counts against an hour-of-day baseline, judged over a window (drops in approvals).

    The window sum is compared with the baseline's window sum; the tolerance is ``z`` standard
    deviations (Poisson noise plus ``relative_sd`` of the level) and at least ``min_change``
    of the expected level, so small dips on a busy hour never page.
    """

    type_name = "seasonal"

    def __init__(self, *, direction: str, profile: Sequence[float], window: int, z: float,
                 relative_sd: float, min_change: float, **common: Any):
        super().__init__(**common)
        self.direction = direction
        self.profile = tuple(profile)
        self.window = window
        self.z = z
        self.relative_sd = relative_sd
        self.min_change = min_change
        self._feed = feed_of(self.metric)

    @property
    def monotone(self) -> bool:
        kind, _ = split_metric(self.metric)
        return self.direction == "above" and kind in (STATUS_FEED, AUTH_CODE_FEED)

    def _limit(self, expected: float) -> float:
        margin = max(self.z * math.sqrt(expected + (self.relative_sd * expected) ** 2), self.min_change * expected)
        return expected - margin if self.direction == "below" else expected + margin

    def judge(self, view: SeriesView, minute: int) -> Judgement:
        # Only minutes the feed sent data for count: after a feed gap (or at start-up) the window
        # would otherwise look like a drop in approvals, which the feed-gap alert already reports.
        seen = view.received_of(self._feed)
        profile = self.profile
        flat = len(profile) == 1
        observed = 0
        expected = 0.0
        minutes = 0
        for m in range(minute - self.window + 1, minute + 1):
            if m not in seen:
                continue
            observed += view.count(self.metric, m)
            expected += profile[0] if flat else profile[(m % 1440) // 60]
            minutes += 1
        if minutes * 2 < self.window:
            return Judgement(False, observed / max(minutes, 1), 0.0, True, None)
        limit = self._limit(expected)
        breach = observed < limit if self.direction == "below" else observed > limit
        return Judgement(breach, observed / minutes, limit / minutes, not breach, expected / minutes, self.window)

    def worse(self, new: float, old: float) -> bool:
        return new < old if self.direction == "below" else new > old

    def expected(self, minute: int) -> float | None:
        return _at(self.profile, minute)

    def bounds(self, minute: int) -> tuple[float | None, float | None]:
        limit = self._limit(_at(self.profile, minute) * self.window) / self.window
        return (limit, None) if self.direction == "below" else (None, limit)

    def condition_text(self) -> str:
        return (f"{self.direction} its hour-of-day baseline by more than {self.z:g} sd "
                f"(and {self.min_change * 100:.0f}%) over {self.window} min")

    def message(self, judgement: Judgement) -> str:
        return wording.baseline_message(self.metric, judgement.value, judgement.expected, len(self.profile) == HOURS)

    def detail(self, judgement: Judgement) -> str:
        return wording.baseline_detail(judgement.value, self.window, judgement.expected, judgement.threshold,
                                       self.direction, self.z, self.relative_sd, self.min_change,
                                       len(self.profile) == HOURS)

    def params(self) -> dict[str, Any]:
        return {"direction": self.direction, "profile": profile_config(self.profile), "window": self.window,
                "z": self.z, "relative_sd": self.relative_sd, "min_change": self.min_change}

    @classmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> SeasonalRule:
        common = cls.common_fields(reader, metrics)
        if common["metric"].startswith(RATE_PREFIX):
            raise ConfigError(f"{reader.where}.metric: a seasonal rule watches a count, use a 'rate' rule "
                              f"for {common['metric']!r}")
        rule = cls(
            direction=reader.text("direction", choices=("above", "below")),
            profile=read_profile(reader, "profile"),
            window=_window(reader, 5),
            z=reader.number("z", minimum=0),
            relative_sd=reader.number("relative_sd", 0.0, minimum=0),
            min_change=reader.number("min_change", 0.0, minimum=0),
            **common,
        )
        if rule.min_change >= 1 and rule.direction == "below":
            raise ConfigError(f"{reader.where}.min_change: expected a fraction below 1 for a 'below' rule")
        reader.reject_unknown(("type", "description"))
        return rule


# How unusual a rate rule's newest ``recent`` minutes must be on their own (see RateRule).
RECENT_P_VALUE = 1e-3


@register_rule
class RateRule(Rule):
    """A status's share of all transactions over a window, against its usual share.

    Volume cancels out, so a daily cycle by itself never alerts. The window count of the status
    is compared with ``baseline`` x (all transactions in the window) using a Poisson or negative
    binomial (size ``dispersion``) tail of probability ``p_value``; an upper bound also needs at
    least ``min_count`` transactions of that status in the window.

    ``recent`` (optional, minutes, fewer than ``window``): a breach also needs the newest ``recent``
    minutes' share past the window's limit share. A long window (the 30-minute drift rule) otherwise
    goes on breaching until the whole episode has left it, half an hour after traffic is back to
    normal; with ``recent`` it stops once the newest minutes are, and resolves after ``resolve``. The
    newest minutes must also stand out on their own (tail probability at most ``RECENT_P_VALUE`` against
    the usual share): while an ended spike drains from the window, the window's share stays high, and a
    few noisy minutes past it would otherwise open a second, false incident half an hour later.
    """

    type_name = "rate"

    def __init__(self, *, direction: str, baseline: float, window: int, p_value: float, min_count: int,
                 dispersion: float | None = None, volume: Sequence[float] = (125.0,), recent: int | None = None,
                 **common: Any):
        super().__init__(**common)
        self.recent = recent
        self.direction = direction
        self.baseline = baseline
        self.window = window
        self.p_value = p_value
        self.dispersion = dispersion
        self.min_count = min_count
        self.volume = tuple(volume)
        self.count_metric = status_metric(self.metric[len(RATE_PREFIX):])
        self._table = TailTable(p_value, dispersion, lower=direction == "below")
        self._recent_table = TailTable(max(p_value, RECENT_P_VALUE), dispersion, lower=direction == "below")
        self._by_total: dict[int, int] = {}  # _limit_count of each total first_breach met

    def _limit_count(self, total: float) -> int:
        return self._table.critical_count(self.baseline * total)

    def judge(self, view: SeriesView, minute: int) -> Judgement:
        observed = view.window_sum(self.count_metric, minute, self.window)
        totals = view.status_totals()
        total = sum(totals.get(m, 0) for m in range(minute - self.window + 1, minute + 1))
        if total == 0:
            return Judgement(False, 0.0, self.baseline, True, self.baseline)
        critical = self._limit_count(total)
        if self.direction == "above":
            critical = max(critical, self.min_count)
            breach = observed >= critical
        else:
            breach = observed <= critical
        if self.recent is None:
            return Judgement(breach, observed / total, critical / total, not breach, self.baseline, self.window)
        # With ``recent``, a breach rests on the newest minutes: those are the ones it shows were off.
        breach = breach and self._recent_past(view, totals, minute, self.recent, observed / total, critical / total)
        return Judgement(breach, observed / total, critical / total, not breach, self.baseline, self.recent)

    def _recent_past(self, view: SeriesView, totals: Mapping[int, int], minute: int, recent: int,
                     window_share: float, limit_share: float) -> bool:
        """Whether the newest ``recent`` minutes are as far out as the window: past its limit share and
        its own share. A drift still going on has its newest minutes the worst of the window; a window
        only draining an episode that ended has them back to normal, and noise does not take them past
        the whole window's share (a bar against the limit alone let noise fire it again while draining)."""
        total = sum(totals.get(m, 0) for m in range(minute - recent + 1, minute + 1))
        if total == 0:
            return False  # nothing came in lately: the feed-gap alert speaks for those minutes
        count = view.window_sum(self.count_metric, minute, recent)
        share = count / total
        alone = self._recent_table.critical_count(self.baseline * total)  # where the newest minutes stand out
        if self.direction == "above":
            return share >= max(limit_share, window_share) and count >= alone
        return share <= min(limit_share, window_share) and count <= alone

    def worse(self, new: float, old: float) -> bool:
        return new < old if self.direction == "below" else new > old

    def first_breach(self, view: SeriesView, minutes: Sequence[int], start: int) -> int | None:
        # Window sums of the count and of all statuses, one in and one out per minute where minutes are
        # consecutive (written out: this runs for every quiet minute of every rate rule).
        get_observed, get_total = view.counts_of(self.count_metric).get, view.status_totals().get
        above, min_count, window = self.direction == "above", self.min_count, self.window
        known, remembered, baseline = self._by_total, self._table.remembered, self.baseline
        previous = None
        observed = total = 0
        for index in range(start, len(minutes)):
            minute = minutes[index]
            if previous is not None and minute == previous + 1:
                leaving = minute - window
                observed += get_observed(minute, 0) - get_observed(leaving, 0)
                total += get_total(minute, 0) - get_total(leaving, 0)
            else:
                span = range(minute - window + 1, minute + 1)
                observed = sum(get_observed(m, 0) for m in span)
                total = sum(get_total(m, 0) for m in span)
            previous = minute
            if total == 0 or (above and observed < min_count):
                continue
            critical = known.get(total)
            if critical is None:
                critical = remembered(known, baseline, total)  # = self._limit_count(total)
            if (observed >= max(critical, self.min_count)) if above else (observed <= critical):
                if self.recent is None or self.judge(view, minutes[index]).breach:
                    return index
        return None

    def expected(self, minute: int) -> float | None:
        return self.baseline

    def bounds(self, minute: int) -> tuple[float | None, float | None]:
        total = _at(self.volume, minute) * self.window
        limit = self._limit_count(total) / total if total else None
        return (limit, None) if self.direction == "below" else (None, limit)

    def condition_text(self) -> str:
        text = (f"{self.direction} its usual {self.baseline * 100:.1f}% share over {self.window} min "
                f"by more than chance allows (p < {self.p_value:.0e})")
        if self.recent is not None:
            text += f", the newest {self.recent} min too"
        return text

    def message(self, judgement: Judgement) -> str:
        return wording.share_message(self.metric, judgement.value, self.baseline)

    def detail(self, judgement: Judgement) -> str:
        return wording.share_detail(judgement.value, self.window, self.baseline, judgement.threshold, self.direction,
                                    self.min_count, self.p_value, self.dispersion, self.count_metric)

    def params(self) -> dict[str, Any]:
        return {"direction": self.direction, "baseline": self.baseline, "window": self.window,
                "p_value": self.p_value, "dispersion": self.dispersion, "min_count": self.min_count,
                "volume": profile_config(self.volume), **({} if self.recent is None else {"recent": self.recent})}

    @classmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> RateRule:
        known = list(metrics)
        common = cls.common_fields(reader, known)
        if not common["metric"].startswith(RATE_PREFIX):
            raise ConfigError(f"{reader.where}.metric: a rate rule watches a share such as 'rate:denied', "
                              f"got {common['metric']!r}")
        baseline = reader.number("baseline", minimum=0)
        if baseline >= 1:
            raise ConfigError(f"{reader.where}.baseline: expected a share below 1, got {baseline!r}")
        rule = cls(
            direction=reader.text("direction", choices=("above", "below")),
            baseline=baseline,
            window=_window(reader, 5),
            p_value=_probability(reader, "p_value"),
            min_count=reader.int("min_count", 1, minimum=0),
            dispersion=_dispersion(reader),
            volume=read_profile(reader, "volume") if reader.has("volume") else (125.0,),
            recent=_recent(reader),
            **common,
        )
        reader.reject_unknown(("type", "description"))
        return rule


def _recent(reader: FieldReader) -> int | None:
    """A rate rule's optional ``recent`` minutes: fewer than its window (read after it)."""
    if not reader.has("recent"):
        return None
    window = reader.obj.get("window", 5)
    recent = reader.int("recent", minimum=1)
    if recent >= window:
        raise ConfigError(f"{reader.where}.recent: expected fewer minutes than the window ({window}), got {recent}")
    return recent
