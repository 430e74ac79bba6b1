"""Long work shows progress: done, left and rate; a bar on a terminal, lines in a log, for the analysis CLI."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from analysis.progress import Progress, duration

ROOT = Path(__file__).resolve().parents[1]


class Ticks:
    """A clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_line_says_what_is_done_what_is_left_and_the_rate():
    clock, lines = Ticks(), []
    progress = Progress("replay", 4320, "minutes", lines.append, short="min", per="min",
                        every_seconds=float("inf"), every_fraction=1 / 3, clock=clock)
    for _ in range(4320):
        clock.now += 1.0  # speed 60: one event minute per wall second
        progress.advance()
    assert lines == [
        "replay: 1,440 of 4,320 minutes (33%), 60.0 min/min, 48 min left",
        "replay: 2,880 of 4,320 minutes (67%), 60.0 min/min, 24 min left",
        "replay: 4,320 of 4,320 minutes (100%), 60.0 min/min, done in 72 min",
    ]
    progress.finish()
    assert len(lines) == 3  # the last line is said once


def test_lines_come_every_so_many_seconds_or_every_tenth_whichever_is_first():
    clock, lines = Ticks(), []
    progress = Progress("work", 1000, "items", lines.append, every_seconds=10.0, every_fraction=0.1, clock=clock)
    for _ in range(50):  # slow start: 1 item per second, so time triggers before the 10% mark (100)
        clock.now += 1.0
        progress.advance()
    for _ in range(950):  # then fast: marks come before 10 s pass
        clock.now += 0.001
        progress.advance()
    done = [int(re.match(r"work: ([\d,]+) of", line).group(1).replace(",", "")) for line in lines]
    assert done == [10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    assert lines[0] == "work: 10 of 1,000 items (1%), 1.0 items/s, 990 s left".replace("990 s", duration(990))
    assert lines[-1].startswith("work: 1,000 of 1,000 items (100%), ") and ", done in 51 s" in lines[-1]


def test_durations_read_as_a_person_would_say_them():
    assert [duration(s) for s in (0.42, 12, 99, 2880, 7500)] == ["0.4 s", "12 s", "99 s", "48 min", "2 h 05 min"]


def synthetic_exports(tmp_path: Path, days: int = 2) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-m", "analysis.synthetic", "--days", str(days), "--out", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    return tmp_path / "transactions.csv", tmp_path / "transactions_auth_codes.csv"


def rows_in(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) - 1


def test_the_analysis_cli_reports_progress_in_lines_when_stderr_is_not_a_terminal(tmp_path):
    transactions, codes = synthetic_exports(tmp_path)
    result = subprocess.run([sys.executable, "-m", "analysis", str(transactions), "--auth-codes", str(codes),
                             "--out", str(tmp_path / "thresholds.json"), "--report", str(tmp_path / "report.html")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    rows = rows_in(transactions) + rows_in(codes)
    assert re.fullmatch(rf"analysis \[1/4\] read {rows:,} rows, 2,880 minutes, in \d+\.\d s", lines[0]), lines[0]
    assert re.fullmatch(r"analysis \[2/4\] learned \d+ rules in \d+\.\d s", lines[1]), lines[1]
    found = [re.fullmatch(r"analysis \[3/4\] finding incidents: ([\d,]+) of 2,880 minutes \((\d+)%\), "
                          r"([\d,.]+) min/s, (?:([\d.]+ s|\d+ min) left|done in ([\d.]+ s|\d+ min))", line)
             for line in lines[2:-1]]
    assert all(found), lines[2:-1]
    done = [int(m.group(1).replace(",", "")) for m in found]
    # every 10% (and every 10 s on a slow machine): increasing, ending with all of it
    assert done == sorted(done) and done[-1] == 2880 and len(done) >= 10
    assert {288, 1440, 2592} <= set(done)
    assert all(int(m.group(2)) == (min(round(100 * d / 2880), 99) if d < 2880 else 100)
               for m, d in zip(found, done, strict=True))
    assert found[-1].group(5) is not None and all(m.group(4) is not None for m in found[:-1])
    assert re.fullmatch(rf"analysis \[4/4\] wrote {re.escape(str(tmp_path / 'report.html'))} in \d+\.\d s", lines[-1])
    assert result.stdout.startswith("Learned from 2,880 minutes")  # the summary stays on stdout


def test_the_analysis_cli_draws_a_bar_on_a_terminal(tmp_path):
    transactions, codes = synthetic_exports(tmp_path, days=1)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty has no size
    process = subprocess.Popen([sys.executable, "-m", "analysis", str(transactions), "--auth-codes", str(codes),
                                "--out", str(tmp_path / "thresholds.json")],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=terminal, stdin=subprocess.DEVNULL)
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the process closed its end of the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert process.wait(timeout=max(1.0, deadline - time.monotonic())) == 0
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    text = seen.decode("utf-8", "replace")
    assert "analysis [3/3] finding incidents: 100%|" in text  # tqdm's bar, redrawn in place with \r
    assert "1440/1440" in text and "min/s]" in text and "\r" in text
    assert "of 1,440 minutes (" not in text  # no log lines on a terminal


def test_the_evaluation_reports_each_replayed_thresholds_set(tmp_path):
    result = subprocess.run([sys.executable, "-m", "analysis.evaluate", "--days", "2", "--train-days", "1",
                             "--cycle", "off"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr  # seed 0 meets the targets even learned on one day
    lines = result.stderr.splitlines()
    assert [re.sub(r"\), .*", ")", line) for line in lines] == [
        f"evaluate, flat volume: {k} of 4 thresholds sets replayed ({25 * k}%)" for k in range(1, 5)]
    assert all(re.search(r", [\d.,]+ sets/min, [\d.]+ s left$", line) for line in lines[:-1]), lines
    assert re.search(r", [\d.,]+ sets/min, done in [\d.]+ s$", lines[-1]), lines[-1]
    assert "| thresholds | daily cycle |" in result.stdout  # the scores stay on stdout
