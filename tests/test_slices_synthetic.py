"""The labelled generator: skewed platform, DATA.md's invariants per minute and label combination, seeded slice incidents."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from analysis.synthetic import daily_factor
from analysis.synthetic import main as synthetic_main
from analysis.synthetic_labels import (
    ACQUIRERS,
    BRANDS,
    DIMENSIONS,
    LabelledData,
    LabelledIncident,
    make_platform,
    read_labelled_incidents,
)

START = 29_188_800  # 2025-07-01 00:00 UTC


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_platform_is_skewed_as_asked():
    platform = make_platform(0)
    assert len(platform.merchants) == 200
    shares = {a: platform.share(f"acquirer={a}") for a in ACQUIRERS}
    assert shares["acq-07"] == pytest.approx(0.05, abs=0.005)  # the 5% acquirer
    assert shares["acq-01"] == pytest.approx(0.30, abs=0.01)
    assert sum(shares.values()) == pytest.approx(1.0)
    # Zipf-like merchants: the largest carries far more than the median one.
    weights = np.sort(platform.merchant_weight)[::-1]
    assert weights[0] > 50 * np.median(weights)
    # Each slice's denial share differs a little from the global one, and averages to it over the traffic.
    assert float((platform.denial_factor * platform.combo_weight).sum()) == pytest.approx(1.0)
    assert 0.05 < float(np.std(platform.denial_factor)) < 0.6


def test_invariants_hold_per_minute_and_per_label_combination(tmp_path):
    data = LabelledData(START + 600, 90, seed=3, rate=400)
    transactions, codes, _ = data.write_csvs(tmp_path)
    status = defaultdict(int)
    for row in read_rows(transactions):
        assert int(row["count"]) > 0  # zero rows omitted
        status[(row["timestamp"], row["status"], *(row[d] for d in DIMENSIONS))] += int(row["count"])
    auth = defaultdict(int)
    for row in read_rows(codes):
        auth[(row["timestamp"], row["auth_code"], *(row[d] for d in DIMENSIONS))] += int(row["count"])
    combos = {(k[0], *k[2:]) for k in status} | {(k[0], *k[2:]) for k in auth}
    assert len({c[1:] for c in combos}) > 100  # many merchants x brands carry traffic
    for stamp, *labels in combos:
        assert status[(stamp, "approved", *labels)] == auth[(stamp, "00", *labels)]
        assert status[(stamp, "denied", *labels)] == auth[(stamp, "51", *labels)] + auth[(stamp, "59", *labels)]
    # Each combination has one acquirer and one region (the merchant's), and every label is filled.
    assert all(all(key[2:]) for key in status)
    per_minute = defaultdict(int)
    for key, count in status.items():
        per_minute[key[0]] += count
    # The rate asked for, times the daily cycle of analysis.synthetic at those hours.
    expected = 400 * float(np.mean(daily_factor(np.arange(START + 600, START + 690))))
    assert np.mean(list(per_minute.values())) == pytest.approx(expected, rel=0.1)


def test_the_same_seed_gives_the_same_rows_in_any_order():
    data = LabelledData(START, 3 * 1440, seed=5, rate=200, incidents=[])
    again = LabelledData(START, 3 * 1440, seed=5, rate=200, incidents=[])
    minute = START + 2 * 1440 + 17
    alone = next(iter(again.minute_rows(minute, 1)))
    in_order = [rows for rows in data.minute_rows(START + 2 * 1440, 20) if rows[0] == minute][0]
    assert alone == in_order
    other = next(iter(LabelledData(START, 3 * 1440, seed=6, rate=200, incidents=[]).minute_rows(minute, 1)))
    assert other != alone


def test_an_acquirer_denial_triples_that_acquirer_only():
    incident = LabelledIncident("acquirer_denial", START + 600, 20, 3.0, "acquirer=acq-07")
    with_it = LabelledData(START, 1440, seed=1, rate=5000, incidents=[incident])
    without = LabelledData(START, 1440, seed=1, rate=5000, incidents=[])
    platform = with_it.platform
    acq07 = platform.members("acquirer=acq-07")
    a = with_it.counts(START + 600, 20)
    b = without.counts(START + 600, 20)
    ratio = a["denied"][:, acq07].sum() / b["denied"][:, acq07].sum()
    assert 2.5 < ratio < 3.6
    others = a["denied"][:, ~acq07].sum() / b["denied"][:, ~acq07].sum()
    assert 0.9 < others < 1.1
    # Outside the incident the acquirer is as usual.
    after = with_it.counts(START + 700, 60)["denied"][:, acq07].sum() / without.counts(START + 700, 60)["denied"][:, acq07].sum()
    assert 0.85 < after < 1.15


def test_ground_truth_names_slices_and_round_trips(tmp_path):
    data = LabelledData(START, 3 * 1440, seed=2, rate=125)
    kinds = {i.kind for i in data.incidents}
    assert {"acquirer_denial", "merchant_failure", "brand_denial"} <= kinds
    assert {"denial_51", "processing_failure"} <= kinds
    for incident in data.incidents:
        if incident.kind == "feed_outage":
            assert incident.slice == ""
        else:
            assert incident.dimension in DIMENSIONS and incident.value
        if incident.kind == "merchant_failure":
            assert (incident.start_minute % 1440) < 5 * 60  # at night
        if incident.kind == "brand_denial":
            assert incident.value in BRANDS and incident.driver == "59"
    starts = sorted((i.start_minute, i.end_minute) for i in data.incidents)
    assert all(b[0] > a[1] for a, b in zip(starts, starts[1:], strict=False))  # never overlapping
    *_, labels = data.write_csvs(tmp_path, START, 60)
    assert read_labelled_incidents(labels) == data.incidents
    outage = [i for i in data.incidents if i.kind == "feed_outage"]
    if outage:
        minute = outage[0].start_minute
        assert next(iter(data.minute_rows(minute, 1))) == (minute, [], [])


def test_cli_writes_labelled_csvs_and_keeps_the_unlabelled_output(tmp_path, capsys):
    assert synthetic_main(["--labels", "--days", "0.05", "--rate", "125", "--seed", "4",
                           "--out", str(tmp_path / "labelled")]) == 0
    header = (tmp_path / "labelled" / "transactions.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "timestamp,status,count,acquirer,merchant,brand,region"
    auth_header = (tmp_path / "labelled" / "transactions_auth_codes.csv").read_text(encoding="utf-8").splitlines()[0]
    assert auth_header == "timestamp,auth_code,count,acquirer,merchant,brand,region"
    assert "acq-07 5.0%" in capsys.readouterr().out
    # Without --labels: the users' three-column schema as before.
    assert synthetic_main(["--days", "0.05", "--out", str(tmp_path / "plain")]) == 0
    assert (tmp_path / "plain" / "transactions.csv").read_text(encoding="utf-8").startswith("timestamp,status,count\n")
    with pytest.raises(SystemExit):
        synthetic_main(["--days", "0.05", "--rate", "100", "--out", str(tmp_path / "x")])
    assert "--rate: only with --labels" in capsys.readouterr().err
