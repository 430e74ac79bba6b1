"""The thresholds file: defaults load, every mistake names the file and field, rules behave as configured."""

from __future__ import annotations

import json

import pytest

from detection import ConfigError, load_thresholds, parse_thresholds
from detection.metrics import DEFAULT_STATUSES
from detection.rules import ThresholdRule
from detection.series import MinuteSeries
from detection.thresholds import write_thresholds


def test_built_in_defaults_watch_every_bad_outcome_and_approvals():
    thresholds = load_thresholds()
    metrics = {rule.metric for rule in thresholds.rules}
    for status in ("failed", "reversed", "backend_reversed", "refunded"):
        assert f"status:{status}" in metrics
    assert metrics & {"status:denied", "rate:denied"}
    assert metrics & {"status:approved", "rate:approved"}  # approvals falling below normal
    assert {"auth_code:51", "auth_code:59"} <= metrics  # which code drives a denial spike
    assert thresholds.no_data_minutes > 0


def test_a_written_file_reads_back_the_same(tmp_path):
    thresholds = load_thresholds()
    path = tmp_path / "t.json"
    write_thresholds(thresholds, path)
    again = load_thresholds(path)
    assert [r.to_config() for r in again.rules] == [r.to_config() for r in thresholds.rules]
    assert again.source == str(path)
    # A file people read and edit: indented two spaces, one field a line, ending in a newline; no temporary left.
    assert path.read_text(encoding="utf-8") == json.dumps(thresholds.to_config(), indent=2) + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


RULE = {"id": "r", "type": "threshold", "metric": "status:failed", "direction": "above", "threshold": 2}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"version": 2}, "t.json.version: this monitor reads version 1"),
        ({"version": "1"}, "t.json.version: expected an integer"),
        ({"rules": {}}, "t.json.rules: expected an array"),
        ({"rules": [dict(RULE, type="magic")]}, "t.json.rules[0].type: unknown rule type 'magic'"),
        ({"rules": [dict(RULE, metric="status:processing")]}, "t.json.rules[0].metric: unknown metric"),
        ({"rules": [dict(RULE, **{"for": 0})]}, "t.json.rules[0].for: expected an integer >= 1"),
        ({"rules": [dict(RULE, resolve=-2)]}, "t.json.rules[0].resolve: expected an integer >= 1"),
        ({"rules": [dict(RULE, severity="page")]}, "t.json.rules[0].severity: expected one of info, warning, critical"),
        ({"rules": [dict(RULE, direction="up")]}, "t.json.rules[0].direction: expected one of above, below"),
        ({"rules": [dict(RULE, threshold="2")]}, "t.json.rules[0].threshold: expected a number"),
        ({"rules": [dict(RULE, recovery=5)]}, "t.json.rules[0].recovery: must be <= threshold"),
        ({"rules": [dict(RULE, colour="red")]}, "t.json.rules[0]: unknown field(s) colour"),
        ({"rules": [RULE, RULE]}, "t.json.rules[1].id: duplicate rule id 'r'"),
        ({"rules": [{k: v for k, v in RULE.items() if k != "id"}]}, "t.json.rules[0].id: is required"),
        ({"no_data": {"after_minutes": -1}}, "t.json.no_data.after_minutes: expected an integer >= 0"),
        ({"statuses": []}, "t.json.statuses: expected a non-empty array"),
        ({"statuses": ["approved", "on hold;"]}, "t.json.statuses: 'on hold;' is not a plain name"),
        ({"extra": 1}, "t.json: unknown field(s) extra"),
    ],
)
def test_every_mistake_names_the_field(tmp_path, change, message):
    data = {"version": 1, "rules": [RULE]}
    data.update(change)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        parse_thresholds(json.loads(path.read_text()), "t.json")
    assert message in str(caught.value)


def test_unreadable_files_get_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="thresholds file not found"):
        load_thresholds(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1,\n "rules": [}')
    with pytest.raises(ConfigError, match="not valid JSON at line 2"):
        load_thresholds(broken)


def test_extra_statuses_become_valid_metrics():
    thresholds = parse_thresholds(
        {"version": 1, "statuses": ["approved", "processing"], "rules": [dict(RULE, metric="status:processing")]}, "t"
    )
    assert thresholds.rules[0].metric == "status:processing"


def _series(values, metric="status:failed"):
    series = MinuteSeries(DEFAULT_STATUSES)
    for minute, value in enumerate(values):
        if value is not None:
            series.add("status", metric, minute, value)
    return series


@pytest.mark.parametrize(
    "direction, threshold, recovery, value, breach, clean",
    [
        ("above", 2, None, 3, True, False),
        ("above", 2, None, 2, False, True),  # at the threshold is not above it
        ("above", 2, 1, 2, False, False),  # between recovery and threshold: neither
        ("above", 2, 1, 1, False, True),
        ("below", 75, None, 74, True, False),
        ("below", 75, None, 75, False, True),
        ("below", 75, 90, 80, False, False),
        ("below", 75, None, None, True, False),  # a missing minute counts as zero
    ],
)
def test_threshold_rule_judgements(direction, threshold, recovery, value, breach, clean):
    rule = ThresholdRule(rule_id="r", metric="status:approved", direction=direction, threshold=threshold, recovery=recovery)
    judgement = rule.judge(_series([value], "status:approved"), 0)
    assert (judgement.breach, judgement.clean) == (breach, clean)


def test_first_breach_skips_quiet_minutes_and_matches_judge():
    rule = ThresholdRule(rule_id="r", metric="status:failed", direction="above", threshold=2)
    series = _series([0, 1, 0, 5, 0, 9])
    minutes = list(range(6))
    assert rule.first_breach(series, minutes, 0) == 3
    assert rule.first_breach(series, minutes, 4) == 5
    assert rule.first_breach(series, [0, 1, 2], 0) is None
    rate = ThresholdRule(rule_id="x", metric="rate:failed", direction="above", threshold=0.5)
    assert rate.first_breach(series, minutes, 0) == 1  # failed is the only status here: 100% of total


@pytest.mark.parametrize(("direction", "recovery", "refused"), [
    ("above", 2.5, "t.json.rules[0].recovery: must be <= threshold for an 'above' rule"),
    ("above", 2, None),  # equal to the threshold: allowed
    ("above", 1.5, None),
    ("below", 1.5, "t.json.rules[0].recovery: must be >= threshold for a 'below' rule"),
    ("below", 2, None),
    ("below", 2.5, None),
])
def test_recovery_must_lie_on_the_clean_side_of_the_threshold_for_each_direction(direction, recovery, refused):
    rule = dict(RULE, direction=direction, recovery=recovery)
    if refused is None:
        (loaded,) = parse_thresholds({"version": 1, "rules": [rule]}, "t.json").rules
        assert (loaded.direction, loaded.threshold, loaded.recovery) == (direction, 2, recovery)
        return
    with pytest.raises(ConfigError) as caught:
        parse_thresholds({"version": 1, "rules": [rule]}, "t.json")
    assert str(caught.value) == refused


def test_a_drop_rule_takes_the_documented_defaults_from_a_file_and_from_code_alike():
    """README: window 3, reference 60, max_ratio 0.5, min_level 40; a rule written with only its id and metric
    (in a thresholds file, or built in code) gets exactly these."""
    from detection.drop_rule import DropRule

    [from_file] = parse_thresholds(
        {"version": 1, "rules": [{"id": "approved_drop", "type": "drop", "metric": "status:approved"}]}, "t").rules
    in_code = DropRule(rule_id="approved_drop", metric="status:approved")
    for rule in (from_file, in_code):
        assert isinstance(rule, DropRule)
        assert (rule.window, rule.reference, rule.max_ratio, rule.min_level) == (3, 60, 0.5, 40.0), rule


def test_a_rate_rules_recent_is_checked_against_the_default_window_when_none_is_written():
    rule = {"id": "r", "type": "rate", "metric": "rate:denied", "direction": "above", "baseline": 0.07,
            "p_value": 1e-4, "recent": 5}
    with pytest.raises(ConfigError) as caught:
        parse_thresholds({"version": 1, "rules": [rule]}, "t")
    assert str(caught.value) == "t.rules[0].recent: expected fewer minutes than the window (5), got 5"


@pytest.mark.parametrize(("per", "words"), [("status:approved", "per 100 approved"), ("auth_code:00", "per 100 code 00")])
def test_a_tail_rules_condition_names_what_it_is_counted_per(per, words):
    from detection.stat_rules import PoissonTailRule

    rule = PoissonTailRule(rule_id="x", metric="auth_code:51", ratio=0.05, per=per, window=2, p_value=1e-4, min_count=8)
    assert rule.condition_text() == f"8+ in 2 min and more than chance allows (p < 1e-04) for its usual 5 {words}"


def test_a_tail_rules_min_count_takes_the_documented_bounds():
    """README: poisson_tail's min_count is an integer >= 1 (default 3): 1 is the smallest written value it takes
    (a single event may be enough), 0 is refused naming the field."""
    tail = {"id": "t", "type": "poisson_tail", "metric": "auth_code:51", "per": "auth_code:00", "ratio": 0.05,
            "p_value": 1e-4}
    [default] = parse_thresholds({"version": 1, "rules": [tail]}, "t").rules
    [one] = parse_thresholds({"version": 1, "rules": [dict(tail, min_count=1)]}, "t").rules
    assert (default.min_count, one.min_count) == (3, 1)
    with pytest.raises(ConfigError) as caught:
        parse_thresholds({"version": 1, "rules": [dict(tail, min_count=0)]}, "t")
    assert str(caught.value) == "t.rules[0].min_count: expected an integer >= 1, got 0"
