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


# ---------------------------------------------------------------------------------- the daily-rhythm set
RHYTHM_FRIDAY = START + 3 * 1440  # 2025-07-04, a Friday


@pytest.fixture(scope="module")
def rhythm_week():
    from analysis.synthetic import generate as make

    return make(RHYTHM_FRIDAY, 7 * 1440, seed=5, rhythm=True, incidents=[])


def _approved_by_minute(data) -> np.ndarray:
    return np.array([r["count"] for r in data.status_rows if r["status"] == "approved"], dtype=float)


def test_rhythm_set_has_a_strong_daily_cycle_lower_weekends_and_wider_than_poisson_noise(rhythm_week):
    approved = _approved_by_minute(rhythm_week).reshape(7, 24, 60)  # Friday .. Thursday, UTC hours
    by_hour = approved.mean(axis=2)
    weekdays, weekend = by_hour[[0, 3, 4, 5, 6]], by_hour[[1, 2]]  # Fri, Mon-Thu; Sat, Sun
    assert 0.08 < weekdays[:, 4].mean() / weekdays[:, 16].mean() < 0.13  # 04:00 about a tenth of 16:00
    assert 0.65 < weekend[:, 16].mean() / weekdays[:, 16].mean() < 0.75
    # Afternoon minutes vary more than Poisson: variance / mean well above 1 (gamma-Poisson, 10% level noise).
    afternoon = approved[[0, 3, 4, 5, 6], 14:17].reshape(5, -1)
    dispersion = float(np.mean(afternoon.var(axis=1) / afternoon.mean(axis=1)))
    assert dispersion > 2.0


def test_rhythm_incidents_move_only_what_they_should():
    from analysis.synthetic import generate as make

    drop = Incident("approval_drop", RHYTHM_FRIDAY + 600, 20, 0.5)
    stop = Incident("partial_outage", RHYTHM_FRIDAY + 900, 10, 0.0)
    ramp = Incident("denial_ramp", RHYTHM_FRIDAY + 1100, 75, 2.0, "59")
    quiet = make(RHYTHM_FRIDAY, 1440, seed=8, rhythm=True, incidents=[])
    shaped = make(RHYTHM_FRIDAY, 1440, seed=8, rhythm=True, incidents=[drop, stop, ramp])

    def series(data, status):
        return np.array([r["count"] for r in data.status_rows if r["status"] == status], dtype=float)

    approved_quiet, approved = series(quiet, "approved"), series(shaped, "approved")
    assert approved[600:620].sum() / approved_quiet[600:620].sum() == pytest.approx(0.5, abs=0.08)
    assert approved[900:910].sum() == 0 and series(shaped, "denied")[900:910].sum() > 0  # the rest goes on
    # The expected counts of everything but approvals are untouched by a drop or a stop (the draws differ:
    # the random stream moves on differently once approvals are drawn from another mean).
    from analysis.synthetic import _Model

    axis = np.arange(RHYTHM_FRIDAY, RHYTHM_FRIDAY + 1440)
    model = _Model(8, False, True)
    base, moved = model.means(axis, []), model.means(axis, [drop, stop])
    for key in base:
        if key != "approved":
            assert moved[key].tolist() == base[key].tolist(), key
    assert (moved["approved"][600:620] == 0.5 * base["approved"][600:620]).all()
    codes = _pivot(shaped.auth_rows, "auth_code")
    stamps = sorted(codes)
    top = [codes[s]["59"] for s in stamps[1100 + 45:1100 + 75]]
    start = [codes[s]["59"] for s in stamps[1100:1100 + 15]]
    assert np.mean(top) > 1.5 * np.mean(start)  # code 59 climbs to about twice its level
    assert ramp.peak_minute == ramp.start_minute + 59 and ramp.driving_code == "59"


def test_rhythm_set_holds_every_kind_in_any_three_days_and_labels_keep_the_driver(tmp_path):
    from analysis.synthetic import ALL_KINDS
    from analysis.synthetic import generate as make

    data = make(RHYTHM_FRIDAY, 10 * 1440, seed=0, rhythm=True, incidents_per_day=8)
    last_three = [i for i in data.incidents if i.start_minute >= RHYTHM_FRIDAY + 7 * 1440]
    assert {i.kind for i in last_three} == set(ALL_KINDS)
    night = [i for i in data.incidents if i.kind == "night_denial"]
    assert night and all((i.start_minute % 1440) // 60 <= 5 for i in night)
    assert all(i.driver in ("51", "59") for i in data.incidents if i.kind in ("night_denial", "denial_ramp"))
    spaced = sorted(data.incidents, key=lambda i: i.start_minute)
    assert all(b.start_minute > a.end_minute + 90 for a, b in itertools.pairwise(spaced))
    _, _, labels = write_csvs(data, tmp_path)
    assert read_labels(labels) == data.incidents
