"""Memory: RSS of the monitor process after ingesting 30 days of per-minute data. Target: under 300 MB.

The process is the app as `python app.py` builds it (Dash, Flask, the Monitor and
its SQLite store); data goes in through the same validation and Monitor.ingest as
a batch POST. Memory keeps the default 7-day window; older minutes live in the store.
Run: python benchmarks/bench_memory.py [--days 30]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from benchmarks._data import minute_records  # noqa: E402
from detection import validate_records  # noqa: E402

TARGET_MB = 300


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    with tempfile.TemporaryDirectory() as directory:
        app = create_app({"db": str(Path(directory) / "memory.db")})
        monitor = app.server.extensions["monitor"]
        thresholds = monitor.thresholds
        before = rss_mb()
        start_minute = 29_204_640
        day = 1440
        records = 0
        elapsed = 0.0
        now = time.time()
        for offset in range(0, args.days * day, day):  # a day at a time, so the data itself is not all held
            statuses, auth = minute_records(start_minute + offset, day, seed=offset)
            flat_status = [r for minute in statuses for r in minute]
            flat_auth = [r for minute in auth for r in minute]
            started = time.perf_counter()
            for i in range(0, len(flat_status), 1000):
                monitor.ingest(validate_records(flat_status[i:i + 1000], "status", thresholds.statuses, now=now))
            for i in range(0, len(flat_auth), 1000):
                monitor.ingest(validate_records(flat_auth[i:i + 1000], "auth_code", thresholds.auth_codes, now=now))
            elapsed += time.perf_counter() - started
            records += len(flat_status) + len(flat_auth)
        del statuses, auth, flat_status, flat_auth
        after = rss_mb()
        held = len(monitor.series.counts.get("status:approved", {}))
        stored = monitor.store.count_rows("minute_counts")
        db_mb = sum(p.stat().st_size for p in Path(directory).glob("memory.db*")) / 2**20

    print(f"ingested {records:,} records ({args.days} days) in {elapsed:.1f} s of ingest time")
    print(f"minutes held in memory per metric: {held:,} (window {monitor.settings.window_minutes:,}); feed-minutes in the store: {stored:,} ({db_mb:.1f} MB on disk)")
    print(f"RSS after start-up: {before:.0f} MB; after ingesting: {after:.0f} MB; target < {TARGET_MB} MB: {'met' if after < TARGET_MB else 'NOT met'}")


if __name__ == "__main__":
    main()
