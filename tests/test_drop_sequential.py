"""The sequential (CUSUM) approval-drop rule: its decisions against a slow reference written from its definition,
batch = live, the thresholds file, what it must and must not fire on, and how the learning sets its threshold."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.learn import learn
from analysis.loading import history_from_rows
from analysis.replay import replay, rows_by_minute
from analysis.rhythm_learn import choose_sequential_threshold, sequential_evidence
from analysis.synthetic import Incident, generate
from detection import ConfigError, load_thresholds, parse_thresholds
from detection.drop_sequential import SequentialDropRule
from detection.series import MinuteSeries
from tests.test_rhythm import JUDGED, SEED, TRAIN_DAYS
from tests.test_rule_oracles import SEEDS, SHAPES, T0, draw, load

METRIC = "status:approved"


def _rule(**change) -> SequentialDropRule:
    fields = {"rule_id": "s", "metric": METRIC, "profile": (100.0,), "threshold": 8.0, "drop": 0.5,
              "dispersion": 60.0, "lookback": 15, "reference": 60, "min_change": 0.25, "min_expected": 5.0}
    return SequentialDropRule(**{**fields, **change})


# ------------------------------------------------------------------------------------------ the slow reference
def ref_level(counts: pd.Series, received: pd.Series, minute: int, lookback: int, reference: int) -> float | None:
    """profile_drop's level on a flat profile, from its docstring: the reference minutes with data before the
    lookback, each judged by the mean of its (up to) 5 neighbours among them; those under 3/4 of the median
    neighbourhood are an incident and left out; the mean of the rest (None when too few)."""
    span = [m for m in range(minute - lookback - reference + 1, minute - lookback + 1) if received.get(m, False)]
    if len(span) * 2 < reference:
        return None
    values = [float(counts[m]) for m in span]
    smooth = [float(np.mean(values[max(i - 2, 0):i + 3])) for i in range(len(values))]
    floor = 0.75 * sorted(smooth)[len(smooth) // 2]
    kept = [v for v, s in zip(values, smooth, strict=True) if s >= floor]
    return float(np.mean(kept)) if len(kept) * 4 >= reference // 2 else None


def ref_llr(count: int, mean: float, drop: float, size: float | None) -> float:
    """log P(count | mean x (1 - drop)) - log P(count | mean), negative binomial (size) or Poisson."""
    def logpmf(mu: float) -> float:
        return float(stats.poisson(mu).logpmf(count) if size is None else stats.nbinom(size, size / (size + mu)).logpmf(count))
    return logpmf(mean * (1 - drop)) - logpmf(mean)


def ref_breach(rule: SequentialDropRule, counts: pd.Series, received: pd.Series, minute: int) -> bool | None:
    """The rule's definition, slowly; None where the decision sits within rounding of the threshold."""
    if not received[minute]:
        return False
    level = ref_level(counts, received, minute, rule.lookback, rule.reference)
    if level is None:
        return False
    mean = level  # a flat profile: the level is the mean count a minute
    if ref_llr(int(counts[minute]), mean, rule.drop, rule.dispersion) <= 0:
        return False
    evidence = observed = expected = 0.0
    close = False
    for m in range(minute, minute - rule.lookback, -1):
        if not received[m]:
            continue  # unknown, not zero
        evidence += ref_llr(int(counts[m]), mean, rule.drop, rule.dispersion)
        observed += counts[m]
        expected += mean
        if expected >= rule.min_expected and observed <= (1 - rule.min_change) * expected:
            close |= abs(evidence - rule.threshold) < 1e-6
            if evidence >= rule.threshold:
                return True
    return None if close else False


ORACLE_RULES = [_rule(), _rule(dispersion=None, threshold=10.0), _rule(drop=0.3, min_change=0.1, lookback=8),
                _rule(drop=0.9, threshold=12.0, lookback=30, reference=40)]


@pytest.mark.parametrize("rule", ORACLE_RULES, ids=lambda r: f"d{r.drop}-h{r.threshold}-k{r.dispersion}-L{r.lookback}")
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS[:2])  # scipy's pmf per minute and segment is slow: two seeds suffice
def test_decisions_match_the_reference_and_first_breach_finds_the_first(rule, shape, seed):
    frame = draw(shape, seed)
    series = load(frame)
    counts = frame["approved"].where(frame["received"], 0)
    received = frame["received"]
    minutes = [int(m) for m in frame.index if received[m]]
    expected = {m: ref_breach(rule, counts, received, m) for m in minutes}
    got = {m: rule.judge(series, m).breach for m in minutes}
    assert {m: g for m, g in got.items() if expected[m] is not None} == \
        {m: e for m, e in expected.items() if e is not None}
    for start in range(0, len(minutes), 17):
        found = rule.first_breach(series, minutes, start)
        first = next((i for i in range(start, len(minutes)) if got[minutes[i]]), None)
        assert found == first


def test_the_oracle_sees_breaches_at_all():
    """The table above is only worth something if its series make the rule fire (a step down does)."""
    frame = draw("step_down", 0)
    series = load(frame)
    assert any(_rule().judge(series, int(m)).breach for m in frame.index)


# ------------------------------------------------------------------------------------------ the rule's behaviour
def _series(counts: dict[int, int]) -> MinuteSeries:
    series = MinuteSeries(("approved", "denied"))
    for minute, count in counts.items():
        series.add("status", METRIC, minute, count)
        series.add("status", "status:denied", minute, 3)
    return series


def test_gathers_evidence_at_low_volume_and_fires_at_once_at_high_volume():
    t0 = 29_000_000
    for level, within in ((16, 6), (400, 1)):
        rule = _rule(profile=(float(level),), dispersion=None, threshold=11.0)
        counts = {t0 + i: level for i in range(75)} | {t0 + 75 + i: level // 2 for i in range(10)}
        series = _series(counts)
        fired = next(i for i in range(10) if rule.judge(series, t0 + 75 + i).breach) + 1
        assert fired <= within
        assert level > 100 or fired > 1  # 8 instead of 16 in one minute is not enough evidence


def test_a_feed_gap_adds_no_evidence_and_is_not_a_zero():
    t0 = 29_000_000
    rule = _rule(profile=(100.0,), dispersion=None, threshold=11.0)
    counts = {t0 + i: 100 for i in range(80)}
    for gap in range(70, 80):
        del counts[t0 + gap]
    counts[t0 + 80] = 100
    series = _series(counts)
    assert not rule.judge(series, t0 + 80).breach  # ten silent minutes are not ten zeros
    assert not rule.judge(series, t0 + 75).breach  # a silent minute is not judged at all


def test_an_alert_clears_as_soon_as_approvals_are_back():
    t0 = 29_000_000
    rule = _rule(profile=(100.0,), dispersion=None, threshold=11.0)
    counts = {t0 + i: 100 for i in range(75)} | {t0 + 75 + i: 40 for i in range(10)} \
        | {t0 + 85 + i: 100 for i in range(5)}
    series = _series(counts)
    assert rule.judge(series, t0 + 84).breach
    back = rule.judge(series, t0 + 85)
    assert not back.breach and back.clean  # the old evidence still sums past the threshold, yet it is over


def test_a_first_low_minute_without_enough_evidence_is_no_breach_and_counts_towards_resolving():
    t0 = 29_000_000
    rule = _rule(profile=(100.0,), dispersion=None, threshold=11.0)
    # 70 against 100 looks like the fall to 50% (its LLR is positive), but one minute of it is far from 11.
    series = _series({t0 + i: 100 for i in range(75)} | {t0 + 75: 70})
    judgement = rule.judge(series, t0 + 75)
    assert not judgement.breach
    assert judgement.clean is True  # a firing alert resolves on such minutes like on any other quiet one
    # Over the lookback the evidence was summed over: 14 minutes at 100 and this one, against 100 a minute.
    assert judgement.value == pytest.approx((14 * 100 + 70) / 15)
    assert judgement.expected == pytest.approx(100.0) and judgement.window == 15
    assert judgement.threshold == 0.0  # no limit to show: as for any minute that does not look like the drop


def test_a_small_drift_at_high_volume_does_not_fire():
    t0 = 29_000_000
    # Against a fall to 80%, 1,700 instead of 2,000 is strong evidence (LLR +21 a minute), yet only 15% down.
    rule = _rule(profile=(2000.0,), dispersion=None, threshold=11.0, drop=0.2, min_change=0.25)
    counts = {t0 + i: 2000 for i in range(75)} | {t0 + 75 + i: 1700 for i in range(15)}
    series = _series(counts)
    assert not any(rule.judge(series, t0 + 75 + i).breach for i in range(15))
    assert _rule(profile=(2000.0,), dispersion=None, threshold=11.0, drop=0.2, min_change=0.1).judge(
        series, t0 + 75).breach


def test_the_message_names_the_fall_and_normal():
    t0 = 29_000_000
    rule = _rule(profile=(100.0,), dispersion=None, threshold=11.0)
    series = _series({t0 + i: 100 for i in range(75)} | {t0 + 75 + i: 30 for i in range(3)})
    judgement = rule.judge(series, t0 + 77)
    assert judgement.breach and judgement.value == 30 and judgement.expected == pytest.approx(100.0)
    assert 30 < judgement.threshold < 75 and judgement.window == 3  # the evidence rests on all three minutes
    assert "fall to 50%" in rule.detail(judgement)


# ------------------------------------------------------------------------------------------ the thresholds file
GOOD = {"id": "approved_drop_sequential", "type": "sequential_drop", "metric": METRIC, "profile": [10.0] * 24,
        "threshold": 11.3, "drop": 0.5, "dispersion": 80.0, "lookback": 15, "reference": 60, "min_change": 0.25,
        "min_expected": 5.0, "trend": True}


def _load(rule: dict):
    return parse_thresholds({"version": 1, "rules": [rule]}, "t.json")


def test_round_trips_through_the_file():
    rule = _load(GOOD).rules[0]
    assert isinstance(rule, SequentialDropRule)
    assert json.loads(json.dumps(rule.to_config())) == {**GOOD, "severity": "warning", "for": 1, "resolve": 5}


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"threshold": 0}, "threshold", "a log-likelihood ratio above 0"),
    ({"threshold": "high"}, "threshold", "a number"),
    ({"drop": 1.0}, "drop", "a fraction between 0 and 1"),
    ({"dispersion": 0.0}, "dispersion", "a negative-binomial size (> 0) per minute, or null"),
    ({"lookback": 0}, "lookback", "an integer >= 1"),
    ({"lookback": 61}, "lookback", "from 1 to 60"),
    ({"reference": 2000}, "reference", "from 10 to 1440"),
    ({"min_change": 1.5}, "min_change", "a fraction below 1"),
    ({"trend": "no"}, "trend", "true or false"),
    ({"profile": [1.0] * 5}, "profile", "a list of 5 values"),
    ({"metric": "rate:approved"}, "metric", "watches a count"),
])
def test_thresholds_file_errors_name_the_field(change, field, says):
    with pytest.raises(ConfigError) as raised:
        _load({**GOOD, **change})
    message = str(raised.value)
    assert message.startswith(f"t.json.rules[0].{field}:") and says in message, message


def test_a_missing_threshold_is_named():
    with pytest.raises(ConfigError, match=r"^t\.json\.rules\[0\]\.threshold: is required$"):
        _load({k: v for k, v in GOOD.items() if k != "threshold"})


# ------------------------------------------------------------------------------------------ on the rhythm set
@pytest.fixture(scope="module")
def learned():
    quiet = generate(JUDGED - TRAIN_DAYS * 1440, TRAIN_DAYS * 1440, seed=SEED, rhythm=True, incidents=[])
    return learn(history_from_rows(quiet.status_rows, quiet.auth_rows))


def _judged(incidents, days=2):
    data = generate(JUDGED, days * 1440, seed=SEED + 100, rhythm=True, incidents=incidents)
    return rows_by_minute(data.status_rows, data.auth_rows, JUDGED, days * 1440)


def test_a_halving_at_the_night_trough_fires_within_5_minutes(learned):
    start = JUDGED + 3 * 60 + 30  # Friday 03:30 UTC: about 22 approvals a minute
    episodes = replay(learned.thresholds, _judged([Incident("approval_drop", start, 20, 0.5)], days=1))
    sequential = [e for e in episodes if e.rule == "approved_drop_sequential"]
    assert sequential, episodes
    first = min(sequential, key=lambda e: e.fired_wall)
    assert start <= first.started_at and first.fired_minute - (start + 1) <= 5


def test_the_evening_decline_and_the_night_do_not_fire(learned):
    episodes = replay(learned.thresholds, _judged([]))  # Friday and Saturday: two declines, two troughs
    assert [e for e in episodes if e.rule == "approved_drop_sequential"] == []


# ------------------------------------------------------------------------------------------ learning
def test_learning_sets_the_threshold_from_the_budget_and_says_why(learned):
    rule = next(r for r in learned.thresholds.rules if r.id == "approved_drop_sequential")
    drop = next(r for r in learned.thresholds.rules if r.id == "approved_drop")
    p_each = learned.thresholds.provenance["budget"]["p_value_per_minute"] / 2
    assert drop.p_value == pytest.approx(p_each, rel=0.01)  # the approvals' budget, halved between the two
    assert rule.threshold >= round(math.log(1 / p_each), 2) - 0.01  # never below Lorden's bound
    assert rule.profile.values == drop.profile.values and rule.dispersion == drop.dispersion[0]
    reasoning = learned.baselines[METRIC].reasoning
    assert "approved_drop_sequential" in reasoning and "Lorden" in reasoning


def test_without_a_profile_the_windows_keep_the_whole_budget():
    """The built-in defaults (flat, following the trend) have no sequential rule: the trend's night level is too
    rough for minute-by-minute evidence; their profile_drop spends the approvals' whole budget."""
    defaults = load_thresholds()
    assert not any(isinstance(r, SequentialDropRule) for r in defaults.rules)
    drop = next(r for r in defaults.rules if r.id == "approved_drop")
    assert drop.trend and drop.p_value == defaults.provenance["budget"]["p_value_per_minute"]


def test_a_history_that_breaches_more_than_the_bound_raises_the_threshold():
    judged = np.ones(1000, dtype=bool)
    # 4 separate breaches at 8 (3 below the bound of 11) in 1,000 minutes: e^-8 allows 0.34 there.
    evidence = np.full(1000, -np.inf)
    evidence[[100, 300, 500, 700]] = 8.5
    choice = choose_sequential_threshold(evidence, judged, p_value=math.exp(-11.0))
    assert choice.threshold == pytest.approx(11.0 + math.log(4 / (1000 * math.exp(-8.0))), abs=0.01)
    assert "raised by" in choice.reason
    # Two breaches are too few to count: the bound stands, as it does for a quiet history.
    evidence[[500, 700]] = -np.inf
    assert choose_sequential_threshold(evidence, judged, p_value=math.exp(-11.0)).threshold == pytest.approx(11.0)
    quiet = choose_sequential_threshold(np.full(1000, -np.inf), judged, p_value=math.exp(-11.0))
    assert quiet.threshold == pytest.approx(11.0, abs=0.01)


def test_the_learned_evidence_is_the_rules_own():
    """The learning's vectorised evidence breaches exactly where the rule does (flat profile, no dips)."""
    rng = np.random.default_rng(3)
    n = 400
    x = rng.poisson(np.where(np.arange(n) % 150 > 130, 40, 100)).astype(float)
    minutes = np.arange(T0, T0 + n)
    received = np.ones(n, dtype=bool)
    rule = _rule(profile=(100.0,), dispersion=50.0, threshold=9.0)
    evidence = sequential_evidence(x, minutes, received, (100.0,), False, 50.0, 0.25)
    series = _series({int(m): int(c) for m, c in zip(minutes, x, strict=True)})
    dip = np.arange(n) % 150 > 130
    for i in range(80, n):
        if not dip[i - 74:i - 14].any() and abs(evidence[i] - 9.0) > 1e-6:  # the rule leaves dips out of its reference
            assert (evidence[i] >= 9.0) == rule.judge(series, int(minutes[i])).breach, i
