"""Loading the users' exports as DATA.md describes, and one clear message for a malformed file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.__main__ import main
from analysis.loading import LoadError, load_history, parse_minute

ROOT = Path(__file__).resolve().parents[1]
STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def export(rows: list[tuple[str, str, int]], key: str = "status") -> str:
    return f"timestamp,{key},count\n" + "".join(f"{t},{k},{c}\n" for t, k, c in rows)


def test_both_timestamp_styles_and_offsets_mean_the_same_minute():
    plain = parse_minute("2025-07-12 13:45:00")
    assert parse_minute("2025-07-12T13:45:00") == plain
    assert parse_minute("2025-07-12T13:45:00Z") == plain
    assert parse_minute("2025-07-12T15:45:00+02:00") == plain
    assert parse_minute("2025-07-12 13:45:59") == plain


def test_zero_rows_omitted_or_present_and_any_order_give_the_same_history(tmp_path):
    full = [(f"2025-07-12 13:{m:02d}:00", s, (116 if s == "approved" else 4 if s == "denied" else 0))
            for m in range(3) for s in STATUSES]
    sparse_iso = [(f"2025-07-12T13:{int(t[14:16]):02d}:00Z", s, c) for t, s, c in full if c]
    by_status = sorted(sparse_iso, key=lambda r: (r[1], r[0]))
    a = load_history(write(tmp_path / "a.csv", export(full)))
    b = load_history(write(tmp_path / "b.csv", export(by_status)))
    assert a.start == b.start and a.minutes == b.minutes == 3
    for status in STATUSES:
        assert np.array_equal(a.series(f"status:{status}"), b.series(f"status:{status}"))
    assert a.series("status:approved").tolist() == [116, 116, 116]


def test_auth_codes_stay_strings(tmp_path):
    status = write(tmp_path / "t.csv", export([("2025-07-12 13:45:00", "approved", 116)]))
    codes = write(tmp_path / "c.csv", export([("2025-07-12 13:45:00", "00", 116), ("2025-07-12 13:45:00", "51", 4),
                                              ("2025-07-12 13:45:00", "59", 0)], "auth_code"))
    history = load_history(status, codes)
    assert history.auth is not None and history.auth.keys == ("00", "51", "59")
    assert history.series("auth_code:00").tolist() == [116]
    mangled = write(tmp_path / "m.csv", export([("2025-07-12 13:45:00", "0", 116)], "auth_code"))
    with pytest.raises(LoadError, match=r"m.csv, line 2: auth_code: unknown auth_code '0'"):
        load_history(status, mangled)


def test_until_keeps_only_earlier_rows(tmp_path):
    rows = [(f"2025-07-12 13:{m:02d}:00", "approved", 100 + m) for m in range(10)]
    history = load_history(write(tmp_path / "t.csv", export(rows)), until="2025-07-12 13:04:00")
    assert history.minutes == 5
    assert history.series("status:approved").tolist() == [100, 101, 102, 103, 104]


MALFORMED = [
    ("empty file", "", "the file is empty"),
    ("missing column", "timestamp,status\n2025-07-12 13:45:00,approved\n", "line 1: missing column(s) count"),
    ("bad timestamp", "timestamp,status,count\n2025-07-12 13:45:00,approved,1\n12/07/2025 13:46,approved,2\n",
     "line 3: timestamp: expected a timestamp such as '2025-07-12 13:45:00'"),
    ("negative count", "timestamp,status,count\n2025-07-12 13:45:00,approved,-3\n",
     "line 2: count: expected a non-negative integer, got a negative number"),
    ("non-numeric count", "timestamp,status,count\n2025-07-12 13:45:00,approved,lots\n",
     "line 2: count: expected a non-negative integer, got 'lots'"),
    ("unknown status", "timestamp,status,count\n2025-07-12 13:45:00,processing,3\n",
     "line 2: status: unknown status 'processing'"),
    ("duplicate row", "timestamp,status,count\n2025-07-12 13:45:00,failed,1\n2025-07-12T13:45:00Z,failed,2\n",
     "line 3: duplicate row for 2025-07-12T13:45:00Z status 'failed' (first on line 2)"),
    ("short row", "timestamp,status,count\n2025-07-12 13:45:00,approved\n", "line 2: expected 3 fields"),
    ("header only", "timestamp,status,count\n", "no data rows"),
]


@pytest.mark.parametrize("case,text,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_gives_one_clear_message_and_exit_code_2(tmp_path, capsys, case, text, message):
    path = write(tmp_path / "transactions.csv", text)
    code = main([str(path), "--out", str(tmp_path / "th.json")])
    err = capsys.readouterr().err
    assert code == 2, case  # the README: a malformed file stops with exit code 2
    assert err.startswith(f"error: {path}")
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "th.json").exists()  # nothing half-written


def test_missing_file_and_extra_status(tmp_path, capsys):
    assert main([str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: file not found" in capsys.readouterr().err
    rows = [(f"2025-07-12 13:{m:02d}:00", s, 1) for m in range(3) for s in (*STATUSES, "processing")]
    path = write(tmp_path / "t.csv", export(rows))
    history = load_history(path, statuses=(*STATUSES, "processing"))
    assert history.series("status:processing").tolist() == [1, 1, 1]


def test_the_real_command_prints_no_traceback(tmp_path):
    path = write(tmp_path / "transactions.csv", "timestamp,status,count\n2025-07-12 13:45:00,approved,1.5\n")
    result = subprocess.run([sys.executable, "-m", "analysis", str(path)], cwd=ROOT, capture_output=True, text=True,
                            check=False,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {path}, line 2: count: expected a non-negative integer, got '1.5'")
