"""The profile_drop rule's bulk skip-ahead (detection/rhythm_scan.py) finds exactly the breaches the plain judgement
finds, minute by minute: over daily shapes, dips (some exactly at the dip floor), feed gaps, late rows, and flat,
24, 48 and 168-value profiles with and without a trend."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detection import Monitor, Store, validate_records
from detection.metrics import DEFAULT_STATUSES
from detection.rhythm import BULK_BLOCK, ProfileDropRule, minute_of_week
from detection.rhythm_scan import possible_breaches
from detection.rules import Rule
from detection.series import MinuteSeries
from detection.thresholds import Thresholds

WEEK_START = 29_204_640 - minute_of_week(29_204_640)  # a Monday 00:00 UTC (2025-07)
NOW = 1_790_000_000.0  # the wall clock: after all the data


@st.composite
def rules(draw) -> ProfileDropRule:
    length = draw(st.sampled_from([1, 24, 48, 168]))
    # Whole numbers (exact ratios, so dips can sit exactly on the floor) or fractions; an hour at 0 sometimes.
    value = st.one_of(st.integers(1, 40).map(float), st.floats(0.5, 40.0), st.just(0.0))
    profile = draw(st.lists(value, min_size=length, max_size=length).filter(lambda v: max(v) > 0))
    windows = sorted(draw(st.sets(st.integers(1, 20), min_size=1, max_size=4)))
    return ProfileDropRule(
        rule_id="drop", metric="status:approved", profile=profile, windows=windows,
        dispersion=draw(st.lists(st.one_of(st.none(), st.floats(5.0, 300.0)), min_size=len(windows),
                                 max_size=len(windows))),
        # Generous budgets and small changes, so breaches and near misses are common.
        p_value=draw(st.sampled_from([1e-4, 0.01, 0.2])), min_change=draw(st.sampled_from([0.0, 0.1, 0.3])),
        reference=draw(st.sampled_from([10, 11, 30, 60])), min_expected=draw(st.sampled_from([0.0, 5.0])),
        trend=draw(st.booleans()))


@st.composite
def histories(draw, rule: ProfileDropRule):
    """{minute: approved count or None (a minute with data but no approvals)}, minutes missing are feed gaps."""
    length = rule.reference + max(rule.windows) + draw(st.integers(0, 160))
    first = WEEK_START + draw(st.integers(0, 7 * 1440 - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.25, 1.0, 3.0]))
    minutes = np.arange(first, first + length)
    mean = scale * np.array([rule.profile.at(int(m)) for m in minutes])
    noisy = draw(st.booleans())
    counts = rng.poisson(mean) if noisy else np.round(mean)
    # Dips: a stop, a halving, shallow ones either side of the floor (x 0.75), long enough to move the median.
    for _ in range(draw(st.integers(0, 3))):
        start, span = draw(st.integers(0, length - 1)), draw(st.integers(1, 40))
        factor = draw(st.sampled_from([0.0, 0.5, 0.7, 0.75, 0.8]))
        counts[start:start + span] = np.round(counts[start:start + span] * factor)
    history: dict[int, int | None] = {int(m): int(c) for m, c in zip(minutes, counts, strict=True)}
    for _ in range(draw(st.integers(0, 3))):  # feed gaps: nothing at all received
        start, span = draw(st.integers(0, length - 1)), draw(st.integers(1, 12))
        for m in range(first + start, first + start + span):
            history.pop(m, None)
    for m in draw(st.lists(st.integers(first, first + length - 1), max_size=4)):
        if m in history:
            history[m] = None  # other statuses came in, no approvals
    return history


def series_of(history: dict[int, int | None]) -> MinuteSeries:
    series = MinuteSeries(("approved", "denied"))
    for minute, count in history.items():
        series.add("status", "status:denied", minute, 1)
        if count is not None:
            series.add("status", "status:approved", minute, count)
    return series


def assert_agrees(rule: ProfileDropRule, series: MinuteSeries) -> None:
    minutes = sorted(series.received_of("status"))
    breaches = [i for i, m in enumerate(minutes) if rule.judge(series, m).breach]
    # The screen keeps every breaching minute (it may keep more: judge decides those).
    assert set(breaches) <= set(possible_breaches(rule, series, minutes))
    # first_breach, called after each breach as the engine does, walks through exactly judge's breaches.
    found, index = [], 0
    while (hit := rule.first_breach(series, minutes, index)) is not None:
        found.append(hit)
        index = hit + 1
    assert found == breaches
    for start in (0, len(minutes) // 3, max(len(minutes) - 5, 0)):
        assert rule.first_breach(series, minutes, start) == next((i for i in breaches if i >= start), None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_skip_ahead_finds_exactly_judges_breaches(data):
    rule = data.draw(rules())
    history = data.draw(histories(rule))
    series = series_of(history)
    assert_agrees(rule, series)
    # Late rows: counts added to minutes already judged (their own reference, or a gap filled in), then
    # judged again: nothing is remembered from the first pass.
    first, last = min(history, default=WEEK_START), max(history, default=WEEK_START)
    late = data.draw(st.lists(st.tuples(st.integers(first, last), st.integers(0, 60)), max_size=6))
    for minute, count in late:
        series.add("status", "status:approved", minute, count)
    assert_agrees(rule, series)


def test_a_long_replay_is_screened_in_blocks_and_finds_the_dips():
    # Longer than one block, with dips in the second one: the first breach is judge's, found past a block edge.
    rule = ProfileDropRule(rule_id="drop", metric="status:approved", profile=(100.0,), windows=(1, 5, 15),
                           dispersion=(80.0, 200.0, 340.0), p_value=2.5e-5, min_change=0.3, trend=True)
    rng = np.random.default_rng(5)
    first = WEEK_START + 600
    counts = rng.poisson(100, 3 * BULK_BLOCK)
    counts[BULK_BLOCK + 40:BULK_BLOCK + 50] = 20  # approvals fall to a fifth for 10 minutes
    counts[2 * BULK_BLOCK + 10:2 * BULK_BLOCK + 12] = 0
    series = series_of({first + i: int(c) for i, c in enumerate(counts)})
    assert_agrees(rule, series)
    minutes = sorted(series.received_of("status"))
    assert rule.first_breach(series, minutes, 0) == BULK_BLOCK + 40


class PlainProfileDrop(ProfileDropRule):
    """The same rule judging every minute one by one (the base class's first_breach)."""

    first_breach = Rule.first_breach


def test_a_bulk_replay_raises_the_same_alerts_with_and_without_the_skip_ahead(tmp_path):
    logging.disable(logging.WARNING)
    try:
        rng = np.random.default_rng(11)
        first = WEEK_START + 2 * 1440
        approved = rng.poisson(100, 1000)
        approved[300:320] = 10  # a stop: fires, resolves
        approved[600:603] = 40
        gap = set(range(800, 806))  # a feed gap
        settings_of = dict(rule_id="approved_drop", metric="status:approved", profile=(100.0,), windows=(1, 3, 15),
                           dispersion=(80.0, 160.0, 340.0), p_value=2.5e-5, min_change=0.3, trend=True)
        episodes = []
        for kind in (ProfileDropRule, PlainProfileDrop):
            monitor = Monitor(Thresholds(rules=(kind(**settings_of),)), Store(str(tmp_path / f"{kind.__name__}.db")),
                              clock=lambda: NOW)
            records = [{"timestamp": (first + i) * 60, "status": status, "count": count}
                       for i, a in enumerate(approved) if i not in gap
                       for status, count in (("approved", int(a)), ("denied", 5))]
            for at in range(0, len(records), 1000):
                monitor.ingest(validate_records(records[at:at + 1000], "status", DEFAULT_STATUSES, now=NOW))
            episodes.append(sorted((a.started_at, a.fired_at, a.resolved_at, a.value, a.threshold, a.expected)
                                   for a in monitor.alerts("all", limit=100) if a.rule == "approved_drop"))
            monitor.store.close()
        assert len(episodes[0]) >= 2
        assert episodes[0] == episodes[1]
    finally:
        logging.disable(logging.NOTSET)



@pytest.mark.parametrize("trend", [False, True])
def test_steady_traffic_around_a_feed_gap_is_ruled_out_without_judging(trend):
    # The screen's purpose (module docstring): a minute far from any limit is ruled out in bulk; only feed gaps,
    # zero profile hours, reference minutes near the dip floor and windows near their limit go to judge.
    # Approvals exactly at the profile, 30% above every window's limit, with one silent minute: minutes whose
    # windows hold it (judge stops there), whose reference holds it (the smoothed levels) and the rest alike.
    rule = ProfileDropRule(rule_id="drop", metric="status:approved", profile=(100.0,), windows=(1, 5, 15),
                           dispersion=(None, None, None), p_value=2.5e-5, min_change=0.3, trend=trend)
    first = WEEK_START + 600
    history: dict[int, int | None] = {first + i: 100 for i in range(300)}
    del history[first + 150]
    series = series_of(history)
    minutes = sorted(series.received_of("status"))[80:]
    assert not any(rule.judge(series, m).breach for m in minutes)
    assert possible_breaches(rule, series, minutes) == []


def test_a_shallow_dip_just_under_the_floor_in_a_long_reference_keeps_the_breach():
    # 80 of 800 reference minutes at 74 against 100: just under the dip floor (3/4 of the median), so judge leaves
    # them out and today's level stays ~100; taken in, the level would be 97.4 and a window at 69 a minute (under
    # 70% of ~99.9, a breach) would look above 70% of it. Two minutes screened together: each row's summary of
    # its reference (mean, spread, lowest) must be its own, or the dip can pass for noise.
    rule = ProfileDropRule(rule_id="drop", metric="status:approved", profile=(100.0,), windows=(10,),
                           dispersion=(None,), p_value=2.5e-5, min_change=0.3, reference=800)
    first = WEEK_START + 600
    history: dict[int, int | None] = {first + i: 74 if 360 <= i < 440 else 100 for i in range(800)}
    history |= {first + 800 + i: 69 for i in range(11)}
    series = series_of(history)
    minutes = [first + 809, first + 810]
    assert [rule.judge(series, m).breach for m in minutes] == [True, True]
    assert possible_breaches(rule, series, minutes) == [0, 1]


def test_a_huge_count_in_the_older_half_of_a_trend_reference_keeps_the_breach():
    # One absurd count (1.5e11: a feed bug) in the older half of the reference: the trend's change is hugely
    # negative, clamped to -30%, so judge expects 700 a minute and a window at 480 (under 70% of it) breaches.
    # The screen's float slack grows with the size of the levels it compared, never shrinks with it.
    rule = ProfileDropRule(rule_id="drop", metric="status:approved", profile=(1.0,), windows=(5,),
                           dispersion=(None,), p_value=2.5e-5, min_change=0.3, reference=20, trend=True)
    first = WEEK_START + 600
    history: dict[int, int | None] = {first + i: 1000 for i in range(20)}
    history[first + 5] = 150_000_000_000
    history |= {first + 20 + i: 480 for i in range(5)}
    series = series_of(history)
    judgement = rule.judge(series, first + 24)
    assert judgement.breach and judgement.expected == pytest.approx(700.0)
    assert possible_breaches(rule, series, [first + 24]) == [0]
