"""Statistical rule types: table-driven judgements on awkward series, the thresholds file, the engine."""

from __future__ import annotations

import json

import pytest

from detection import RULE_TYPES, ConfigError, Monitor, MonitorSettings, Store, parse_thresholds, validate_records
from detection.metrics import DEFAULT_STATUSES
from detection.series import MinuteSeries
from detection.stat_rules import PoissonTailRule, RateRule, SeasonalRule
from detection.thresholds import known_metrics

T0 = 29_188_800  # 2025-07-01 00:00 UTC
N = 60  # minutes per test series
JUDGED = T0 + N - 1


def series_of(**columns: list[int | None]) -> MinuteSeries:
    """Build a MinuteSeries from per-minute lists; None = the feed sent nothing that minute."""
    series = MinuteSeries(DEFAULT_STATUSES)
    length = max(len(c) for c in columns.values())
    for i in range(length):
        for name, column in columns.items():
            value = column[i] if i < len(column) else 0
            if value is None:
                continue
            feed, _, key = name.partition("__")
            metric = f"{'auth_code' if feed == 'auth' else 'status'}:{key}"
            series.add("auth_code" if feed == "auth" else "status", metric, T0 + i, value)
    return series


def flat(value: int) -> list[int | None]:
    return [value] * N


def with_tail(base: list[int | None], tail: list[int | None]) -> list[int | None]:
    return base[: N - len(tail)] + tail


def _failed_rule(**kw) -> PoissonTailRule:
    defaults = {"rule_id": "failed_high", "metric": "status:failed", "ratio": 0.0001, "per": "status:approved", "window": 5,
                    "p_value": 2.5e-5, "min_count": 3, "dispersion": None, "per_level": (117.0,)}
    defaults.update(kw)
    return PoissonTailRule(**defaults)


APPROVED = flat(117)
DRIFT_UP = [117 + i // 4 for i in range(N)]  # approvals creep up 15/min over an hour

POISSON_CASES = [
    # (case, failed series, approved series, breach at the last minute)
    ("all zeros", flat(0), flat(0), False),
    ("no failures, normal volume", flat(0), APPROVED, False),
    ("a single failed transaction never pages", with_tail(flat(0), [1]), APPROVED, False),
    ("a single spike of 5 in one minute", with_tail(flat(0), [5]), APPROVED, True),
    ("a spike that left the window", with_tail(flat(0), [5, 0, 0, 0, 0, 0]), APPROVED, False),
    ("slow drift of volume alone", flat(0), DRIFT_UP, False),
    ("a missing minute (outage) in the window", flat(0), with_tail(APPROVED, [None, 117, 117]), False),
    ("sustained burst of 1/min", with_tail(flat(0), [1, 1, 1, 1, 1]), APPROVED, True),
    ("burst below min_count", with_tail(flat(0), [1, 0, 1, 0, 0]), APPROVED, False),
]


@pytest.mark.parametrize("case,failed,approved,breach", POISSON_CASES, ids=[c[0] for c in POISSON_CASES])
def test_poisson_tail_judgements(case, failed, approved, breach):
    rule = _failed_rule()
    judgement = rule.judge(series_of(status__failed=failed, status__approved=approved), JUDGED)
    assert judgement.breach is breach, case
    assert judgement.clean is (not breach)


def test_poisson_tail_follows_volume_and_dispersion():
    # 30 declines of code 51 in 2 minutes is a spike at 100/min approvals, normal at 1000/min.
    rule = PoissonTailRule(rule_id="r", metric="auth_code:51", ratio=0.022, per="auth_code:00", window=2,
                           p_value=2.5e-5, min_count=5, dispersion=40.0)
    low = series_of(auth__51=with_tail(flat(2), [15, 15]), auth__00=flat(100))
    high = series_of(auth__51=with_tail(flat(20), [15, 15]), auth__00=flat(1000))
    assert rule.judge(low, JUDGED).breach
    assert not rule.judge(high, JUDGED).breach
    poisson = PoissonTailRule(rule_id="p", metric="auth_code:51", ratio=0.022, per="auth_code:00", window=2,
                              p_value=2.5e-5, min_count=5)
    assert poisson.bounds(T0)[1] <= rule.bounds(T0)[1]  # overdispersion widens the band


PROFILE = [20.0] * 6 + [117.0] * 18  # quiet night hours 00-05 UTC
SEASONAL_CASES = [
    ("all zeros, no data at all", {}, False),
    ("normal level", {"status__approved": flat(117)}, False),
    ("single low minute", {"status__approved": with_tail(flat(117), [60])}, False),
    ("slow downward drift of 10%", {"status__approved": [117 - i // 5 for i in range(N)]}, False),
    ("missing minutes are not a drop", {"status__approved": with_tail(flat(117), [None, None, None, 117]),
                                        "status__refunded": with_tail(flat(1), [None, None, None, 1])}, False),
    ("sustained drop of half", {"status__approved": with_tail(flat(117), [55] * 10)}, True),
    ("zeros while the feed sends", {"status__approved": with_tail(flat(117), [0] * 10)}, True),
]


@pytest.mark.parametrize("case,columns,breach", SEASONAL_CASES, ids=[c[0] for c in SEASONAL_CASES])
def test_seasonal_judgements(case, columns, breach):
    rule = SeasonalRule(rule_id="approved_drop", metric="status:approved", direction="below",
                        profile=[117.0], window=10, z=4.0, relative_sd=0.04, min_change=0.15)
    # Zeros "while the feed sends": another status keeps the feed present.
    columns = {"status__refunded": flat(1), **columns} if columns else columns
    judgement = rule.judge(series_of(**columns) if columns else MinuteSeries(DEFAULT_STATUSES), JUDGED)
    assert judgement.breach is breach, case


def test_seasonal_uses_the_hour_of_day_profile():
    rule = SeasonalRule(rule_id="a", metric="status:approved", direction="below", profile=PROFILE, window=10,
                        z=4.0, relative_sd=0.04, min_change=0.15)
    night = series_of(status__approved=flat(20))  # T0 .. T0+59 is 00:00-00:59 UTC: night
    assert not rule.judge(night, JUDGED).breach
    assert rule.expected(T0) == 20.0 and rule.expected(T0 + 12 * 60) == 117.0
    lower, upper = rule.bounds(T0 + 12 * 60)
    assert upper is None and 80 < lower < 117 * 0.85 + 1e-9


DENIED = flat(6)
RATE_CASES = [
    ("all zeros", {}, False),
    ("normal share", {"status__approved": flat(117), "status__denied": DENIED}, False),
    ("daily-cycle volume swing alone", {"status__approved": [117 - i for i in range(N)],
                                        "status__denied": [max(6 - i // 10, 0) for i in range(N)]}, False),
    ("single denied spike minute", {"status__approved": flat(117), "status__denied": with_tail(DENIED, [40])}, True),
    ("slow drift of denials 6 -> 8", {"status__approved": flat(117),
                                      "status__denied": [6 + i // 30 for i in range(N)]}, False),
    ("missing minute in the window", {"status__approved": with_tail(flat(117), [None, 117]),
                                      "status__denied": with_tail(DENIED, [None, 6])}, False),
    ("sustained burst x4", {"status__approved": with_tail(flat(117), [99] * 5),
                            "status__denied": with_tail(DENIED, [24] * 5)}, True),
    ("few transactions at night", {"status__approved": flat(3), "status__denied": with_tail(flat(0), [2])}, False),
]


@pytest.mark.parametrize("case,columns,breach", RATE_CASES, ids=[c[0] for c in RATE_CASES])
def test_rate_judgements(case, columns, breach):
    rule = RateRule(rule_id="denied_share_high", metric="rate:denied", direction="above", baseline=0.049, window=2,
                    p_value=2.5e-5, min_count=5, dispersion=100.0)
    view = series_of(**columns) if columns else MinuteSeries(DEFAULT_STATUSES)
    judgement = rule.judge(view, JUDGED)
    assert judgement.breach is breach, case
    assert judgement.expected == 0.049


# A 30-minute drift rule half an hour after 15 minutes of denials at 40 (share about 25%), then
# back to 6 a minute: the half hour still holds the spike when the newest minutes are clean.
SPIKE_THEN_CLEAN = {"status__approved": flat(117), "status__denied": [6] * 25 + [40] * 15 + [6] * 20}


@pytest.mark.parametrize(("recent", "minutes_after", "breach"), [
    (None, 19, True),  # without `recent`: breaching until the spike has left the 30-minute window
    (5, 1, True),  # the newest 5 minutes still hold 4 spike minutes
    (5, 5, False),  # the newest 5 minutes are clean: the drift is over
])
def test_a_long_rate_window_with_recent_stops_breaching_once_the_newest_minutes_are_clean(recent, minutes_after, breach):
    rule = RateRule(rule_id="denied_share_drift", metric="rate:denied", direction="above", baseline=0.049, window=30,
                    p_value=2.5e-5, min_count=20, dispersion=1000.0, recent=recent)
    view = series_of(**SPIKE_THEN_CLEAN)
    minute = T0 + 39 + minutes_after
    judgement = rule.judge(view, minute)
    assert judgement.breach is breach
    # The 30-minute share itself is past the limit either way: only the newest minutes differ.
    assert judgement.value > judgement.threshold
    assert judgement.window == (30 if recent is None else recent)  # the newest minutes a breach rests on
    spike = [T0 + i for i in range(25, 60)]
    first = rule.first_breach(view, spike, 0)
    assert first is not None and rule.judge(view, spike[first]).breach  # the fast scan agrees with judge()


def test_a_draining_long_window_is_not_fired_again_by_newest_minutes_just_past_the_limit():
    # 15 minutes after the spike, the newest 5 minutes run at 9 denials (about 7%): past the 30-minute
    # limit share, as noise after an episode can be, but far below the window's own share: not a drift.
    rule = RateRule(rule_id="denied_share_drift", metric="rate:denied", direction="above", baseline=0.049, window=30,
                    p_value=2.5e-5, min_count=20, dispersion=1000.0, recent=5)
    columns = {"status__approved": flat(117), "status__denied": [6] * 25 + [40] * 15 + [6] * 10 + [9] * 5}
    view = series_of(**columns)
    judged = T0 + 54
    newest = sum(columns["status__denied"][50:55]) / (5 * 117 + sum(columns["status__denied"][50:55]))
    judgement = rule.judge(view, judged)
    assert judgement.threshold < newest < judgement.value  # past the limit share, under the window's share
    assert not judgement.breach


def _config(rule: dict) -> dict:
    return {"version": 1, "rules": [rule]}


TAIL = {"id": "f", "type": "poisson_tail", "metric": "status:failed", "ratio": 0.0001, "per": "status:approved",
        "window": 5, "p_value": 2.5e-5, "min_count": 3, "dispersion": None, "per_level": 117, "for": 1, "resolve": 10}
SEASONAL = {"id": "a", "type": "seasonal", "metric": "status:approved", "direction": "below", "profile": PROFILE,
            "window": 10, "z": 4.06, "relative_sd": 0.03, "min_change": 0.15, "for": 2, "resolve": 5}
RATE = {"id": "d", "type": "rate", "metric": "rate:denied", "direction": "above", "baseline": 0.047, "window": 2,
        "p_value": 2.5e-5, "dispersion": 100.0, "min_count": 5, "volume": 125, "for": 1, "resolve": 5}


RATE_RECENT = {**RATE, "id": "drift", "window": 30, "min_count": 20, "recent": 5}


@pytest.mark.parametrize("config", [TAIL, SEASONAL, RATE, RATE_RECENT], ids=["poisson_tail", "seasonal", "rate", "rate-recent"])
def test_rules_round_trip_through_the_thresholds_file(config):
    assert config["type"] in RULE_TYPES
    first = parse_thresholds(_config(config), "t.json")
    again = parse_thresholds(json.loads(json.dumps(first.to_config())), "t.json")
    assert first.rules[0].to_config() == again.rules[0].to_config()
    assert again.rules[0].to_config()["type"] == config["type"]
    assert again.rules[0].to_config().get("recent") == config.get("recent")
    described = again.rules[0].describe()
    assert described["condition"] and described["metric_label"]
    # The same decisions after the round trip, bounded on the rule's side only: a rule for rises has an
    # upper bound, the seasonal rule for approvals that fall a lower one.
    lower, upper = again.rules[0].bounds(T0)
    assert (lower, upper) == first.rules[0].bounds(T0)
    bound = lower if config.get("direction") == "below" else upper
    other = upper if config.get("direction") == "below" else lower
    assert other is None and bound > 0
    assert again.rules[0].expected(T0) == first.rules[0].expected(T0) > 0


BAD = [
    (TAIL, "p_value", 0.7, "t.json.rules[0].p_value"),
    (TAIL, "per", "auth_code:00", "t.json.rules[0].per"),
    (TAIL, "metric", "rate:failed", "t.json.rules[0].metric"),
    (TAIL, "window", 500, "t.json.rules[0].window"),
    (TAIL, "dispersion", -1, "t.json.rules[0].dispersion"),
    (TAIL, "min_count", "three", "t.json.rules[0].min_count"),
    (SEASONAL, "profile", [1, 2, 3], "t.json.rules[0].profile"),
    (SEASONAL, "direction", "sideways", "t.json.rules[0].direction"),
    (SEASONAL, "z", None, "t.json.rules[0].z"),
    (RATE, "metric", "status:denied", "t.json.rules[0].metric"),
    (RATE, "baseline", 1.5, "t.json.rules[0].baseline"),
    (RATE, "volume", "lots", "t.json.rules[0].volume"),
    (RATE, "surprise", 1, "unknown field(s) surprise"),
    (RATE, "recent", 2, "t.json.rules[0].recent: expected fewer minutes than the window (2), got 2"),
    (RATE, "recent", 0, "t.json.rules[0].recent"),
]


@pytest.mark.parametrize("base,field,value,named", BAD, ids=[f"{b['type']}-{f}" for b, f, _, _ in BAD])
def test_config_errors_name_the_field(base, field, value, named):
    config = dict(base)
    config[field] = value
    with pytest.raises(ConfigError) as error:
        parse_thresholds(_config(config), "t.json")
    assert named in str(error.value)


def test_statistical_rule_fires_and_resolves_through_the_monitor(clock):
    thresholds = parse_thresholds(_config(TAIL), "t.json")
    monitor = Monitor(thresholds, Store(":memory:"), MonitorSettings(), clock=clock)
    fired = []
    monitor.add_listener(lambda transitions: fired.extend(t.kind for t in transitions))
    for i in range(40):
        failed = 2 if 20 <= i < 25 else 0
        rows = [{"timestamp": (T0 + i) * 60, "status": s, "count": 117 if s == "approved" else
                 (failed if s == "failed" else 1)} for s in DEFAULT_STATUSES]
        monitor.ingest(validate_records(rows, "status", DEFAULT_STATUSES, now=2e9))
    alerts = monitor.alerts()
    assert [a.rule for a in alerts] == ["f"]
    assert alerts[0].started_at == T0 + 21  # 2 failures in minute 20 are not enough, 4 by minute 21 are
    # Minute 27 is the last whose 5-minute window holds 3+ failures (2 each in 23 and 24); ten clean
    # minutes (28-37) resolve it, at the end of minute 37.
    assert (alerts[0].last_breach_at, alerts[0].resolved_at) == (T0 + 27, T0 + 38)
    assert fired == ["firing", "resolved"]
    assert set(known_metrics(thresholds.statuses, thresholds.auth_codes)) >= {"status:failed", "rate:denied"}


@pytest.mark.parametrize("dispersion", [None, 30.0, 500.0], ids=["poisson", "nb-30", "nb-500"])
@pytest.mark.parametrize("p_value", [2.5e-5, 1e-3])
def test_tail_limits_agree_with_scipy(p_value, dispersion):
    from scipy import stats

    from detection.stat_rules import count_limits

    means = [1e-3 * 1.04**i for i in range(0, 300, 7)]
    if dispersion is None:
        upper = [int(c) + 1 for c in stats.poisson.isf(p_value, means)]
        lower = [int(c) - 1 for c in stats.poisson.ppf(p_value, means)]
    else:
        probs = [dispersion / (dispersion + m) for m in means]
        upper = [int(c) + 1 for c in stats.nbinom.isf(p_value, dispersion, probs)]
        lower = [int(c) - 1 for c in stats.nbinom.ppf(p_value, dispersion, probs)]
    assert count_limits(p_value, dispersion, means) == upper
    assert count_limits(p_value, dispersion, means, lower=True) == lower


def _code51_rule(judge_open: bool) -> PoissonTailRule:
    return PoissonTailRule(rule_id="r", metric="auth_code:51", ratio=0.022, per="auth_code:00", window=2,
                           p_value=2.5e-5, min_count=5, judge_open=judge_open)


# (case, code 00 series, code 51 series, breach without judge_open, breach with it, critical 2-min count with it)
OPEN_CASES = [
    ("half-posted newest minute counts as the one before", with_tail(flat(100), [20]), with_tail(flat(2), [11]),
     True, False, 16),
    ("a complete spike fires either way", flat(100), with_tail(flat(2), [14]), True, True, 16),
    ("an ordinary dip in code 00 keeps its own counts", with_tail(flat(100), [60]), with_tail(flat(2), [7]),
     False, False, 15),
    ("the minute before empty: nothing to floor with", with_tail(flat(0), [100]), with_tail(flat(0), [14]),
     True, True, 12),
]


@pytest.mark.parametrize("case,code00,code51,closed_breach,open_breach,critical", OPEN_CASES,
                         ids=[c[0] for c in OPEN_CASES])
def test_judge_open_floors_a_half_posted_reference(case, code00, code51, closed_breach, open_breach, critical):
    series = series_of(auth__00=code00, auth__51=code51)
    assert _code51_rule(False).judge(series, JUDGED).breach is closed_breach, case
    judgement = _code51_rule(True).judge(series, JUDGED)
    assert judgement.breach is open_breach, case
    assert judgement.threshold * 2 == critical
    # The engine's skip-ahead applies the same floor.
    found = _code51_rule(True).first_breach(series, list(range(T0, JUDGED + 1)), N - 3)
    assert found == (N - 1 if open_breach else None)


def test_judge_open_is_written_only_when_set_and_checked():
    spike = dict(TAIL, judge_open=True)
    rule = parse_thresholds(_config(spike), "t.json").rules[0]
    assert rule.monotone and rule.to_config()["judge_open"] is True
    plain = parse_thresholds(_config(TAIL), "t.json").rules[0]
    assert not plain.monotone and "judge_open" not in plain.to_config()
    with pytest.raises(ConfigError) as error:
        parse_thresholds(_config(dict(TAIL, judge_open="yes")), "t.json")
    assert str(error.value) == "t.json.rules[0].judge_open: expected true or false, got 'yes'"


def _auth_minute(minute: int, code00: int, code51: int) -> list:
    rows = [{"timestamp": minute * 60, "auth_code": code, "count": count}
            for code, count in (("00", code00), ("51", code51), ("59", 3))]
    return validate_records(rows, "auth_code", ["00", "51", "59"], now=2e9)


@pytest.mark.parametrize("judge_open", [True, False], ids=["judge_open", "closed-only"])
def test_a_spike_fires_in_the_minute_it_arrives_with_judge_open(clock, judge_open):
    rule = {"id": "auth_51_high", "type": "poisson_tail", "metric": "auth_code:51", "ratio": 0.022,
            "per": "auth_code:00", "window": 2, "p_value": 2.5e-5, "min_count": 8, "dispersion": 7.0,
            "for": 1, "resolve": 4, "judge_open": judge_open}
    monitor = Monitor(parse_thresholds(_config(rule), "t.json"), Store(":memory:"), MonitorSettings(), clock=clock)
    for i in range(30):
        monitor.ingest(_auth_minute(T0 + i, 100, 2))
    monitor.ingest(_auth_minute(T0 + 30, 100, 40))  # the spike minute arrives in one batch and stays open
    firing = [(a.rule, a.started_at) for a in monitor.alerts() if a.state == "firing"]
    assert firing == ([("auth_51_high", T0 + 30)] if judge_open else [])
    monitor.ingest(_auth_minute(T0 + 31, 100, 40))  # closes minute 30: now both have fired, from minute 30
    assert [(a.rule, a.started_at, a.state) for a in monitor.alerts()] == [("auth_51_high", T0 + 30, "firing")]
