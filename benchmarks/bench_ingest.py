"""In-process ingest speed: validation plus Monitor.ingest on a file store, in batches of 1,000 records.

This is the path a batch POST takes, minus HTTP. Target: at least 150,000 records/s.
Run: python benchmarks/bench_ingest.py [--days 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._data import minute_records
from benchmarks._stats import spread, verdict
from detection import Monitor, Store, load_thresholds, validate_records
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES

TARGET = 150_000


def run_once(status_batches, auth_batches, directory: str, repeat: int) -> float:
    monitor = Monitor(load_thresholds(), Store(str(Path(directory) / f"bench-{repeat}.db")))
    now = time.time()
    records = 0
    started = time.perf_counter()
    for statuses, auth in zip(status_batches, auth_batches, strict=True):
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
    args = parser.parse_args()
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
    print(f"records: {len(flat_status) + len(flat_auth)} ({args.days} days, batches of 1,000 status + 500 auth-code records)")
    print(f"ingest: {spread(rates)} records/s; target {TARGET:,}: {verdict(median, TARGET)} (ratio {median / TARGET:.2f})")


if __name__ == "__main__":
    main()
