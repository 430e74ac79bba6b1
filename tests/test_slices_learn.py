"""Per-slice rules learned from labelled exports: dimensions, shrunk slice ratios, a budget kept across slices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.__main__ import main
from analysis.learn import LearnOptions, learn
from analysis.learn_slices import (
    MAX_SLICED_VALUES,
    PRIOR_APPROVALS,
    WATCHED,
    _breaches,
    _episodes,
    thresholds_config,
)
from analysis.loading import load_history
from analysis.synthetic_labels import LabelledData
from detection.metrics import minute_to_iso
from detection.thresholds import parse_thresholds

START = 29_188_800


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Two labelled days at 300 transactions a minute, with their incidents, as the users' CSVs."""
    folder = tmp_path_factory.mktemp("labelled")
    data = LabelledData(START, 2 * 1440, seed=11, rate=300)
    transactions, codes, _ = data.write_csvs(folder)
    history = load_history(transactions, codes)
    analysis = learn(history)
    config, sliced = thresholds_config(analysis)
    return data, folder, history, analysis, config, sliced


def test_the_learned_file_parses_with_dimensions_and_a_rule_per_dimension_and_metric(labelled):
    data, _, history, _, config, _ = labelled
    thresholds = parse_thresholds(json.loads(json.dumps(config)), "learned")
    dims = {d.name: d for d in thresholds.dimensions}
    assert list(dims) == ["acquirer", "merchant", "brand", "region"]
    assert dims["acquirer"].max_values == 20  # 8 seen x 2 = 16, at least 20
    assert dims["merchant"].max_values == 2 * len(history.dimension_values("merchant")) > 300
    assert all(d.overflow == "other" for d in dims.values())
    sliced = [rule for rule in thresholds.rules if rule.by]
    assert {(rule.by, rule.metric) for rule in sliced} == {((dim,), metric) for dim in dims for metric in WATCHED}
    for rule in sliced:
        assert rule.window == 5 and rule.min_count >= 3 and rule.for_minutes == 1
        assert rule.per == ("status:approved" if rule.metric.startswith("status:") else "auth_code:00")
        assert set(rule.slice_ratios) == {f"{rule.by[0]}={v}" for v in history.dimension_values(rule.by[0])}
    # The global rules are the ones learned without labels.
    assert [r.to_config() for r in thresholds.rules if not r.by] == [r.to_config() for r in labelled[3].thresholds.rules]


def test_slice_ratios_are_shrunk_toward_the_pooled_ratio(labelled):
    _, _, history, analysis, config, _ = labelled
    rule = next(r for r in config["rules"] if r["id"] == "denied_by_merchant")
    values, denied = history.slice_series("status:denied", "merchant")
    _, approved = history.slice_series("status:approved", "merchant")
    pooled = rule["ratio"]
    clean = analysis.clean  # the minutes the learner found normal
    own = denied[:, clean].sum(axis=1) / np.maximum(approved[:, clean].sum(axis=1), 1)
    ratios = np.array([rule["slices"][f"merchant={v}"] for v in values])
    # Each slice's ratio lies between its own and the pooled one; the smaller the slice, the nearer the pool.
    low, high = np.minimum(own, pooled), np.maximum(own, pooled)
    assert np.all(ratios >= low * 0.9) and np.all(ratios <= high * 1.1)
    volumes = approved[:, clean].sum(axis=1)
    big, small = int(np.argmax(volumes)), int(np.argmin(volumes))
    assert abs(ratios[big] - own[big]) < 0.2 * abs(own[big] - pooled) + 1e-4
    # (m + K p) / (per + K) - p = (own - p) x per / (per + K): a small slice keeps little of its own difference.
    kept = volumes[small] / (volumes[small] + PRIOR_APPROVALS)
    assert kept < 0.6
    assert abs(ratios[small] - pooled) <= abs(own[small] - pooled) * kept * 1.1 + 1e-4
    # The formula itself for a large slice: (m_s + K x pooled) / (per_s + K) over the clean minutes.
    m, per = denied[big][clean].sum(), approved[big][clean].sum()
    assert ratios[big] == pytest.approx((m + PRIOR_APPROVALS * pooled) / (per + PRIOR_APPROVALS), rel=0.02)


def test_the_budget_is_spread_over_the_slices_and_kept_on_the_training_days(labelled):
    data, _, history, analysis, config, sliced = labelled
    axis = np.arange(history.start, history.start + history.minutes)
    normal = analysis.clean.copy()
    for incident in data.incidents:  # the minutes of the labelled incidents, global or of one slice, and after
        normal &= ~((axis >= incident.start_minute - 5) & (axis <= incident.end_minute + 10))
    per_minute = analysis.options.p_value
    allowed = analysis.options.false_alerts_per_week * (analysis.clean.sum() / 1440) / 7
    for rule in config["rules"]:
        if "by" not in rule:
            continue
        dim = rule["by"][0]
        values = history.dimension_values(dim)
        assert rule["p_value"] <= per_minute / len(values) * 1.01
        # The engine's test on the training days, over all slices: within the budget.
        _, counts = history.slice_series(rule["metric"], dim)
        _, reference = history.slice_series(rule["per"], dim)
        ratios = np.array([rule["slices"][f"{dim}={v}"] for v in values])
        flags = _breaches(counts, reference, ratios, rule["p_value"], rule["dispersion"], rule["min_count"])
        assert _episodes(flags, np.broadcast_to(normal, counts.shape)) <= allowed
        assert str(len(values)) in sliced.why[rule["id"]] and "shrunk" in sliced.why[rule["id"]]


def test_the_p_value_is_lowered_when_the_training_days_would_alarm(tmp_path):
    """One merchant with bursts of denials the pooled law cannot explain: its rule's p is lowered until quiet."""
    lines = ["timestamp,status,count,merchant"]
    rng = np.random.default_rng(4)
    for minute in range(START, START + 600):
        stamp = minute_to_iso(minute)
        for merchant in ("m-1", "m-2", "m-3"):
            approved = int(rng.poisson(100))
            # m-3's denials come in clumps: zero most minutes, 25 now and then (never one incident long).
            denied = int(rng.poisson(5)) if merchant != "m-3" else (25 if rng.random() < 0.05 else 0)
            lines += [f"{stamp},approved,{approved},{merchant}", f"{stamp},denied,{denied},{merchant}"]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    analysis = learn(load_history(path), LearnOptions())
    config, sliced = thresholds_config(analysis)
    rule = next(r for r in config["rules"] if r["id"] == "denied_by_merchant")
    assert rule["p_value"] < analysis.options.p_value / 3
    assert "lowered from" in sliced.why["denied_by_merchant"]


def test_many_values_get_a_dimension_but_no_sliced_rules(tmp_path):
    lines = ["timestamp,status,count,card"]
    for index, minute in enumerate(range(START, START + 150)):
        stamp = minute_to_iso(minute)
        for k in range(3):
            lines.append(f"{stamp},approved,40,c-{(3 * index + k) % (MAX_SLICED_VALUES + 1)}")
            lines.append(f"{stamp},denied,2,c-{(3 * index + k) % (MAX_SLICED_VALUES + 1)}")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config, sliced = thresholds_config(learn(load_history(path)))
    assert config["dimensions"] == {"card": {"max_values": 2 * (MAX_SLICED_VALUES + 1), "overflow": "other"}}
    assert not any("by" in rule for rule in config["rules"])


def test_the_cli_writes_the_sliced_file_and_an_unlabelled_file_unchanged(labelled, tmp_path, capsys):
    _, folder, *_ = labelled
    out = tmp_path / "thresholds.json"
    assert main([str(folder / "transactions.csv"), "--auth-codes", str(folder / "transactions_auth_codes.csv"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Per-slice rules learned: 24" in printed and "denied_by_acquirer" in printed
    written = json.loads(out.read_text(encoding="utf-8"))
    assert "dimensions" in written and written["provenance"]["slices"]["why"]["denied_by_acquirer"]
    parse_thresholds(written, str(out))

    plain = tmp_path / "plain.csv"
    plain.write_text("timestamp,status,count\n" + "".join(
        f"{minute_to_iso(m)},approved,100\n{minute_to_iso(m)},denied,5\n" for m in range(START, START + 200)),
        encoding="utf-8")
    assert main([str(plain), "--out", str(tmp_path / "plain.json")]) == 0
    unlabelled = json.loads((tmp_path / "plain.json").read_text(encoding="utf-8"))
    assert "dimensions" not in unlabelled and "slices" not in unlabelled["provenance"]
    assert unlabelled["rules"] == learn(load_history(plain)).thresholds.to_config()["rules"]
