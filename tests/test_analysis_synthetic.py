"""The synthetic generator: the users' schema, DATA.md's levels, consistent codes, labelled incidents."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from analysis.synthetic import (
    INCIDENT_KINDS,
    Incident,
    SyntheticStream,
    daily_factor,
    generate,
    main,
    read_labels,
    write_csvs,
)
from detection import validate_records

START = 29_188_800  # 2025-07-01 00:00 UTC


def _pivot(rows: list[dict], key: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row["timestamp"], {})[row[key]] = row["count"]
    return out


@pytest.fixture(scope="module")
def three_days():
    return generate(START, 3 * 1440, seed=11)


def test_rows_follow_the_users_schema_and_validate(three_days):
    first = three_days.status_rows[0]
    assert set(first) == {"timestamp", "status", "count"}
    assert first["timestamp"] == "2025-07-01 00:00:00"
    assert {r["auth_code"] for r in three_days.auth_rows} == {"00", "51", "59"}
    assert all(type(r["count"]) is int and r["count"] >= 0 for r in three_days.status_rows)
    # The engine's one way in accepts them as they are.
    records = validate_records(three_days.status_rows[:60], "status", ["approved", "denied", "failed", "reversed",
                                                                       "backend_reversed", "refunded"], now=2e9)
    assert len(records) == 60


def test_codes_match_statuses_in_every_minute(three_days):
    status = _pivot(three_days.status_rows, "status")
    codes = _pivot(three_days.auth_rows, "auth_code")
    assert status.keys() == codes.keys()
    for stamp, by_status in status.items():
        assert codes[stamp]["00"] == by_status["approved"]
        assert codes[stamp]["51"] + codes[stamp]["59"] == by_status["denied"]


def test_quiet_levels_are_those_of_data_md():
    quiet = generate(START, 3 * 1440, seed=2, incidents=[])
    status = _pivot(quiet.status_rows, "status")
    column = {s: np.array([v[s] for v in status.values()]) for s in ("approved", "denied", "failed", "reversed",
                                                                     "backend_reversed", "refunded")}
    assert 110 < column["approved"].mean() < 124
    assert 9 < column["approved"].std() < 16
    assert 4 < column["denied"].mean() < 8
    assert (column["failed"] == 0).mean() > 0.97
    assert 0.85 < column["reversed"].mean() < 1.1 and 0.85 < column["refunded"].mean() < 1.1
    assert column["reversed"].max() <= 9


def test_incident_kinds_have_their_shape():
    incidents = [
        Incident("denial_51", START + 100, 20, 6.0),
        Incident("denial_59", START + 300, 20, 6.0),
        Incident("processing_failure", START + 500, 30, 5.0),
        Incident("reversal_burst", START + 700, 40, 4.0),
        Incident("feed_outage", START + 900, 10, 0.0),
    ]
    data = generate(START, 1200, seed=3, incidents=incidents)
    status = _pivot(data.status_rows, "status")
    codes = _pivot(data.auth_rows, "auth_code")
    stamps = sorted(status)

    def mean(table, key, first, minutes):
        values = [table[s][key] for s in stamps if first <= _minute(s) < first + minutes]
        return sum(values) / len(values)

    quiet_approved = mean(status, "approved", START + 1000, 200)
    assert mean(codes, "51", START + 100, 20) > 5 * mean(codes, "51", START + 1000, 200)
    assert mean(codes, "59", START + 100, 20) < 2 * mean(codes, "59", START + 1000, 200) + 1
    assert mean(codes, "59", START + 300, 20) > 5 * mean(codes, "59", START + 1000, 200)
    assert mean(status, "approved", START + 100, 20) < quiet_approved - 15  # denials take approvals' place
    assert mean(status, "failed", START + 500, 30) > 3
    assert mean(status, "backend_reversed", START + 500, 30) > 1.5  # failures come with backend reversals
    assert mean(status, "backend_reversed", START + 700, 40) > 3
    assert mean(status, "failed", START + 700, 40) < 0.2
    missing = {m for m in range(START, START + 1200)} - {_minute(s) for s in stamps}
    assert missing == set(range(START + 900, START + 910))
    assert data.incidents == incidents


def _minute(stamp: str) -> int:
    from analysis.loading import parse_minute
    return parse_minute(stamp)


def test_random_incidents_are_seeded_varied_and_apart():
    a = generate(START, 7 * 1440, seed=5)
    b = generate(START, 7 * 1440, seed=5)
    assert a.incidents == b.incidents and a.status_rows == b.status_rows
    assert {i.kind for i in a.incidents} == set(INCIDENT_KINDS)
    assert len(a.incidents) == 28
    ordered = sorted(a.incidents, key=lambda i: i.start_minute)
    assert all(x.end_minute < y.start_minute for x, y in itertools.pairwise(ordered))
    denials = [i.magnitude for i in a.incidents if i.kind.startswith("denial")]
    assert min(denials) < 4.5 < max(denials)  # small, hard ones as well as big ones
    assert generate(START, 1440, seed=6).incidents != generate(START, 1440, seed=7).incidents
    assert generate(START, 1440, seed=6, incidents=[]).incidents == []


def test_daily_cycle_can_be_switched():
    night = np.arange(START + 2 * 60, START + 4 * 60)
    afternoon = np.arange(START + 14 * 60, START + 16 * 60)
    assert daily_factor(night).mean() < 0.3 * daily_factor(afternoon).mean()
    for cycle, low, high in ((True, 0.0, 0.35), (False, 0.85, 1.15)):
        data = generate(START, 1440, seed=1, daily_cycle=cycle, incidents=[])
        status = _pivot(data.status_rows, "status")
        totals = {_minute(s): sum(v.values()) for s, v in status.items()}
        ratio = np.mean([totals[m] for m in night]) / np.mean([totals[m] for m in afternoon])
        assert low < ratio < high


def test_stream_gives_repeatable_minutes_and_outages():
    stream = SyntheticStream(START, seed=4)
    first = stream.minute(START + 10)
    assert first == stream.minute(START + 10)
    assert first != stream.minute(START + 11)
    status_rows, auth_rows = first
    assert [r["status"] for r in status_rows] == ["approved", "denied", "failed", "reversed",
                                                  "backend_reversed", "refunded"]
    assert auth_rows[0]["count"] == status_rows[0]["count"]
    outage = Incident("feed_outage", START + 20, 5, 0.0)
    assert stream.minute(START + 22, [outage]) == ([], [])
    assert stream.minute(START + 25, [outage])[0]
    spike = Incident("processing_failure", START + 30, 10, 8.0)
    failed = sum(stream.minute(m, [spike])[0][2]["count"] for m in range(START + 30, START + 40))
    assert failed > 40


def test_write_csvs_and_labels_round_trip(tmp_path, three_days):
    transactions, auth_codes, labels = write_csvs(three_days, tmp_path)
    with transactions.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["timestamp", "status", "count"]
    assert len(rows) == len(three_days.status_rows) + 1
    with auth_codes.open() as handle:
        assert next(csv.reader(handle)) == ["timestamp", "auth_code", "count"]
        assert any(line.split(",")[1] == "00" for line in handle)
    assert read_labels(labels) == three_days.incidents


def test_cli_writes_the_three_files(tmp_path, capsys):
    assert main(["--days", "0.5", "--seed", "3", "--daily-cycle", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"transactions.csv", "transactions_auth_codes.csv", "labels.csv"}
    assert "4320 status rows, 2160 auth-code rows" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--days", "-1", "--out", str(tmp_path)])
