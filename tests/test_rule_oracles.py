"""Each rule type's decisions against a plain, slow reference written from its documented definition.

The references use pandas (window sums, received-minute masks) and scipy.stats (Poisson and
negative-binomial tails); they share no code with ``detection/``. Series are seeded random draws
of awkward shapes: all zeros, a single spike, slow drift, feed gaps, steps and noise. For every
minute ``judge().breach`` must equal the reference, and ``first_breach`` from every start must
find the reference's first breaching minute.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from detection.drop_rule import DropRule
from detection.metrics import DEFAULT_STATUSES
from detection.rules import Rule, ThresholdRule
from detection.series import MinuteSeries
from detection.stat_rules import PoissonTailRule, RateRule, SeasonalRule

T0 = 29_188_800 + 22 * 60  # 2025-07-01 22:00 UTC: series cross midnight, so hour-of-day profiles change
N = 180
SHAPES = ("zeros", "noise", "spike", "drift", "gaps", "step_down", "step_up")
SEEDS = range(4)

# TailTable's documented grid: expectations are rounded up to the next point of 1e-3 x 1.04^k
# (down for a lower bound), so a threshold errs on the side of fewer alerts.
GRID_LOW, GRID_STEP = 1e-3, 1.04


# ---------------------------------------------------------------------------------- series
def draw(shape: str, seed: int) -> pd.DataFrame:
    """Per-minute counts (one column per status, plus auth codes) for N minutes; ``received`` False = feed gap."""
    rng = np.random.default_rng([seed, SHAPES.index(shape)])
    level = np.full(N, 117.0)
    if shape == "drift":
        level = np.linspace(60.0, 200.0, N)
    elif shape == "step_down":
        level[N // 2:] = rng.uniform(10.0, 70.0)
    elif shape == "step_up":
        level[N // 2:] = rng.uniform(150.0, 250.0)
    frame = pd.DataFrame(index=pd.RangeIndex(T0, T0 + N, name="minute"))
    frame["approved"] = rng.poisson(level)
    frame["denied"] = rng.poisson(level * 0.08)
    frame["failed"] = rng.poisson(0.03, N)
    frame["backend_reversed"] = rng.poisson(0.02, N)
    frame["reversed"] = rng.poisson(1.0, N)
    frame["refunded"] = rng.poisson(1.0, N)
    if shape == "zeros":
        frame[:] = 0
    if shape in ("spike", "noise"):
        # A burst in a few random minutes: failures, denials and a fall of approvals.
        for at in rng.choice(N, size=3 if shape == "spike" else 12, replace=False):
            frame.loc[T0 + at, "failed"] += int(rng.integers(1, 9))
            frame.loc[T0 + at, "denied"] += int(rng.integers(0, 60))
            frame.loc[T0 + at, "approved"] = int(frame.loc[T0 + at, "approved"] * rng.uniform(0.0, 1.0))
    frame["00"] = frame["approved"]
    split = rng.binomial(frame["denied"].to_numpy(), 0.6)
    frame["51"], frame["59"] = split, frame["denied"].to_numpy() - split
    received = np.ones(N, dtype=bool)
    if shape in ("gaps", "noise", "drift"):
        for start in rng.choice(N - 10, size=4, replace=False):
            received[start:start + int(rng.integers(1, 6))] = False
    frame["received"] = received
    return frame


def load(frame: pd.DataFrame) -> MinuteSeries:
    """Zero rows are left out, as exports may (DATA.md); a received minute of all zeros keeps one zero row."""
    series = MinuteSeries(DEFAULT_STATUSES)
    for minute, row in frame[frame["received"]].iterrows():
        for feed, metrics in (("status", [f"status:{s}" for s in DEFAULT_STATUSES]),
                              ("auth_code", [f"auth_code:{c}" for c in ("00", "51", "59")])):
            posted = [(m, int(row[m.split(":", 1)[1]])) for m in metrics if row[m.split(":", 1)[1]] > 0]
            for metric, count in posted or [(metrics[-1], 0)]:
                series.add(feed, metric, int(minute), count)
    return series


def column(frame: pd.DataFrame, metric: str) -> pd.Series:
    """A metric's per-minute count on the full minute index, zero where the feed sent nothing."""
    name = metric.split(":", 1)[1]
    return frame[name].where(frame["received"], 0).astype(float)


def window_sum(values: pd.Series, window: int) -> pd.Series:
    """Sum of the ``window`` minutes ending at each minute; minutes before the series are zero."""
    padded = pd.concat([pd.Series(0.0, index=range(values.index[0] - window, values.index[0])), values])
    return padded.rolling(window).sum().loc[values.index]


# ---------------------------------------------------------------------------------- tails
def _grid(expected: float, lower: bool) -> float:
    if expected <= GRID_LOW:
        return GRID_LOW
    k = math.ceil(math.log(expected / GRID_LOW) / math.log(GRID_STEP) - 1e-9)
    return GRID_LOW * GRID_STEP ** (max(k - 1, 0) if lower else k)


def _law(mean: float, size: float | None):
    return stats.poisson(mean) if size is None else stats.nbinom(size, size / (size + mean))


def upper_tail(observed: float, mean: float, size: float | None) -> float:
    """P(X >= observed)."""
    return float(_law(mean, size).sf(observed - 1))


def lower_tail(observed: float, mean: float, size: float | None) -> float:
    """P(X <= observed)."""
    return float(_law(mean, size).cdf(observed))


# ---------------------------------------------------------------------------------- references
def ref_threshold(rule: ThresholdRule, frame: pd.DataFrame) -> pd.Series:
    if rule.metric.startswith("rate:"):
        total = sum(column(frame, f"status:{s}") for s in DEFAULT_STATUSES)
        value = (column(frame, "status:" + rule.metric[5:]) / total).fillna(0.0)
    else:
        value = column(frame, rule.metric)
    return value > rule.threshold if rule.direction == "above" else value < rule.threshold


def ref_poisson_tail(rule: PoissonTailRule, frame: pd.DataFrame) -> pd.Series:
    observed = window_sum(column(frame, rule.metric), rule.window)
    expected = rule.ratio * window_sum(column(frame, rule.per), rule.window)
    return pd.Series([
        bool(o >= rule.min_count and upper_tail(o, _grid(e, lower=False), rule.dispersion) <= rule.p_value)
        for o, e in zip(observed, expected, strict=True)
    ], index=frame.index)


def ref_rate(rule: RateRule, frame: pd.DataFrame) -> pd.Series:
    observed = window_sum(column(frame, "status:" + rule.metric[5:]), rule.window)
    total = window_sum(sum(column(frame, f"status:{s}") for s in DEFAULT_STATUSES), rule.window)
    out = []
    for o, t in zip(observed, total, strict=True):
        if t == 0:
            out.append(False)  # no transactions: no share to judge
        elif rule.direction == "above":
            out.append(bool(o >= rule.min_count and upper_tail(o, _grid(rule.baseline * t, False), rule.dispersion)
                            <= rule.p_value))
        else:
            out.append(bool(lower_tail(o, _grid(rule.baseline * t, True), rule.dispersion) <= rule.p_value))
    return pd.Series(out, index=frame.index)


def ref_seasonal(rule: SeasonalRule, frame: pd.DataFrame) -> pd.Series:
    received = frame["received"].astype(float)
    hours = (frame.index.to_numpy() % 1440) // 60
    profile = np.array(rule.profile * 24 if len(rule.profile) == 1 else rule.profile)
    observed = window_sum(column(frame, rule.metric), rule.window)
    expected = window_sum(pd.Series(profile[hours], index=frame.index) * received, rule.window)
    minutes = window_sum(received, rule.window)
    out = []
    for o, e, n in zip(observed, expected, minutes, strict=True):
        if n * 2 < rule.window:
            out.append(False)  # fewer than half the window's minutes received: not judged
            continue
        margin = max(rule.z * math.sqrt(e + (rule.relative_sd * e) ** 2), rule.min_change * e)
        out.append(bool(o < e - margin) if rule.direction == "below" else bool(o > e + margin))
    return pd.Series(out, index=frame.index)


def ref_drop(rule: DropRule, frame: pd.DataFrame) -> pd.Series:
    received = frame["received"].astype(float)
    counts = column(frame, rule.metric)
    recent_sum, recent_n = window_sum(counts, rule.window), window_sum(received, rule.window)
    before = rule.window + rule.reference
    ref_sum = window_sum(counts, before) - recent_sum
    ref_n = window_sum(received, before) - recent_n
    out = []
    for rs, rn, fs, fn in zip(recent_sum, recent_n, ref_sum, ref_n, strict=True):
        if rn < rule.window or fn < rule.reference // 2:
            out.append(False)  # a gap in the window, or too little history
            continue
        level = fs / fn
        out.append(bool(level >= rule.min_level and rs / rn < rule.max_ratio * level))
    return pd.Series(out, index=frame.index)


REFERENCES = {
    "threshold": ref_threshold, "poisson_tail": ref_poisson_tail, "rate": ref_rate,
    "seasonal": ref_seasonal, "drop": ref_drop,
}

PROFILE_24 = tuple(round(117.3 * (0.55 + 0.45 * math.sin(math.pi * h / 24)), 3) for h in range(24))

RULES: list[Rule] = [
    ThresholdRule(rule_id="failed_any", metric="status:failed", direction="above", threshold=0),
    ThresholdRule(rule_id="approved_low", metric="status:approved", direction="below", threshold=60),
    ThresholdRule(rule_id="denied_share", metric="rate:denied", direction="above", threshold=0.15),
    PoissonTailRule(rule_id="failed_tail", metric="status:failed", ratio=2.5e-4, per="status:approved", window=5,
                    p_value=2.5e-5, min_count=3),
    PoissonTailRule(rule_id="reversed_nb", metric="status:reversed", ratio=0.0085, per="status:approved", window=3,
                    p_value=1e-3, min_count=4, dispersion=6.0),
    PoissonTailRule(rule_id="code51", metric="auth_code:51", ratio=0.05, per="auth_code:00", window=2,
                    p_value=1e-4, min_count=8),
    RateRule(rule_id="denied_rate", metric="rate:denied", direction="above", baseline=0.07, window=2,
             p_value=1e-4, min_count=5, dispersion=40.0),
    RateRule(rule_id="approved_rate_low", metric="rate:approved", direction="below", baseline=0.9, window=3,
             p_value=1e-3, min_count=0),
    SeasonalRule(rule_id="approved_seasonal", metric="status:approved", direction="below", profile=PROFILE_24,
                 window=10, z=3.5, relative_sd=0.04, min_change=0.15),
    SeasonalRule(rule_id="approved_flat", metric="status:approved", direction="below", profile=(117.3,),
                 window=4, z=2.5, relative_sd=0.0, min_change=0.1),
    SeasonalRule(rule_id="denied_seasonal", metric="status:denied", direction="above", profile=(9.4,),
                 window=5, z=3.0, relative_sd=0.1, min_change=0.3),
    DropRule(rule_id="approved_drop", metric="status:approved"),
    DropRule(rule_id="approved_drop_short", metric="status:approved", window=2, reference=20, max_ratio=0.6,
             min_level=15.0),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_judge_and_first_breach_match_the_reference(rule: Rule, shape: str, seed: int):
    frame = draw(shape, seed)
    series = load(frame)
    expected = REFERENCES[rule.type_name](rule, frame)
    judged = pd.Series([rule.judge(series, int(m)).breach for m in frame.index], index=frame.index)
    wrong = [int(m) - T0 for m in frame.index if judged[m] != expected[m]]
    assert not wrong, f"{rule.id} differs from the reference at minutes {wrong[:10]}"

    # first_breach walks the minutes the Monitor would judge: those the feed sent.
    minutes = [int(m) for m in frame.index[frame["received"].to_numpy()]]
    breaching = [i for i, m in enumerate(minutes) if expected[m]]
    for start in range(0, len(minutes) + 1, 7):
        first = next((i for i in breaching if i >= start), None)
        assert rule.first_breach(series, minutes, start) == first, (rule.id, start)


@pytest.mark.parametrize("rule", [r for r in RULES if isinstance(r, SeasonalRule)], ids=lambda r: r.id)
def test_a_seasonal_minute_counts_towards_resolving_exactly_when_it_does_not_breach(rule: Rule):
    """No hysteresis in the seasonal rule: ``clean`` (what resolves a firing alert) is ``not breach``, also where a
    feed gap leaves too few minutes to judge (then nothing breaches, and the minute is clean)."""
    too_few = 0
    for shape in SHAPES:
        for seed in SEEDS:
            frame = draw(shape, seed)
            series = load(frame)
            for m in frame.index:
                verdict = rule.judge(series, int(m))
                assert verdict.clean is (not verdict.breach), (rule.id, shape, seed, int(m) - T0)
                too_few += verdict.expected is None
    assert too_few > 0  # the short-window path was exercised


def test_the_random_series_exercise_both_outcomes_for_every_rule():
    """Guards the oracle test itself: a reference that never (or always) breaches would prove little."""
    for rule in RULES:
        outcomes = set()
        for shape in SHAPES:
            for seed in SEEDS:
                outcomes |= set(REFERENCES[rule.type_name](rule, draw(shape, seed)).tolist())
        assert outcomes == {True, False}, rule.id


def test_tail_grid_rounding_only_removes_alerts():
    """The rule's rounded tail never breaches where the exact (unrounded) tail would not."""
    rule = RULES[3]
    for shape in SHAPES:
        frame = draw(shape, 0)
        series = load(frame)
        observed = window_sum(column(frame, rule.metric), rule.window)
        expected = rule.ratio * window_sum(column(frame, rule.per), rule.window)
        for m in frame.index:
            if rule.judge(series, int(m)).breach:
                assert upper_tail(observed[m], expected[m], None) <= rule.p_value


# ---------------------------------------------------------------------------------- window edges
def _one_minute_apart(rule: Rule, at: int, value: int, base: int, judged: int) -> bool:
    """Whether ``rule`` breaches at minute T0+judged when minute T0+at holds ``value`` and all others ``base``."""
    series = MinuteSeries(DEFAULT_STATUSES)
    for i in range(judged + 3):
        series.add("status", rule.metric, T0 + i, value if i == at else base)
    return rule.judge(series, T0 + judged).breach


@pytest.mark.parametrize("window", [1, 2, 5, 10, 60])
def test_seasonal_window_covers_exactly_its_minutes(window: int):
    """An outlier minute counts from the newest minute back to minute - window + 1, and no further."""
    rule = SeasonalRule(rule_id="s", metric="status:denied", direction="above", profile=(10.0,), window=window,
                        z=3.0, relative_sd=0.0, min_change=0.0)
    judged = 80
    spike = 10 + 10 * window  # far beyond any window's tolerance
    assert _one_minute_apart(rule, judged, spike, 10, judged)  # the newest minute
    assert _one_minute_apart(rule, judged - window + 1, spike, 10, judged)  # the oldest minute inside
    assert not _one_minute_apart(rule, judged - window, spike, 10, judged)  # one minute too old
    assert not _one_minute_apart(rule, judged + 1, spike, 10, judged)  # a later minute never counts

    drop = SeasonalRule(rule_id="d", metric="status:approved", direction="below", profile=(100.0,), window=window,
                        z=2.0, relative_sd=0.0, min_change=0.0)
    # One empty minute takes 100 from the window sum; the tolerance is 2 sd = 20 sqrt(window), under 100
    # while the window is shorter than 25 minutes.
    assert _one_minute_apart(drop, judged - window + 1, 0, 100, judged) is (window < 25)
    assert not _one_minute_apart(drop, judged - window, 0, 100, judged)


def test_seasonal_needs_half_the_window_received():
    """Judged with exactly half the window's minutes received; not judged with one fewer."""
    rule = SeasonalRule(rule_id="s", metric="status:approved", direction="below", profile=(100.0,), window=4,
                        z=1.0, relative_sd=0.0, min_change=0.0)
    for received, breach in ((2, True), (1, False)):
        series = MinuteSeries(DEFAULT_STATUSES)
        for i in range(received):
            series.add("status", "status:approved", T0 + 10 - i, 0)
        judgement = rule.judge(series, T0 + 10)
        assert judgement.breach is breach, received
        if breach:
            assert judgement.expected == 100.0  # the profile over the received minutes only


@pytest.mark.parametrize("window", [1, 3, 5])
def test_poisson_tail_window_covers_exactly_its_minutes(window: int):
    rule = PoissonTailRule(rule_id="t", metric="status:failed", ratio=1e-4, per="status:approved", window=window,
                           p_value=1e-4, min_count=3)
    judged = 30

    def breach_with_spike_at(at: int) -> bool:
        series = MinuteSeries(DEFAULT_STATUSES)
        for i in range(judged + 3):
            series.add("status", "status:approved", T0 + i, 117)
            series.add("status", "status:failed", T0 + i, 6 if i == at else 0)
        return rule.judge(series, T0 + judged).breach

    assert breach_with_spike_at(judged)
    assert breach_with_spike_at(judged - window + 1)
    assert not breach_with_spike_at(judged - window)
    assert not breach_with_spike_at(judged + 1)


@pytest.mark.parametrize("window", [1, 3])
def test_drop_rule_windows_meet_without_overlap(window: int):
    """The recent window is the last ``window`` minutes; the reference is the ``reference`` minutes before it.

    Normal is 70/min, the recent minutes 40/min: 40 is not below half of 70. One minute of 200 in the
    reference lifts its level to 83 (limit 41.5) and makes a breach; the same minute anywhere else
    does not.
    """
    rule = DropRule(rule_id="d", metric="status:approved", window=window, reference=10, max_ratio=0.5, min_level=10)
    judged = 40

    def breach_with_spike_at(at: int | None) -> bool:
        series = MinuteSeries(DEFAULT_STATUSES)
        for i in range(judged + 2):
            value = 40 if judged - window < i <= judged else 70
            series.add("status", "status:approved", T0 + i, 200 if i == at else value)
        return rule.judge(series, T0 + judged).breach

    assert not breach_with_spike_at(None)
    assert breach_with_spike_at(judged - window)  # the newest reference minute
    assert breach_with_spike_at(judged - window - 9)  # the oldest reference minute
    assert not breach_with_spike_at(judged - window - 10)  # one minute before the reference
    assert not breach_with_spike_at(judged - window + 1)  # the oldest recent minute: the recent mean rises
    assert not breach_with_spike_at(judged + 1)  # a later minute is never read


# ---------------------------------------------------------------------------------- documented details
def test_every_rule_type_is_registered_under_its_name():
    from detection import RULE_TYPES

    assert {name: cls.__name__ for name, cls in RULE_TYPES.items()} == {
        "threshold": "ThresholdRule", "poisson_tail": "PoissonTailRule", "seasonal": "SeasonalRule",
        "rate": "RateRule", "drop": "DropRule", "profile_drop": "ProfileDropRule",
        "sequential_drop": "SequentialDropRule"}  # its oracle is in tests/test_drop_sequential.py


def test_series_values_are_counts_or_shares():
    series = MinuteSeries(DEFAULT_STATUSES)
    series.add("status", "status:approved", T0, 90)
    series.add("status", "status:denied", T0, 10)
    assert series.value("status:denied", T0) == 10.0 and isinstance(series.value("status:denied", T0), float)
    assert series.value("rate:denied", T0) == 0.1
    assert series.value("status:failed", T0) == 0.0  # a status with no row in a received minute
    assert (series.value("status:denied", T0 + 1), series.value("rate:denied", T0 + 1)) == (0.0, 0.0)


@pytest.mark.parametrize("hour", [0, 1, 13, 23])
def test_hour_of_day_profiles_switch_on_the_utc_hour(hour: int):
    from detection.stat_rules import hour_of_day

    day = T0 - T0 % 1440
    profile = tuple(float(h) for h in range(24))
    rule = SeasonalRule(rule_id="s", metric="status:approved", direction="below", profile=profile, window=5, z=1,
                        relative_sd=0, min_change=0)
    first, last = day + 60 * hour, day + 60 * hour + 59
    assert (hour_of_day(first), hour_of_day(last), hour_of_day(last + 1)) == (hour, hour, (hour + 1) % 24)
    assert (rule.expected(first), rule.expected(last)) == (float(hour), float(hour))


def test_seasonal_bounds_sit_on_the_side_of_the_direction():
    kw = {"rule_id": "s", "metric": "status:approved", "profile": (100.0,), "window": 4, "z": 2.0,
          "relative_sd": 0.0, "min_change": 0.0}
    low, high = SeasonalRule(direction="below", **kw), SeasonalRule(direction="above", **kw)
    assert low.bounds(T0) == (pytest.approx(90.0), None)  # (400 - 2 * 20) / 4
    assert high.bounds(T0) == (None, pytest.approx(110.0))


def test_seasonal_config_errors_and_directions():
    from detection import ConfigError, parse_thresholds

    base = {"id": "s", "type": "seasonal", "metric": "status:denied", "profile": 9.0, "window": 5, "z": 3}
    for direction in ("above", "below"):
        (rule,) = parse_thresholds({"version": 1, "rules": [{**base, "direction": direction}]}, "t.json").rules
        assert rule.direction == direction
    with pytest.raises(ConfigError) as raised:
        parse_thresholds({"version": 1, "rules": [{**base, "direction": "above", "metric": "rate:denied"}]}, "t.json")
    assert str(raised.value) == ("t.json.rules[0].metric: a seasonal rule watches a count, use a 'rate' rule "
                                 "for 'rate:denied'")


def test_drop_rule_skip_ahead_counts_a_received_minute_without_a_row_as_zero():
    """Approvals at 2/min, then minutes with other statuses only: their approvals are 0, not unknown."""
    rule = DropRule(rule_id="d", metric="status:approved", window=2, reference=10, max_ratio=0.5, min_level=0)
    series = MinuteSeries(DEFAULT_STATUSES)
    for i in range(30):
        series.add("status", "status:approved", T0 + i, 2)
    for i in range(30, 45):
        series.add("status", "status:denied", T0 + i, 1)
    minutes = [T0 + i for i in range(45)]
    judged = [i for i, m in enumerate(minutes) if rule.judge(series, m).breach]
    assert judged[0] == 31  # minutes 30 and 31 hold no approvals against a level of 2/min
    for start in range(0, 45, 3):
        assert rule.first_breach(series, minutes, start) == next((i for i in judged if i >= start), None), start


def test_drop_rule_skip_ahead_lets_a_minute_without_a_row_leave_the_reference_as_zero():
    """Minute 30 has no approvals row; when it leaves the reference at minute 41, the level must stay exact.

    Level 2/min, limit 0.51 x 2 = 1.02: minute 41 at 1/min breaches; a level off by 1/10 (limit 0.969) would not.
    """
    rule = DropRule(rule_id="d", metric="status:approved", window=1, reference=10, max_ratio=0.51, min_level=0)
    series = MinuteSeries(DEFAULT_STATUSES)
    for i in range(45):
        if i == 30:
            series.add("status", "status:denied", T0 + i, 1)
        else:
            series.add("status", "status:approved", T0 + i, 1 if i == 41 else 2)
    minutes = [T0 + i for i in range(45)]
    judged = [i for i, m in enumerate(minutes) if rule.judge(series, m).breach]
    assert judged == [30, 41]
    for start in range(0, 45):
        assert rule.first_breach(series, minutes, start) == next((i for i in judged if i >= start), None), start


@pytest.mark.parametrize("direction", ["above", "below"])
def test_rate_bounds_are_the_tail_limit_as_a_share_at_the_usual_volume(direction: str):
    rule = RateRule(rule_id="r", metric="rate:denied", direction=direction, baseline=0.07, window=2, p_value=1e-3,
                    min_count=0, volume=(125.0,))
    total = 125.0 * 2
    mean = _grid(0.07 * total, lower=direction == "below")
    law = stats.poisson(mean)
    if direction == "above":
        critical = next(c for c in range(1000) if law.sf(c - 1) <= 1e-3)  # smallest c with P(X >= c) <= p
        assert rule.bounds(T0) == (None, pytest.approx(critical / total))
    else:
        critical = max(c for c in range(-1, 1000) if c < 0 or law.cdf(c) <= 1e-3)  # largest c with P(X <= c) <= p
        assert rule.bounds(T0) == (pytest.approx(critical / total), None)


def test_threshold_rules_round_trip_through_their_config():
    from detection import parse_thresholds

    rules = [{"id": "a", "type": "threshold", "metric": "status:failed", "severity": "critical", "for": 2,
              "resolve": 3, "direction": "above", "threshold": 4, "recovery": 1},
             {"id": "b", "type": "threshold", "metric": "status:approved", "severity": "warning", "for": 1,
              "resolve": 5, "direction": "below", "threshold": 50}]
    parsed = parse_thresholds({"version": 1, "rules": rules}, "t.json").rules
    assert [r.to_config() for r in parsed] == rules


def test_seasonal_config_defaults_and_limits():
    from detection import ConfigError, parse_thresholds

    def parse(**fields):
        rule = {"id": "s", "type": "seasonal", "metric": "status:approved", "direction": "below", "profile": 100.0,
                "z": 3, **fields}
        (parsed,) = parse_thresholds({"version": 1, "rules": [rule]}, "t.json").rules
        return parsed

    rule = parse()
    assert (rule.window, rule.relative_sd, rule.min_change, rule.z) == (5, 0.0, 0.0, 3.0)
    assert parse(z=0.5, relative_sd=0.2, min_change=0.99).z == 0.5
    assert parse(direction="above", min_change=1.5).min_change == 1.5  # 'above' may ask for more than double
    for field, value, expected in (("z", -1, "a number >= 0"), ("relative_sd", -0.1, "a number >= 0"),
                                   ("min_change", -0.1, "a number >= 0"),
                                   ("min_change", 1, "expected a fraction below 1 for a 'below' rule")):
        with pytest.raises(ConfigError) as raised:
            parse(**{field: value})
        assert str(raised.value).startswith(f"t.json.rules[0].{field}: ") and expected in str(raised.value)


# ---------------------------------------------------------------------------------- skip-ahead across a gap
def _first_breach_matches_judge(rule: Rule, series: MinuteSeries, minutes: list[int]) -> list[int]:
    """``first_breach`` from every start equals the first minute ``judge`` breaches at; returns those indexes."""
    judged = [i for i, m in enumerate(minutes) if rule.judge(series, m).breach]
    for start in range(len(minutes) + 1):
        assert rule.first_breach(series, minutes, start) == next((i for i in judged if i >= start), None), start
    return judged


def _status_series(counts: dict[str, dict[int, int]], received: list[int]) -> MinuteSeries:
    series = MinuteSeries(DEFAULT_STATUSES)
    for i in received:
        for metric, per_minute in counts.items():
            series.add("status", metric, T0 + i, per_minute.get(i, 0))
    return series


def test_poisson_tail_skip_ahead_drops_the_minute_leaving_across_a_one_minute_gap():
    """Minute 13 not received: from minute 12 (window 10-12) to minute 14 (window 12-14) both minutes 10 and 11
    leave the window sum. Kept, minute 10's 2 failures would make minute 14 hold 3 >= min_count (the tail limit
    at 0.023 expected is 3 too) and breach.
    """
    rule = PoissonTailRule(rule_id="t", metric="status:failed", ratio=1e-4, per="status:approved", window=3,
                           p_value=1e-4, min_count=3)
    received = [i for i in range(20) if i != 13]
    series = _status_series({"status:approved": {i: 117 for i in range(20)}, "status:failed": {10: 2, 14: 1}},
                            received)
    assert _first_breach_matches_judge(rule, series, [T0 + i for i in received]) == []


def test_poisson_tail_skip_ahead_drops_the_reference_leaving_across_a_one_minute_gap():
    """Minute 10's 100,000 approvals leave the reference at minute 13 (not received), so minute 14 (6 failures
    against 234 approvals) breaches, and so do 15 and 16 (3 failures each); kept in the reference, they would lift the limit far above 6."""
    rule = PoissonTailRule(rule_id="t", metric="status:failed", ratio=1e-4, per="status:approved", window=3,
                           p_value=1e-4, min_count=3)
    received = [i for i in range(20) if i != 13]
    approvals = {i: 117 for i in range(20)} | {10: 100_000}
    series = _status_series({"status:approved": approvals, "status:failed": {12: 3, 14: 3}}, received)
    minutes = [T0 + i for i in received]
    assert [minutes[i] - T0 for i in _first_breach_matches_judge(rule, series, minutes)] == [14, 15, 16]


def test_rate_skip_ahead_starts_the_window_afresh_after_a_gap():
    """Minute 13 not received: minute 14's window (13-14) is its own 50 denials of 100, a breach; minute 11's
    10,000 transactions at the usual 7% must not linger in it."""
    rule = RateRule(rule_id="r", metric="rate:denied", direction="above", baseline=0.07, window=2, p_value=1e-4,
                    min_count=5)
    received = [i for i in range(20) if i != 13]
    denied = {i: 7 for i in range(20)} | {11: 700, 14: 50}
    approved = {i: 100 - denied[i] for i in range(20)} | {11: 10_000 - 700}
    series = _status_series({"status:approved": approved, "status:denied": denied}, received)
    minutes = [T0 + i for i in received]
    assert [minutes[i] - T0 for i in _first_breach_matches_judge(rule, series, minutes)] == [14, 15]


@pytest.mark.parametrize("p_value", [1e-3, 1e-30, 1e-60, 1e-120])
@pytest.mark.parametrize("dispersion", [None, 20.0])
def test_an_upper_tail_limit_is_the_smallest_count_that_rare_even_for_tiny_p_values(p_value, dispersion):
    """The documented promise, for any p the thresholds file accepts: P(X >= c) <= p < P(X >= c - 1). The search
    once stopped 14 spreads out, so p = 1e-60 got a count whose tail was 1e-49."""
    from detection.stat_rules import count_limits

    for mean in (0.5, 3.0, 100.0, 2500.0):
        [limit] = count_limits(p_value, dispersion, [mean])
        law = stats.poisson(mean) if dispersion is None else stats.nbinom(dispersion, dispersion / (dispersion + mean))
        assert law.logsf(limit - 1) <= math.log(p_value) * (1 - 1e-9), (mean, limit)  # P(X >= limit) <= p
        assert law.logsf(limit - 2) > math.log(p_value) * (1 + 1e-9), (mean, limit)  # and limit - 1 is not that rare
