"""In-process ingest speed: validation plus Monitor.ingest on a file store, in batches of 1,000 records.

This is the path a batch POST takes, minus HTTP. Target: at least 150,000 records/s.
Run: python benchmarks/bench_ingest.py [--days 3] [--repeats 5] [--baseline CHECKOUT [--rounds 7]]

With ``--baseline`` (another checkout of the project, e.g. ``git worktree add /tmp/base 62cddbb``) the two
codes are measured side by side: in each round one process per checkout, back to back, each giving the
median of ``--repeats`` runs; the figures are the medians over the rounds and the per-round ratio, so a
burst of load on the shared machine hits both sides of a round alike.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The code measured: this checkout, or (for --baseline's other side) the one named in BENCH_CODE.
sys.path.insert(0, os.environ.get("BENCH_CODE") or str(Path(__file__).resolve().parents[1]))

from benchmarks._data import minute_records
from benchmarks._stats import spread, verdict
from detection import Monitor, Store, load_thresholds, validate_records
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES

TARGET = 150_000


def run_once(status_batches, auth_batches, directory: str, repeat: int) -> float:
    return ingest_rate(load_thresholds(), zip(status_batches, auth_batches, strict=True),
                       Path(directory) / f"bench-{repeat}.db")


def ingest_rate(thresholds, batches, path: Path) -> float:
    """Records a second through validation and ``Monitor.ingest`` of (statuses, auth codes) batch pairs."""
    monitor = Monitor(thresholds, Store(str(path)))
    now = time.time()
    records = 0
    started = time.perf_counter()
    for statuses, auth in batches:
        monitor.ingest(validate_records(statuses, "status", DEFAULT_STATUSES, now=now))
        monitor.ingest(validate_records(auth, "auth_code", DEFAULT_AUTH_CODES, now=now))
        records += len(statuses) + len(auth)
    elapsed = time.perf_counter() - started
    monitor.store.close()
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", help="another checkout to measure side by side with this one")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the side-by-side comparison")
    parser.add_argument("--median-only", action="store_true", help=argparse.SUPPRESS)  # one side of a round
    args = parser.parse_args()
    if args.baseline:
        side_by_side(args)
        return
    logging.disable(logging.WARNING)  # alert log lines are not what is measured

    statuses, auth = minute_records(29_204_640, args.days * 1440)
    flat_status = [r for minute in statuses for r in minute]
    flat_auth = [r for minute in auth for r in minute]
    # batches of 1,000 status records, and auth-code batches covering the same minutes
    status_batches = [flat_status[i:i + 1000] for i in range(0, len(flat_status), 1000)]
    auth_batches = [flat_auth[i // 2:(i + 1000) // 2] for i in range(0, len(flat_status), 1000)]

    with tempfile.TemporaryDirectory() as directory:
        rates = [run_once(status_batches, auth_batches, directory, r) for r in range(args.repeats)]
    median = statistics.median(rates)
    if args.median_only:
        print(median)
        return
    print(f"records: {len(flat_status) + len(flat_auth)} ({args.days} days, batches of 1,000 status + 500 auth-code records)")
    print(f"ingest: {spread(rates)} records/s; target {TARGET:,}: {verdict(median, TARGET)} (ratio {median / TARGET:.2f})")


def side_by_side(args: argparse.Namespace) -> None:
    """Rounds of this checkout and the baseline, one process each, back to back (the order alternating)."""
    here = str(Path(__file__).resolve().parents[1])
    there = str(Path(args.baseline).resolve())
    command = [sys.executable, str(Path(__file__).resolve()), "--days", str(args.days), "--repeats",
               str(args.repeats), "--median-only"]

    def measured(code: str) -> float:
        done = subprocess.run(command, env={**os.environ, "BENCH_CODE": code}, capture_output=True, text=True,
                              check=True)
        return float(done.stdout.split()[-1])

    ours: list[float] = []
    theirs: list[float] = []
    for round_ in range(args.rounds):
        if round_ % 2:
            theirs.append(measured(there))
            ours.append(measured(here))
        else:
            ours.append(measured(here))
            theirs.append(measured(there))
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    median = statistics.median(ours)
    print(f"this checkout: {spread(ours, over='rounds')} records/s; target {TARGET:,}: {verdict(median, TARGET)}")
    print(f"baseline {there}: {spread(theirs, over='rounds')} records/s")
    print(f"ratio per round: {spread(ratios, fmt='.2f', over='rounds')}")


if __name__ == "__main__":
    main()
