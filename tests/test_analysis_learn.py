"""Learning normal from history: robust baselines, the thresholds file with provenance, the report."""

from __future__ import annotations

import json
import re

import pytest

from analysis.__main__ import main
from analysis.defaults import default_thresholds
from analysis.learn import LearnOptions, learn
from analysis.loading import history_from_rows
from analysis.replay import replay, rows_by_minute
from analysis.synthetic import Incident, generate, write_csvs
from detection import load_thresholds

START = 29_188_800  # 2025-07-01 00:00 UTC


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    """Three days with a daily cycle and a known set of incidents, written as the users' CSVs."""
    incidents = [
        Incident("denial_59", START + 600, 25, 6.0),
        Incident("processing_failure", START + 1700, 40, 4.0),
        Incident("denial_51", START + 2500, 20, 5.0),
        Incident("reversal_burst", START + 3100, 45, 3.5),
        Incident("feed_outage", START + 3900, 12, 0.0),
    ]
    data = generate(START, 3 * 1440, seed=21, daily_cycle=True, incidents=incidents)
    directory = tmp_path_factory.mktemp("export")
    write_csvs(data, directory)
    return directory


def _rule(thresholds, rule_id):
    return next(r for r in thresholds.rules if r.id == rule_id)


def test_baselines_are_not_dragged_up_by_incidents():
    quiet = generate(START, 3 * 1440, seed=8, incidents=[])
    busy = generate(START, 3 * 1440, seed=8, incidents_per_day=6)
    learned_quiet = learn(history_from_rows(quiet.status_rows, quiet.auth_rows)).thresholds
    learned_busy = learn(history_from_rows(busy.status_rows, busy.auth_rows)).thresholds
    for rule_id in ("failed_high", "backend_reversed_high", "auth_51_high", "auth_59_high"):
        q, b = _rule(learned_quiet, rule_id).ratio, _rule(learned_busy, rule_id).ratio
        assert b < 1.5 * q + 1e-4, rule_id
    assert _rule(learned_busy, "denied_share_high").baseline < 1.1 * _rule(learned_quiet, "denied_share_high").baseline
    # What a naive mean would say of the same history: far above normal for the sparse counts.
    failed = sum(r["count"] for r in busy.status_rows if r["status"] == "failed")
    approved = sum(r["count"] for r in busy.status_rows if r["status"] == "approved")
    assert failed / approved > 5 * _rule(learned_busy, "failed_high").ratio


def test_hour_of_day_profile_and_volume_free_defaults():
    data = generate(START, 3 * 1440, seed=9, daily_cycle=True, incidents=[])
    history = history_from_rows(data.status_rows, data.auth_rows)
    profile = _rule(learn(history).thresholds, "approved_drop").profile.values
    assert len(profile) == 24 and profile[3] < 0.3 * profile[15]  # 3 days, no weekend: hour of day
    portable = learn(history, LearnOptions(hourly_profile=False)).thresholds
    drop = _rule(portable, "approved_drop")
    assert len(drop.profile.values) == 1 and drop.trend  # flat, following today's trend instead
    assert all(len(getattr(r, "per_level", (0,))) == 1 for r in portable.rules)


def test_learned_thresholds_keep_the_false_alarm_budget_on_normal_data():
    train = generate(START, 7 * 1440, seed=31, incidents_per_day=4)
    thresholds = learn(history_from_rows(train.status_rows, train.auth_rows)).thresholds
    quiet = generate(START + 7 * 1440, 7 * 1440, seed=32, incidents=[])
    episodes = replay(thresholds, rows_by_minute(quiet.status_rows, quiet.auth_rows, START + 7 * 1440, 7 * 1440))
    per_rule: dict[str, int] = {}
    for episode in episodes:
        per_rule[episode.rule] = per_rule.get(episode.rule, 0) + 1
    assert all(count <= 1 for count in per_rule.values()), per_rule  # at most 1 per metric per week
    assert len(episodes) <= 7  # and at most one a day over all metrics


def test_cli_writes_thresholds_with_provenance_and_an_offline_report(export_dir, tmp_path, capsys):
    out, report = tmp_path / "thresholds.json", tmp_path / "report.html"
    code = main([str(export_dir / "transactions.csv"), "--auth-codes", str(export_dir / "transactions_auth_codes.csv"),
                 "--out", str(out), "--report", str(report)])
    printed = capsys.readouterr().out
    assert code == 0
    thresholds = load_thresholds(out)  # the engine reads what the CLI wrote
    # With a learned profile approvals have two rules sharing their budget: windows and a sequential test.
    assert {r.type_name for r in thresholds.rules} == {"profile_drop", "sequential_drop", "rate", "poisson_tail"}
    # Auth-code tails judge the open minute (a spike fires in the minute it arrives); the rest do not. Each code
    # has a 2- and a 5-minute window sharing its budget.
    tails = {r.id: r for r in thresholds.rules if r.monotone}
    assert sorted(tails) == ["auth_51_high", "auth_51_sustained", "auth_59_high", "auth_59_sustained"]
    assert [(tails[f"auth_51_{n}"].window, tails[f"auth_51_{n}"].p_value) for n in ("high", "sustained")] == [
        (2, 1.24e-05), (5, 1.24e-05)]
    provenance = json.loads(out.read_text())["provenance"]
    assert provenance["inputs"] == [str(export_dir / "transactions.csv"), str(export_dir / "transactions_auth_codes.csv")]
    assert provenance["time_range"] == {"from": "2025-07-01T00:00:00Z", "to": "2025-07-03T23:59:00Z"}
    assert provenance["budget"]["false_alerts_per_metric_per_week"] == 1.0
    assert "iterative cleaning" in provenance["method"]
    # The summary: baselines, thresholds and the incidents found, as the engine groups and names them:
    # one per labelled incident, each with the engine's start, title, kind and drivers. The backend-reversal
    # burst (no failed transactions in it) is a reversal burst, as labelled.
    listed = printed.split("Incidents found in the history: ")[1].splitlines()
    assert listed[0] == "5"
    assert [(line.split()[0], line.split("  ")[-1].split(" [")[0], line.split("[")[1].split(";")[0])
            for line in listed[1:6]] == [
        ("2025-07-01T10:00:00Z", "Denial spike driven by code 59 (suspected fraud)", "denial spike"),
        ("2025-07-02T04:20:00Z", "Processing failure driven by failed transactions and backend reversals",
         "processing failure"),
        ("2025-07-02T17:40:00Z", "Denial spike driven by code 51 (insufficient funds)", "denial spike"),
        ("2025-07-03T03:40:00Z", "Reversal burst driven by backend reversals", "reversal burst"),
        ("2025-07-03T17:00:00Z", "Feed outage: no auth-code and status data", "feed outage"),
    ]
    assert "drivers auth_code:59 100%]" in listed[1] and "drivers status:backend_reversed 100%]" in listed[4]
    html = report.read_text()
    assert not re.search(r"<script[^>]+src=", html)  # nothing fetched: opens offline
    assert "plotly.js v" in html and html.count("Plotly.newPlot") >= 8
    # Every learned rule is listed (the drop rule too), each with why its min_count and for were chosen.
    assert "why this min_count and for" in html and html.count("the tail probability is the budget already") == len(
        thresholds.rules)
    for rule in thresholds.rules:
        assert f"{rule.type_name} &#x27;{rule.id}&#x27;" in html, rule.id
    assert "Rules learned: " + str(len(thresholds.rules)) in printed
    for section in ("Findings", "Incidents found in the history", "Thresholds and reasoning",
                    "Series, baselines and alert bands", "drivers (share of the excess)", "strong daily cycle"):
        assert section in html
    # The report's incident table is the engine's: title, kind, drivers, start, duration. Code 59's noise
    # during the 20-minute code-51 spike is not a driver; the drift rule no longer drains for 30 minutes
    # past the spike (the 48 minutes this row once had).
    assert ("<tr><td>Denial spike driven by code 51 (insufficient funds)</td><td>denial spike</td>"
            "<td>auth_code:51 100%</td><td>2025-07-02T17:40:00Z</td><td>24</td>") in html


def test_until_learns_only_from_earlier_rows(export_dir, tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main([str(export_dir / "transactions.csv"), "--out", str(out), "--until", "2025-07-01T23:59:00Z"]) == 0
    assert json.loads(out.read_text())["provenance"]["time_range"]["to"] == "2025-07-01T23:59:00Z"
    assert "Learned from 1,440 minutes" in capsys.readouterr().out


def test_built_in_defaults_are_the_analysis_of_the_generators_data():
    shipped = load_thresholds()
    regenerated = default_thresholds()
    assert [r.to_config() for r in shipped.rules] == [r.to_config() for r in regenerated.rules]
    assert shipped.provenance["tool"] == "python -m analysis.defaults"


def test_too_short_or_all_zero_histories_get_a_clear_answer(tmp_path, capsys):
    short = tmp_path / "short.csv"
    short.write_text("timestamp,status,count\n2025-07-12 13:45:00,approved,5\n2025-07-12 13:46:00,failed,1\n")
    assert main([str(short), "--out", str(tmp_path / "s.json")]) == 2
    err = capsys.readouterr().err.splitlines()  # progress lines come first, then the one error line
    assert err[-1].startswith(f"error: {short}: 2 minutes with data") and "at least 120 minutes" in err[-1]
    assert [line for line in err if line.startswith("error:")] == err[-1:]
    zeros = tmp_path / "zeros.csv"
    statuses = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")
    zeros.write_text("timestamp,status,count\n" + "".join(
        f"2025-07-12 {m // 60:02d}:{m % 60:02d}:00,{s},0\n" for m in range(180) for s in statuses))
    assert main([str(zeros), "--out", str(tmp_path / "z.json"), "--report", str(tmp_path / "z.html")]) == 0
    assert load_thresholds(tmp_path / "z.json").rules  # a quiet history still gives loadable rules
    assert "Incidents found in the history: 0" in capsys.readouterr().out
