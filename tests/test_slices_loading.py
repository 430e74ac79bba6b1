"""Labelled CSVs: label columns after count, global series as the sums over labels, bad label columns named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.learn import learn
from analysis.loading import LoadError, load_history, read_export
from analysis.synthetic_labels import LabelledData
from detection import Monitor, MonitorSettings, Store
from detection.metrics import minute_to_iso
from detection.thresholds import parse_thresholds
from feeds.demo import FeedWriter
from feeds.replay import ReplaySource

from .slice_support import global_config

STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")
CODES = ("00", "51", "59")
START = 29_188_800


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


LABELLED = ("timestamp,status,count,acquirer,brand\n"
            "2025-07-12 13:45:00,approved,100,acq-01,visa\n"
            "2025-07-12 13:45:00,approved,16,acq-07,\n"
            "2025-07-12 13:45:00,denied,3,acq-07,visa\n"
            "2025-07-12 13:45:00,denied,1,,elo\n"
            "2025-07-12 13:46:00,approved,110,acq-01,visa\n")


def test_label_columns_sum_to_the_global_series_and_keep_their_slices(tmp_path):
    history = load_history(write(tmp_path / "t.csv", LABELLED))
    assert history.series("status:approved").tolist() == [116, 110]
    assert history.series("status:denied").tolist() == [4, 0]
    assert history.dimensions() == ("acquirer", "brand")
    values, denied = history.slice_series("status:denied", "acquirer")
    assert values == ("acq-01", "acq-07")  # an empty cell is no label: the row counts in no acquirer slice
    assert denied.tolist() == [[0, 0], [3, 0]]
    values, approved = history.slice_series("status:approved", "brand")
    assert values == ("visa", "elo") and approved.tolist() == [[100, 110], [0, 0]]


def test_the_replay_posts_labels_and_the_engine_keeps_slices(tmp_path):
    source = ReplaySource(write(tmp_path / "t.csv", LABELLED), None, STATUSES, CODES)
    first_minute = next(iter(source))
    rows = first_minute[1]
    assert {"timestamp": "2025-07-12T13:45:00Z", "status": "denied", "count": 1, "labels": {"brand": "elo"}} in rows
    assert {"timestamp": "2025-07-12T13:45:00Z", "status": "approved", "count": 16,
            "labels": {"acquirer": "acq-07"}} in rows

    config = global_config()
    config["dimensions"] = {"acquirer": {"max_values": 20}, "brand": {"max_values": 20}}
    clock = [parse_time("2025-07-12 14:00:00")]
    monitor = Monitor(parse_thresholds(config, "with dimensions"), Store(":memory:"), MonitorSettings(),
                      clock=lambda: clock[0])
    writer = FeedWriter(monitor, clock=lambda: clock[0])
    for _minute, status_rows, auth_rows in source:
        writer.post(status_rows, auth_rows)
    assert monitor.dimensions()["acquirer"] == ["acq-01", "acq-07"]
    counts = monitor.slice_counts("acquirer=acq-07", 60)["counts"]
    assert sum(counts["status:denied"]) == 3 and sum(counts["status:approved"]) == 16

    # Thresholds without dimensions: the rows count in the global series only.
    plain = Monitor(parse_thresholds(global_config(), "no dimensions"), Store(":memory:"), MonitorSettings(),
                    clock=lambda: clock[0])
    plain_writer = FeedWriter(plain, clock=lambda: clock[0])
    for _minute, status_rows, auth_rows in source:
        plain_writer.post(status_rows, auth_rows)
    snapshot = plain.snapshot(60)
    assert sum(snapshot.counts["status:approved"]) == 226 and sum(snapshot.counts["status:denied"]) == 4


def parse_time(text: str) -> float:
    from analysis.loading import parse_minute

    return parse_minute(text) * 60.0 + 30


@pytest.mark.parametrize("text, message", [
    ("timestamp,status,count,Acquirer Name\n2025-07-12 13:45:00,approved,1,x\n",
     r"t.csv line 1, column 4 \('Acquirer Name'\): a label column's name must be a dimension name"),
    ("timestamp,status,count,acquirer,ACQUIRER\n2025-07-12 13:45:00,approved,1,x,y\n",
     r"t.csv line 1, column 5: the label column 'acquirer' appears twice"),
    ("timestamp,status,count," + ",".join(f"d{i}" for i in range(9)) + "\n2025-07-12 13:45:00,approved,1"
     + ",x" * 9 + "\n", r"t.csv line 1: 9 label columns after count; expected at most 8"),
    ("timestamp,status,count,acquirer\n2025-07-12 13:45:00,approved,1,acq-01\n2025-07-12 13:46:00,approved,1,"
     + "a" * 65 + "\n", r"t.csv line 3, column 'acquirer': a label value has at most 64 characters, got 65"),
    ("timestamp,status,count,acquirer,brand\n2025-07-12 13:45:00,approved,1,acq-01,vi=sa\n",
     r"t.csv line 2, column 'brand': a label value has none of @ , = \|, got 'vi=sa'"),
    ("timestamp,status,count,acquirer\n2025-07-12 13:45:00,approved,1, acq-01\n",
     r"t.csv line 2, column 'acquirer': a label value does not start or end with a space"),
    ("timestamp,status,count,acquirer\n2025-07-12 13:45:00,approved,1,acq-01\n2025-07-12 13:45:00,approved,2,acq-02\n"
     "2025-07-12 13:45:00,approved,3,acq-01\n",
     r"t.csv line 4: a second row for 2025-07-12T13:45:00Z status 'approved' with acquirer=acq-01 \(the first is on "
     r"line 2\); expected one row per minute and status and label combination"),
    # The first bad cell of a row, in file order: a bad count before a later bad label.
    ("timestamp,status,count,acquirer\n2025-07-12 13:45:00,approved,-1,acq=01\n",
     r"t.csv line 2, column 'count': expected a non-negative integer, got '-1'"),
])
def test_bad_label_columns_are_named_by_line_and_column(tmp_path, text, message):
    path = write(tmp_path / "t.csv", text)
    with pytest.raises(LoadError, match=message):
        load_history(path)
    with pytest.raises(LoadError, match=message):  # the replay reads through the same reader
        ReplaySource(path, None, STATUSES, CODES)


def test_an_unlabelled_analysis_of_a_labelled_export_gives_todays_answers(tmp_path):
    data = LabelledData(START, 300, seed=7, rate=300)
    transactions, codes, _ = data.write_csvs(tmp_path / "labelled")
    labelled = load_history(transactions, codes)
    # The same counts summed over labels, in the three-column schema.
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    for name, key in (("transactions.csv", "status"), ("transactions_auth_codes.csv", "auth_code")):
        export = read_export(tmp_path / "labelled" / name, key, STATUSES if key == "status" else CODES)
        sums: dict[tuple[int, int], int] = {}
        for minute, k, count in zip(export.minute.tolist(), export.key.tolist(), export.count.tolist(), strict=True):
            sums[(minute, k)] = sums.get((minute, k), 0) + count
        lines = [f"timestamp,{key},count"] + [f"{minute_to_iso(minute)},{export.keys[k]},{count}"
                                              for (minute, k), count in sorted(sums.items())]
        write(plain_dir / name, "\n".join(lines) + "\n")
    plain = load_history(plain_dir / "transactions.csv", plain_dir / "transactions_auth_codes.csv")
    for metric in [f"status:{s}" for s in STATUSES] + [f"auth_code:{c}" for c in CODES]:
        assert np.array_equal(labelled.series(metric), plain.series(metric)), metric
    a, b = learn(labelled).thresholds.to_config(), learn(plain).thresholds.to_config()
    a.pop("provenance"), b.pop("provenance")  # names the input files
    assert a == b
