"""The one CSV reader: the analysis CLI and the replay accept the same exports and word the same mistakes alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.__main__ import main
from analysis.loading import LoadError, load_history, parse_minute
from app import main as app_main
from feeds.replay import ReplaySource

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
    with pytest.raises(LoadError, match=r"m.csv line 2, column 'auth_code': unknown auth_code '0'"):
        load_history(status, mangled)


def test_until_keeps_only_earlier_rows(tmp_path):
    rows = [(f"2025-07-12 13:{m:02d}:00", "approved", 100 + m) for m in range(10)]
    history = load_history(write(tmp_path / "t.csv", export(rows)), until="2025-07-12 13:04:00")
    assert history.minutes == 5
    assert history.series("status:approved").tolist() == [100, 101, 102, 103, 104]


# ------------------------------------------------------------------ one reader for the CLI and the replay

HEADER_HINT = "expected a header naming the columns timestamp, {key}, count in any order (other columns are ignored)"
STATUS_HINT = ("expected one of approved, denied, failed, reversed, backend_reversed, refunded (list extra ones in the "
               "thresholds file's \"statuses\" for python app.py, with --statuses for python -m analysis)")
GOOD_ROWS = "".join(f"2025-07-12 13:{m:02d}:00,approved,{100 + m}\n" for m in range(10))  # lines 2-11

# (case, which file is bad, its bytes, the message after the file name)
MALFORMED = [
    ("empty file", "status", b"",
     ": the file is empty; " + HEADER_HINT.format(key="status") + ", then one row per minute and status"),
    ("header only", "status", b"timestamp,status,count\n",
     ": no data rows; expected one row per minute and status under the header"),
    ("only blank lines", "status", b"timestamp,status,count\n\n  \n",
     ": no data rows; expected one row per minute and status under the header"),
    ("missing column", "status", b"time,status,count\n2025-07-12 13:45:00,approved,1\n",
     " line 1: missing column 'timestamp'; " + HEADER_HINT.format(key="status") + ", got 'time,status,count'"),
    ("column twice", "status", b"timestamp,status,count,Status\n",
     " line 1: the column 'status' appears 2 times; " + HEADER_HINT.format(key="status")),
    ("bad timestamp", "status", b"timestamp,status,count\n2025-07-12 13:45:00,approved,1\n12/07/2025 13:46,approved,2\n",
     " line 3, column 'timestamp': expected a timestamp such as '2025-07-12 13:45:00' or '2025-07-12T13:45:00Z', "
     "got '12/07/2025 13:46'"),
    ("before 1970", "status", b"timestamp,status,count\n1900-01-01 00:00:00,approved,1\n",
     " line 2, column 'timestamp': expected a time between 1970-01-01 and now, got '1900-01-01 00:00:00'"),
    ("in the future", "status", b"timestamp,status,count\n2999-01-01T00:00:00Z,approved,1\n",
     " line 2, column 'timestamp': expected a time between 1970-01-01 and now, got '2999-01-01T00:00:00Z'"),
    ("negative count on line 12", "status", ("timestamp,status,count\n" + GOOD_ROWS + "2025-07-12 13:10:00,failed,-3\n").encode(),
     " line 12, column 'count': expected a non-negative integer, got '-3'"),
    ("fractional count", "status", b"timestamp,status,count\n2025-07-12 13:45:00,approved,1.5\n",
     " line 2, column 'count': expected a non-negative integer, got '1.5'"),
    ("count over the ceiling", "status", b"timestamp,status,count\n2025-07-12 13:45:00,approved,100000000000000000000\n",
     " line 2, column 'count': expected at most 1,000,000,000, got '100000000000000000000'"),
    ("unknown status", "status", b"timestamp,status,count\n2025-07-12 13:45:00,processing,3\n",
     " line 2, column 'status': unknown status 'processing'; " + STATUS_HINT),
    ("code 0 is not 00", "auth_code", b"timestamp,auth_code,count\n2025-07-12 13:45:00,0,116\n",
     " line 2, column 'auth_code': unknown auth_code '0'; expected one of 00, 51, 59 (list extra ones in the "
     "thresholds file's \"auth_codes\" for python app.py, with --auth-code-list for python -m analysis)"),
    ("duplicate row", "status", b"timestamp,status,count\n2025-07-12 13:45:00,failed,1\n2025-07-12T13:45:00Z,failed,2\n",
     " line 3: a second row for 2025-07-12T13:45:00Z status 'failed' (the first is on line 2); "
     "expected one row per minute and status"),
    ("too many fields", "status", b"timestamp,status,count\n2025-07-12 13:45:00,approved,1\n\n2025-07-12 13:46:00,approved,1,4\n",
     " line 4: expected at most 3 fields as in the header, got 4: '2025-07-12 13:46:00,approved,1,4'"),
    ("short row", "status", b"timestamp,status,count\n2025-07-12 13:45:00,approved\n",
     " line 2, column 'count': expected a non-negative integer, got ''"),
    ("columns reordered, error named by column", "status", b"count,status,timestamp\n5,approved,2025-07-12 13:45:00\nlots,approved,2025-07-12 13:46:00\n",
     " line 3, column 'count': expected a non-negative integer, got 'lots'"),
    ("not UTF-8", "status", b"timestamp,status,count\n2025-07-12 13:45:00,\xff\xfe,1\n",
     ": not a UTF-8 text file; expected a CSV export"),
]


def cli_error(tmp_path: Path, capsys, transactions: Path, auth_codes: Path | None) -> str:
    out = tmp_path / "thresholds.json"
    code = main([str(transactions), *(["--auth-codes", str(auth_codes)] if auth_codes else []), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()  # nothing half-written
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def replay_error(capsys, transactions: Path, auth_codes: Path | None) -> str:
    code = app_main(["--replay", str(transactions), *(["--auth-codes", str(auth_codes)] if auth_codes else []),
                     "--db", ":memory:"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("case,bad,content,tail", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_the_cli_and_the_replay_refuse_a_malformed_file_with_the_same_message(tmp_path, capsys, case, bad, content, tail):
    good = write(tmp_path / "good.csv", "timestamp,status,count\n2025-07-12 13:45:00,approved,116\n")
    path = tmp_path / ("transactions.csv" if bad == "status" else "transactions_auth_codes.csv")
    path.write_bytes(content)
    transactions, auth_codes = (path, None) if bad == "status" else (good, path)
    expected = f"error: {path}{tail}"
    assert cli_error(tmp_path, capsys, transactions, auth_codes) == expected
    assert replay_error(capsys, transactions, auth_codes) == expected


def test_a_missing_file_is_named_by_both(tmp_path, capsys):
    # The app checks its settings before it reads anything, and a setting's error names the flag as typed.
    missing = tmp_path / "nope.csv"
    assert cli_error(tmp_path, capsys, missing, None) == f"error: {missing}: file not found"
    assert replay_error(capsys, missing, None) == f"error: --replay: no such file: {str(missing)!r}"


# The same three minutes (13:45 approved 116 / failed 2, 13:46 approved 110, codes 00 116 / 51 4) in every form
# the exports come in.
GOOD_VARIANTS = {
    "plain, zero rows present": (
        "timestamp,status,count\n2025-07-12 13:45:00,approved,116\n2025-07-12 13:45:00,failed,2\n"
        "2025-07-12 13:45:00,denied,0\n2025-07-12 13:46:00,approved,110\n2025-07-12 13:46:00,failed,0\n",
        "timestamp,auth_code,count\n2025-07-12 13:45:00,00,116\n2025-07-12 13:45:00,51,4\n2025-07-12 13:46:00,59,0\n"),
    "ISO with Z, zero rows omitted, any order": (
        "timestamp,status,count\n2025-07-12T13:46:00Z,approved,110\n2025-07-12T13:45:00Z,failed,2\n"
        "2025-07-12T13:45:00Z,approved,116\n",
        "timestamp,auth_code,count\n2025-07-12T13:45:00Z,51,4\n2025-07-12T13:45:00Z,00,116\n"
        "2025-07-12T13:46:00Z,59,0\n"),
    "offsets, columns reordered, header case, extra column, BOM, CRLF, blank lines": (
        "\ufeffCount, Status ,note,TIMESTAMP\r\n116,approved,x,2025-07-12T15:45:00+02:00\r\n\r\n"
        "2,failed,,2025-07-12T09:45:30-04:00\r\n110,approved,y,2025-07-12 13:46:00\r\n\r\n",
        "auth_code,count,timestamp\n00,116,2025-07-12 13:45:00\n51,4,2025-07-12T13:45:00+00:00\n"
        "59,0,2025-07-12 13:46:00\n"),
}
MINUTE = parse_minute("2025-07-12 13:45:00")


@pytest.mark.parametrize("variant", sorted(GOOD_VARIANTS))
def test_the_cli_and_the_replay_accept_the_same_forms(tmp_path, variant):
    status_text, auth_text = GOOD_VARIANTS[variant]
    transactions = write(tmp_path / "transactions.csv", status_text)
    codes = write(tmp_path / "transactions_auth_codes.csv", auth_text)

    history = load_history(transactions, codes)
    assert (history.start, history.minutes) == (MINUTE, 2)
    assert history.series("status:approved").tolist() == [116, 110]
    assert history.series("status:failed").tolist() == [2, 0]
    assert history.series("auth_code:00").tolist() == [116, 0] and history.series("auth_code:51").tolist() == [4, 0]

    source = ReplaySource(transactions, codes, STATUSES, ("00", "51", "59"))
    posted = {minute: ({r["status"]: r["count"] for r in status if r["count"]},
                       {r["auth_code"]: r["count"] for r in auth if r["count"]}) for minute, status, auth in source}
    assert posted == {MINUTE: ({"approved": 116, "failed": 2}, {"00": 116, "51": 4}),
                      MINUTE + 1: ({"approved": 110}, {})}
    first = next(iter(source))
    assert {r["timestamp"] for r in first[1]} == {"2025-07-12T13:45:00Z"}  # what the ingestion gate takes


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
    assert result.stderr.strip() == f"error: {path} line 2, column 'count': expected a non-negative integer, got '1.5'"
