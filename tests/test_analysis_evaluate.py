"""Detection quality through the real Monitor: learned thresholds meet the targets, a naive analysis does not."""

from __future__ import annotations

import json

import pytest

from analysis.evaluate import evaluate_one as run
from analysis.evaluate import format_report, main, score
from analysis.replay import Episode
from analysis.synthetic import INCIDENT_KINDS, Incident

START = 29_188_800


def _episode(metric: str, started_at: int, fired_minute: int, alert_id: str) -> Episode:
    return Episode(alert_id, "r", "t", metric, "warning", started_at, fired_minute * 60 + 35)


def test_scoring_matches_episodes_to_incidents():
    incidents = [Incident("denial_51", START + 100, 20, 5.0), Incident("feed_outage", START + 300, 10, 0.0),
                 Incident("reversal_burst", START + 500, 30, 3.0)]
    episodes = [
        _episode("auth_code:51", START + 101, START + 103, "a"),  # found 2 minutes after the first minute was in
        _episode("status:approved", START + 110, START + 112, "b"),  # side effect of the same incident
        _episode("feed:status", START + 300, START + 302, "c"),
        _episode("status:failed", START + 301, START + 302, "d"),  # not a feed alert: does not find an outage
        _episode("status:refunded", START + 800, START + 800, "e"),  # nothing there: a false alert
    ]
    result = score("x", False, incidents, episodes, days=0.5)
    assert result.kinds["denial_51"].recall == 1.0 and result.kinds["denial_51"].delays == [2]
    assert result.kinds["feed_outage"].delays == [1]
    assert result.kinds["reversal_burst"].recall == 0.0 and result.missed == [incidents[2]]
    assert [e.alert_id for e in result.false_episodes] == ["e"]
    assert result.false_per_day == 2.0
    assert not result.meets_targets()


@pytest.mark.parametrize("daily_cycle", [False, True], ids=["flat volume", "daily cycle"])
def test_learned_thresholds_meet_the_targets_and_naive_ones_do_not(daily_cycle):
    # A smaller but still meaningful run: learn on 3 days, score 7 days holding about 40 labelled incidents.
    scores = run(daily_cycle, days=10, train_days=3, seed=4, incidents_per_day=6.0, sets=("learned-first", "naive"))
    learned, naive = scores
    assert learned.name.startswith("learned on first 3 days")
    assert sum(k.incidents for k in learned.kinds.values()) >= 35
    assert {k for k, s in learned.kinds.items() if s.incidents} == set(INCIDENT_KINDS)
    for kind, result in learned.kinds.items():
        assert result.recall >= 0.95, (kind, result)
        assert result.median_delay is not None and result.median_delay <= 2, (kind, result)
    assert learned.false_per_day <= 1.0
    assert learned.meets_targets()
    assert naive.false_per_day > 20 * max(learned.false_per_day, 0.5)
    assert not naive.meets_targets()
    table = format_report(scores)
    assert "| learned on first 3 days |" in table and "naive mean+2 sigma" in table


def test_the_command_reports_and_exits_by_the_targets(capsys, tmp_path):
    code = main(["--days", "2", "--train-days", "1", "--cycle", "off", "--seed", "2", "--json", str(tmp_path / "s.json")])
    out = capsys.readouterr().out
    assert "recall" in out and "false episodes/day" in out and "median delay" in out
    saved = json.loads((tmp_path / "s.json").read_text())
    assert len(saved) == 4
    learned = next(s for s in saved if s["thresholds"].startswith("learned on first"))
    assert code == (0 if learned["meets_targets"] else 1)


def test_thresholds_learned_on_one_export_catch_another_exports_incidents_without_flooding():
    from analysis.learn import learn
    from analysis.loading import history_from_rows
    from analysis.replay import replay, rows_by_minute
    from analysis.synthetic import generate

    export_a = generate(START, 3 * 1440, seed=101, incidents_per_day=5)
    export_b = generate(START + 30 * 1440, 3 * 1440, seed=202, incidents_per_day=6)  # a month later, other seed
    thresholds = learn(history_from_rows(export_a.status_rows, export_a.auth_rows)).thresholds
    episodes = replay(thresholds, rows_by_minute(export_b.status_rows, export_b.auth_rows, START + 30 * 1440, 3 * 1440))
    result = score("learned on export A", False, export_b.incidents, episodes, days=3)
    assert all(k.recall == 1.0 for k in result.kinds.values() if k.incidents), result.missed
    assert result.false_per_day <= 1.0
    # Alert episodes, not per-minute rows: a few per incident (one per alerting rule and metric; a denial spike
    # may fire both windows of its code, 2 and 5 minutes). People are paged per incident, not per episode.
    assert len(episodes) <= 5 * len(export_b.incidents)


def test_incident_figures_group_episodes_and_check_the_driving_code():
    from analysis.evaluate import AuthCounts

    incidents = [Incident("denial_59", START + 100, 20, 5.0), Incident("approval_drop", START + 400, 20, 0.5)]
    episodes = [
        _episode("auth_code:59", START + 101, START + 102, "a"),
        _episode("rate:denied", START + 103, START + 104, "b"),  # same incident, same group
        _episode("status:approved", START + 401, START + 403, "c"),
        _episode("status:denied", START + 425, START + 426, "d"),  # still matches the drop, a second group
        _episode("status:refunded", START + 900, START + 900, "e"),  # a false incident
    ]
    for e, resolved in zip(episodes, (120, 121, 420, 430, 905), strict=True):
        e.resolved_at = START + resolved
    # Code 59 carries the extra declines: 30 a minute against its usual 3 per 100 approvals.
    by_code = {"00": {START + m: 100 for m in range(100, 125)}, "51": {START + m: 2 for m in range(100, 125)},
               "59": {START + m: 30 for m in range(100, 125)}}
    counts = AuthCounts(by_code, {"51": 0.02, "59": 0.03})
    result = score("x", False, incidents, episodes, days=1.0, kinds_scored=("denial_59", "approval_drop"),
                   counts=counts, last_minute=START + 1439)
    assert result.incident_groups == 4
    assert result.groups_per_real == [1, 2] and result.incidents_per_real == 1.5
    assert result.false_incidents == 1 and result.false_incidents_per_day == 1.0
    assert (result.drivers_right, result.drivers_judged) == (1, 1)
    assert not result.meets_incident_targets()
    assert counts.driver(START + 100, START + 124) == "59"
    assert AuthCounts({"00": {START: 100}, "51": {START: 10}, "59": {START: 10}}, {"51": 0.02, "59": 0.03}).driver(
        START, START) == "both"


def test_the_daily_rhythm_set_is_judged_with_learned_thresholds_and_defaults():
    """The 10-day set (learn 7, judge 3) as ``python -m analysis.evaluate`` runs it: every incident found,
    no false incident, ramps told before their top, the driving code named in every denial."""
    from analysis.evaluate import evaluate_rhythm
    from analysis.synthetic import ALL_KINDS

    learned, defaults = evaluate_rhythm(seed=0, sets=("learned-first", "defaults"))
    assert learned.shape == "daily rhythm (10 days)" and defaults.name == "built-in defaults"
    for result in (learned, defaults):
        assert {k for k, s in result.kinds.items() if s.incidents} == set(ALL_KINDS)
        assert all(s.detected == s.incidents for s in result.kinds.values()), result.missed
        ramps = result.kinds["denial_ramp"]
        assert ramps.before_peak == ramps.detected == ramps.incidents
        assert result.kinds["partial_outage"].max_delay == 1
        assert result.incidents_per_real is not None and result.incidents_per_real <= 1.2
        assert result.false_incidents_per_day <= 1 / 3
        assert result.drivers_judged >= 10 and result.driver_share_right == 1.0
    assert len(defaults.false_episodes) <= 3  # issue 9: the built-in defaults, at most 3 false episodes
    table = format_report([learned, defaults])
    assert "| thresholds (rhythm set, last 3 days) |" in table and "incidents per real" in table
