"""Detection that follows the day's rhythm: the profile, the approval-drop rule on it, and what it must (not) alert on."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis.evaluate import RHYTHM_START
from analysis.learn import learn
from analysis.loading import history_from_rows
from analysis.replay import replay, rows_by_minute
from analysis.rhythm_learn import cell_of, choose_profile
from analysis.synthetic import BASE_MEANS, RHYTHM_APPROVED_SHAPE, Incident, _Model, generate
from detection import ConfigError, load_thresholds, parse_thresholds
from detection.rhythm import ProfileDropRule, WeekProfile, minute_of_week
from detection.series import MinuteSeries

TRAIN_DAYS = 7
JUDGED = RHYTHM_START + TRAIN_DAYS * 1440  # a Friday 00:00 UTC: Friday, then a weekend
SEED = 7


@pytest.fixture(scope="module")
def quiet_week():
    return generate(RHYTHM_START, TRAIN_DAYS * 1440, seed=SEED, rhythm=True, incidents=[])


@pytest.fixture(scope="module")
def learned(quiet_week):
    return learn(history_from_rows(quiet_week.status_rows, quiet_week.auth_rows))


def _drop_rule(thresholds) -> ProfileDropRule:
    rule = next(r for r in thresholds.rules if r.id == "approved_drop")
    assert isinstance(rule, ProfileDropRule)
    return rule


def _judged_days(incidents, seed=SEED + 100, days=2):
    data = generate(JUDGED, days * 1440, seed=seed, rhythm=True, incidents=incidents)
    return rows_by_minute(data.status_rows, data.auth_rows, JUDGED, days * 1440)


# ------------------------------------------------------------------------------------------ the profile
def test_learned_profile_recovers_the_weekday_and_weekend_hours(learned, quiet_week):
    rule = _drop_rule(learned.thresholds)
    profile = np.array(rule.profile.values)
    assert len(profile) == 48 and rule.profile.kind == "weekday / weekend hour of day"
    # The truth: the generator's mean approvals per minute, averaged over the same minutes of each cell.
    minutes = np.arange(RHYTHM_START, RHYTHM_START + TRAIN_DAYS * 1440)
    truth_per_minute = BASE_MEANS["approved"] * _Model(SEED, False, True).volume(minutes)
    cells = cell_of(minutes, 48)
    counts = np.bincount(cells, minlength=48)
    truth = np.bincount(cells, weights=truth_per_minute, minlength=48) / counts
    # Tolerance from the noise itself: a cell's mean of n minutes of gamma-Poisson counts (mean mu, shape 100)
    # has a relative sd of sqrt((1/mu + 1/100) / n); 4 of those sds is a bound a correct estimate breaks
    # about once in 15,000 cells (a weekend trough cell: n = 120, mu = 16 -> 4 sd = 10%; an afternoon
    # weekday cell: n = 300 -> 4 sd = 2.5%).
    relative_sd = np.sqrt((1 / truth + 1 / RHYTHM_APPROVED_SHAPE) / counts)
    error = np.abs(profile / truth - 1)
    assert (error <= 4 * relative_sd).all(), np.flatnonzero(error > 4 * relative_sd)
    weekday, weekend = profile[:24], profile[24:]
    assert weekday[4] < 0.12 * weekday[16]  # the trough before dawn is about a tenth of the afternoon peak
    assert 0.65 < weekend[14] / weekday[14] < 0.75  # weekends lower (x0.7)


@pytest.mark.parametrize(("days", "expected"), [(1, 24), (3, 24), (7, 48), (21, 168)])
def test_the_profile_is_as_fine_as_the_history_supports(days, expected):
    minutes = np.arange(RHYTHM_START, RHYTHM_START + days * 1440)
    assert choose_profile(minutes, np.ones(len(minutes), dtype=bool)).length == expected
    half_day = np.arange(RHYTHM_START, RHYTHM_START + 720)  # hours never seen: no hourly shape at all
    assert choose_profile(half_day, np.ones(720, dtype=bool)).length == 1
    assert choose_profile(minutes, np.ones(len(minutes), dtype=bool), allow=False).length == 1


def test_week_profile_places_weekends_and_interpolates_between_hour_midpoints():
    monday = 29_197_440  # 2025-07-07 00:00 UTC, a Monday
    assert minute_of_week(monday) == 0 and minute_of_week(monday + 5 * 1440) == 5 * 1440
    profile = WeekProfile([10.0] * 24 + [4.0] * 24)
    assert profile.at(monday + 12 * 60 + 29) == pytest.approx(10.0)  # Monday noon: a weekday hour
    assert profile.at(monday + 5 * 1440 + 12 * 60 + 29) == pytest.approx(4.0)  # Saturday noon
    # Friday 23:29.5 (weekday hour 23's midpoint) to Saturday 00:29.5 (weekend hour 0's): a straight line,
    # 0.1 per minute; minute :29 lies half a minute before its hour's midpoint.
    friday_late = monday + 4 * 1440 + 23 * 60 + 29
    assert profile.at(friday_late) == pytest.approx(10.0)
    assert profile.at(friday_late + 30) == pytest.approx(7.05)
    assert profile.at(friday_late + 60) == pytest.approx(4.05)
    assert profile.at(friday_late + 61) == pytest.approx(4.0)
    hourly = WeekProfile([float(h) for h in range(24)])
    assert hourly.at(monday + 6 * 60) == pytest.approx(5.5, abs=0.01)  # 06:00 lies between 05:30 and 06:30


def test_week_profile_wraps_from_sunday_night_into_monday_morning():
    """The week is a circle: Monday 00:00 lies on the straight line from Sunday 23:30 (hour 23's level, 23) to
    Monday 00:30 (hour 0's, 0), 30.5 minutes along its 60, exactly like Sunday 23:59 (29.5 along) before it."""
    monday = 29_197_440  # 2025-07-07 00:00 UTC, a Monday
    hourly = WeekProfile([float(h) for h in range(24)])
    assert hourly.at(monday - 1) == pytest.approx(23.0 * (1 - 29.5 / 60))
    assert hourly.at(monday) == pytest.approx(23.0 * (1 - 30.5 / 60))
    assert hourly.at(monday + 30) == pytest.approx(0.0 + 0.5 / 60)


# ------------------------------------------------------------------------------------------ what stays quiet
def test_evening_decline_and_night_trough_give_no_alert_with_learned_thresholds(learned):
    episodes = replay(learned.thresholds, _judged_days([]))  # Friday and Saturday: two declines, two troughs
    assert episodes == []


def test_evening_decline_and_night_trough_give_no_approval_alert_with_the_built_in_defaults():
    episodes = replay(load_thresholds(), _judged_days([]))
    assert [e for e in episodes if e.metric == "status:approved"] == []


# ------------------------------------------------------------------------------------------ what fires
@pytest.mark.parametrize("thresholds_of", ["learned", "defaults"])
def test_approvals_halving_at_night_fire_within_5_minutes(learned, thresholds_of):
    start = JUDGED + 90  # Friday 01:30 UTC: about 30 approvals a minute
    incident = Incident("approval_drop", start, 20, 0.5)
    thresholds = learned.thresholds if thresholds_of == "learned" else load_thresholds()
    episodes = replay(thresholds, _judged_days([incident], days=1))
    drops = [e for e in episodes if e.rule == "approved_drop"]
    assert drops, episodes
    first = min(drops, key=lambda e: e.fired_wall)
    assert start - 1 <= first.started_at <= start + 5
    assert first.fired_minute - (start + 1) <= 5  # minutes after the incident's first minute was in


def test_approvals_stopping_while_the_rest_goes_on_fire_at_once(learned):
    start = JUDGED + 4 * 60  # 04:00, the very trough
    episodes = replay(learned.thresholds, _judged_days([Incident("partial_outage", start, 8, 0.0)], days=1))
    drops = [e for e in episodes if e.rule == "approved_drop"]
    assert drops and drops[0].fired_minute - (start + 1) <= 1


def test_a_slow_ramp_of_the_denial_share_fires_before_its_top(learned):
    ramp = Incident("denial_ramp", JUDGED + 10 * 60, 75, 2.0, "59")  # 10:00, doubling by 10:59
    episodes = replay(learned.thresholds, _judged_days([ramp], days=1))
    hits = [e for e in episodes if ramp.start_minute <= e.started_at <= ramp.end_minute]
    assert hits
    assert min(e.fired_minute for e in hits) <= ramp.peak_minute  # told while the share is still climbing
    assert any(e.rule == "denied_share_drift" for e in hits)


# ------------------------------------------------------------------------------------------ the rule itself
def _series_with(approved: dict[int, int]) -> MinuteSeries:
    series = MinuteSeries(("approved", "denied"))
    for minute, count in approved.items():
        series.add("status", "status:approved", minute, count)
        series.add("status", "status:denied", minute, 3)
    return series


def test_the_rule_ignores_a_dip_that_just_ended_in_its_reference():
    rule = ProfileDropRule(rule_id="d", metric="status:approved", profile=(100.0,), windows=(1, 5),
                           dispersion=(None, None), p_value=1e-5, reference=60)
    t0 = 29_000_000
    steady = {t0 + i: 100 for i in range(80)}
    dipped = {**steady, **{t0 + i: 0 for i in range(5, 25)}}  # a 20-minute stop early in the reference
    for counts in (steady, dipped):
        series = _series_with(counts)
        level = rule.levels(series, t0 + 79)
        assert level is not None and level[0] == pytest.approx(1.0)  # today's level: 100/min, not 67
        assert not rule.judge(series, t0 + 79).breach
    stopped = {**steady, t0 + 79: 0}
    assert rule.judge(_series_with(stopped), t0 + 79).breach


def test_the_level_does_not_depend_on_the_profile_s_scale():
    """Only the profile's shape matters: the level is counts over profile and the expectation level x profile,
    so a profile 1e18 times larger gives a level 1e18 times smaller and the same verdicts (the dip that just
    ended is still left out of the reference: 100/min, not 67)."""
    t0 = 29_000_000
    steady = {t0 + i: 100 for i in range(80)}
    dipped = {**steady, **{t0 + i: 0 for i in range(5, 25)}}
    for scale in (1.0, 1e18):
        rule = ProfileDropRule(rule_id="d", metric="status:approved", profile=(100.0 * scale,), windows=(1, 5),
                               dispersion=(None, None), p_value=1e-5, reference=60)
        level = rule.levels(_series_with(dipped), t0 + 79)
        assert level is not None and level[0] * scale == pytest.approx(1.0)
        assert not rule.judge(_series_with(dipped), t0 + 79).breach
        assert rule.judge(_series_with({**dipped, t0 + 79: 0}), t0 + 79).breach


def test_a_minute_with_too_little_reference_is_not_judged_and_counts_towards_resolving():
    """Under half the reference minutes received: no level, so no verdict; such a minute neither breaches nor
    holds a firing alert open (it counts towards resolving, as a feed gap's minute does)."""
    rule = ProfileDropRule(rule_id="d", metric="status:approved", profile=(100.0,), windows=(1, 5),
                           dispersion=(None, None), p_value=1e-5, reference=60)
    t0 = 29_000_000
    # The windows end at minute 79, the reference is minutes 15-74: 46-74 received, 29 of its 60.
    series = _series_with({t0 + i: 0 if i >= 70 else 100 for i in range(46, 80)})
    assert rule.levels(series, t0 + 79) is None
    judgement = rule.judge(series, t0 + 79)
    assert not judgement.breach and judgement.clean


def test_a_received_minute_without_an_approvals_row_is_zero_approvals_in_the_reference():
    """Exports may leave zero rows out (DATA.md): a minute the feed sent only denials for had 0 approvals. One such
    minute among 59 at 100/min is no dip (its 5-minute neighbourhood holds 80/min), so the level is 5,900/6,000."""
    rule = ProfileDropRule(rule_id="d", metric="status:approved", profile=(100.0,), windows=(1, 5),
                           dispersion=(None, None), p_value=1e-5, reference=60)
    t0 = 29_000_000
    series = _series_with({t0 + i: 100 for i in range(80) if i != 40})
    series.add("status", "status:denied", t0 + 40, 3)  # minute 40 (in the reference 15-74): denials only
    level = rule.levels(series, t0 + 79)
    assert level is not None and level[0] == pytest.approx(5_900 / 6_000)


def test_a_window_with_a_feed_gap_is_not_judged_a_drop():
    rule = ProfileDropRule(rule_id="d", metric="status:approved", profile=(100.0,), windows=(1, 5),
                           dispersion=(None, None), p_value=1e-5, reference=60)
    t0 = 29_000_000
    counts = {t0 + i: 100 for i in range(80) if i != 77}  # minute 77: nothing received at all
    judgement = rule.judge(_series_with(counts), t0 + 79)
    assert not judgement.breach and judgement.clean


# ------------------------------------------------------------------------------------------ the thresholds file
GOOD = {"id": "approved_drop", "type": "profile_drop", "metric": "status:approved", "profile": [10.0] * 48,
        "windows": [1, 3, 10], "dispersion": [100.0, None, 300.0], "p_value": 2.5e-5, "min_change": 0.25,
        "reference": 60, "min_expected": 5.0, "trend": False}


def _load(rule: dict):
    return parse_thresholds({"version": 1, "rules": [rule]}, "t.json")


def test_a_profile_drop_rule_round_trips_through_the_file():
    rule = _load(GOOD).rules[0]
    assert isinstance(rule, ProfileDropRule)
    assert json.loads(json.dumps(rule.to_config())) == {**GOOD, "severity": "warning", "for": 1, "resolve": 5}


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"profile": [1.0] * 25}, "t.json.rules[0].profile", "a list of 25 values"),
    ({"profile": [1.0] * 47 + [-1.0]}, "t.json.rules[0].profile", "48 (24 weekday hours, then 24 weekend hours)"),
    ({"profile": "flat"}, "t.json.rules[0].profile", "168 (per hour of the week from Monday 00:00 UTC)"),
    ({"windows": [3, 1]}, "t.json.rules[0].windows", "increasing window lengths"),
    ({"windows": [1, 90, 100]}, "t.json.rules[0].windows", "integers from 1 to 60"),
    ({"dispersion": [1.0, 2.0]}, "t.json.rules[0].dispersion", "one negative-binomial size (> 0) or null per window"),
    ({"dispersion": [1.0, 0.0, 2.0]}, "t.json.rules[0].dispersion", "(3 values)"),
    ({"p_value": 0.7}, "t.json.rules[0].p_value", "a probability between 0 and 0.5"),
    ({"min_change": 1.0}, "t.json.rules[0].min_change", "a fraction below 1"),
    ({"reference": 5}, "t.json.rules[0].reference", "an integer >= 10"),
    ({"reference": 5000}, "t.json.rules[0].reference", "from 10 to 1440"),
    ({"trend": "yes"}, "t.json.rules[0].trend", "true or false"),
    ({"metric": "rate:approved"}, "t.json.rules[0].metric", "watches a count"),
    ({"windw": [1]}, "t.json.rules[0]", "unknown field(s) windw"),
])
def test_thresholds_file_errors_name_the_field(change, field, says):
    with pytest.raises(ConfigError) as raised:
        _load({**GOOD, **change})
    message = str(raised.value)
    assert message.startswith(field + ":") and says in message, message


def test_missing_profile_is_named():
    rule = {k: v for k, v in GOOD.items() if k != "profile"}
    with pytest.raises(ConfigError, match=r"^t\.json\.rules\[0\]\.profile: is required$"):
        _load(rule)


def test_the_built_in_defaults_follow_the_day_by_trend_not_by_a_shape():
    rule = _drop_rule(load_thresholds())
    assert rule.profile.values == (pytest.approx(rule.profile.values[0]),) and rule.trend
    assert all(size is None or (math.isfinite(size) and size > 0) for size in rule.dispersion)


def test_the_band_drawn_for_approvals_follows_the_profile(learned):
    rule = _drop_rule(learned.thresholds)
    afternoon, night = JUDGED + 16 * 60 + 29, JUDGED + 4 * 60 + 29
    assert rule.expected(afternoon) == pytest.approx(rule.profile.values[16], rel=1e-3)  # :29, half a minute early
    low_day, high_day = rule.bounds(afternoon)
    low_night, _ = rule.bounds(night)
    assert high_day is None and low_day is not None and low_night is not None
    assert 0.6 * rule.profile.values[16] < low_day < 0.9 * rule.profile.values[16]
    assert low_night < 0.2 * low_day  # the band follows the night trough down
    assert _drop_rule(load_thresholds()).bounds(afternoon) == (None, None)  # defaults: no shape to draw
