"""The charts' alert lines are the rules' conditions: the series is beyond a line exactly where a rule breaches.

Over seeded series with bursts (denial spikes, failures, an approval drop), the
REAL built-in rules (detection/default_thresholds.json: poisson_tail window sums,
the denied-share rate rules, profile_drop) and the other approval-drop types with
their documented defaults, each rule's line is worked out per minute
(``detection.critical``) and compared with ``rule.judge(...).breach`` at the count
received; then the same through the dashboard's ``RuleBands`` on a real Monitor's
snapshot, per panel, where a minute is beyond either line exactly when any rule on
that panel breaches.
"""

from __future__ import annotations

import numpy as np
import pytest

from callbacks.bands import RuleBands, trimmed
from detection import Monitor, Store, load_thresholds, validate_records
from detection.critical import (
    MAX_COUNT,
    ColumnSeries,
    OneMinuteChanged,
    alert_line,
    counted_metric,
    critical_count,
    fires_below,
    monotone_in_count,
)
from detection.drop_rule import DropRule
from detection.drop_sequential import SequentialDropRule
from detection.metrics import AUTH_CODE_FEED, DEFAULT_AUTH_CODES, DEFAULT_STATUSES, STATUS_FEED, feed_of
from detection.rules import ThresholdRule
from detection.series import MinuteSeries
from detection.stat_rules import SeasonalRule

from .support import START_MINUTE, Burst, make_minutes

MINUTES = 480
LEAD = 120  # minutes before the ones checked, so every rule's window and reference has data
BURSTS = (
    Burst("denied", 200, 12, 30),
    Burst("failed", 260, 8, 4),
    Burst("backend_reversed", 300, 6, 3),
    Burst("approved", 360, 15, -80),  # approvals fall to about a third: the drop rules' case
    Burst("refunded", 420, 5, 6),
)


def built_in_rules():
    return list(load_thresholds().rules)


def other_rules():
    """Rule types the defaults do not use, with their documented defaults and thresholds a test can reach."""
    approved = "status:approved"
    return [
        DropRule(rule_id="drop", metric=approved),
        SequentialDropRule(rule_id="sequential", metric=approved, profile=(117.0,), threshold=8.0),
        SeasonalRule(rule_id="seasonal", metric="status:denied", direction="above", profile=(6.0,), window=5, z=4.0,
                     relative_sd=0.1, min_change=0.3),
        ThresholdRule(rule_id="refunds", metric="status:refunded", direction="above", threshold=4.0),
        ThresholdRule(rule_id="denied_share", metric="rate:denied", direction="above", threshold=0.1),
    ]


@pytest.fixture(scope="module")
def series() -> MinuteSeries:
    """The engine's own series, fed the generated minutes (with one three-minute feed gap)."""
    out = MinuteSeries(DEFAULT_STATUSES)
    for i, (statuses, codes) in enumerate(make_minutes(MINUTES, seed=11, bursts=BURSTS)):
        if 330 <= i < 333:
            continue
        minute = START_MINUTE + i
        for row in statuses:
            out.add(STATUS_FEED, f"status:{row['status']}", minute, max(row["count"], 0))
        for row in codes:
            out.add(AUTH_CODE_FEED, f"auth_code:{row['auth_code']}", minute, max(row["count"], 0))
    return out


def beyond(count: int, line: float | None, below: bool) -> bool:
    if line is None:
        return False
    return count < line if below else count > line


@pytest.mark.parametrize("rule", built_in_rules() + other_rules(), ids=lambda r: r.id)
def test_the_series_is_beyond_a_rules_line_exactly_where_the_rule_breaches(rule, series):
    metric, below = counted_metric(rule), fires_below(rule)
    breaches, crossings, hint = [], [], None
    for minute in range(START_MINUTE + LEAD, START_MINUTE + MINUTES):
        hint = critical_count(rule, series, minute, hint)
        if beyond(series.count(metric, minute), alert_line(rule, hint), below):
            crossings.append(minute)
        if rule.judge(series, minute).breach:
            breaches.append(minute)
    assert crossings == breaches
    # Without hints (every minute searched from its received count) the lines are the same.
    for minute in breaches[:5] + [START_MINUTE + LEAD + 7]:
        assert beyond(series.count(metric, minute), alert_line(rule, critical_count(rule, series, minute)), below) == \
            rule.judge(series, minute).breach


@pytest.mark.parametrize("rule", [r for r in built_in_rules() + other_rules() if monotone_in_count(r)],
                         ids=lambda r: r.id)
def test_a_rule_declared_monotone_has_one_turn_whatever_the_search_starts_from(rule, series):
    """``monotone_in_count`` lets the hint's turn stand unchecked: from the hint, from the count received and
    from far away, the search finds the same turn at every minute, and the counts on either side agree."""
    metric, hint = counted_metric(rule), None
    changed = OneMinuteChanged(series, metric)
    for minute in range(START_MINUTE + LEAD, START_MINUTE + MINUTES):
        hint = critical_count(rule, series, minute, hint)
        assert hint == critical_count(rule, series, minute) == critical_count(rule, series, minute, 500)
        if hint is None or hint in (0, MAX_COUNT):
            continue
        changed.move_to(minute)
        below = fires_below(rule)
        for count in (hint - 2, hint - 1, hint, hint + 1, hint + 2):
            if count < 0:
                continue
            changed.set_count(count)
            assert rule.judge(changed, minute).breach == (count <= hint if below else count >= hint)


def test_the_generated_series_makes_every_kind_of_rule_breach(series):
    """The comparison above means something: each rule type breaches somewhere in the checked minutes."""
    breached = {type(rule).__name__ for rule in built_in_rules() + other_rules()
                if any(rule.judge(series, m).breach for m in range(START_MINUTE + LEAD, START_MINUTE + MINUTES))}
    assert breached >= {"PoissonTailRule", "RateRule", "ProfileDropRule", "DropRule", "SequentialDropRule",
                        "SeasonalRule", "ThresholdRule"}


@pytest.mark.parametrize("rule", [r for r in built_in_rules() if r.id in ("failed_high", "denied_share_high")],
                         ids=lambda r: r.id)
def test_a_sparse_count_breaches_exactly_from_the_least_count_that_breaches(rule, series):
    """For a monotone rule the line is the least breaching count: one count less is clean, it breaches."""
    metric = counted_metric(rule)
    minute = START_MINUTE + 150
    critical = critical_count(rule, series, minute)
    assert critical is not None and critical > series.count(metric, minute)
    changed = OneMinuteChanged(series, metric, minute)
    changed.set_count(critical)
    assert rule.judge(changed, minute).breach
    changed.set_count(critical - 1)
    assert not rule.judge(changed, minute).breach


def column_view(series: MinuteSeries, start: int, end: int) -> ColumnSeries:
    metrics = [f"status:{s}" for s in DEFAULT_STATUSES] + [f"auth_code:{c}" for c in DEFAULT_AUTH_CODES]
    return ColumnSeries(start, {m: series.column(m, start, end) for m in metrics},
                        {f: series.received_flags(f, start, end) for f in (STATUS_FEED, AUTH_CODE_FEED)})


@pytest.mark.parametrize("rule", built_in_rules() + other_rules(), ids=lambda r: r.id)
def test_a_column_view_judges_as_the_engines_series(rule, series):
    """The dashboard judges over a snapshot's columns: the same verdicts as the engine's own series."""
    view = column_view(series, START_MINUTE, START_MINUTE + MINUTES - 1)
    for minute in range(START_MINUTE + LEAD, START_MINUTE + MINUTES):
        assert view.window_sum(rule.metric, minute, 7) == series.window_sum(rule.metric, minute, 7)
        assert rule.judge(view, minute) == rule.judge(series, minute)


@pytest.fixture
def fed_monitor(clock):
    """A real Monitor with the built-in rules, fed the same kind of minutes through validation."""
    monitor = Monitor(load_thresholds(), Store(":memory:"), clock=clock)
    for statuses, codes in make_minutes(MINUTES, seed=11, bursts=BURSTS):
        for row in statuses:
            row["count"] = max(row["count"], 0)
        monitor.ingest(validate_records(statuses, "status", DEFAULT_STATUSES, now=clock.now))
        monitor.ingest(validate_records(codes, "auth_code", DEFAULT_AUTH_CODES, now=clock.now))
    return monitor


def test_the_dashboards_lines_cross_where_any_rule_on_the_panel_breaches(fed_monitor):
    rules = fed_monitor.thresholds.rules
    bands = RuleBands(rules)
    shown = 300
    read = fed_monitor.snapshot(shown + bands.lead)
    snap = trimmed(read, shown)
    checked = 0
    for metric, column in snap.counts.items():
        lower, upper, _ = bands.lines_of(read, metric, snap.minutes)
        on_panel = bands.drawn_on(metric)
        assert (lower is None and upper is None) == (not on_panel)
        closed = snap.feeds[feed_of(metric)].closed_through
        for i, minute in enumerate(snap.minutes):
            crossed = beyond(column[i], lower[i] if lower else None, True) or \
                beyond(column[i], upper[i] if upper else None, False)
            # An open minute is judged only by the rules that may fire on it, as the engine does.
            breached = any(r.judge(fed_monitor.series, minute).breach for r in on_panel
                           if minute <= closed or r.monotone)
            assert crossed == breached, (metric, minute, column[i], lower and lower[i], upper and upper[i])
            checked += breached
    assert checked > 20  # the bursts breach on several panels


def test_an_open_minute_has_lines_only_of_the_rules_that_judge_it_open(fed_monitor, clock):
    """Approval drops judge closed minutes only: a half-posted open minute is not drawn as a drop."""
    bands = RuleBands(fed_monitor.thresholds.rules)
    read = fed_monitor.snapshot(30 + bands.lead)
    snap = trimmed(read, 30)
    assert snap.feeds["status"].closed_through == snap.end_minute - 1  # the newest minute is open
    lower, _, _ = bands.lines_of(read, "status:approved", snap.minutes)
    _, upper, _ = bands.lines_of(read, "auth_code:51", snap.minutes)
    assert lower[-2] is not None and lower[-1] is None
    assert upper[-1] is not None  # code 51's tail rules judge the open minute (judge_open)
    clock.advance(180)
    fed_monitor.tick()  # the wall clock closes it
    read = fed_monitor.snapshot(30 + bands.lead)
    lower, _, _ = bands.lines_of(read, "status:approved", trimmed(read, 30).minutes)
    assert lower[-1] is not None


def test_lines_are_remembered_and_recomputed_from_the_first_minute_whose_data_changed(fed_monitor, clock):
    bands = RuleBands(fed_monitor.thresholds.rules)
    read = fed_monitor.snapshot(60 + bands.lead)
    first = bands.lines_of(read, "status:failed", trimmed(read, 60).minutes)
    # The same data again: every line comes from memory, none is asked of the rules.
    with bands.for_snapshot(fed_monitor.snapshot(60 + bands.lead)) as again:
        again._entry = None  # type: ignore[method-assign,assignment]  # would raise if anything were recomputed
        assert again.lines("status:failed", trimmed(read, 60).minutes) == first
    with pytest.raises(RuntimeError, match="with block"):
        again.lines("status:failed", trimmed(read, 60).minutes)
    # Late failures land five minutes back: from there on, the lines are those of the new data.
    late = read.end_minute - 5
    stamp = np.datetime_as_string(np.datetime64(late * 60, "s")).replace("T", " ")
    fed_monitor.ingest(validate_records([{"timestamp": stamp, "status": "failed", "count": 7}], "status",
                                        DEFAULT_STATUSES, now=clock.now))
    fresh = fed_monitor.snapshot(60 + bands.lead)
    lower, upper, _ = bands.lines_of(fresh, "status:failed", trimmed(fresh, 60).minutes)
    assert upper == RuleBands(fed_monitor.thresholds.rules).lines_of(
        fresh, "status:failed", trimmed(fresh, 60).minutes)[1]
    assert upper != first[1]
