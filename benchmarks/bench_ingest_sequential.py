"""What the sequential approval-drop rule costs bulk ingest: a learned file with and without it, runs alternating.

The built-in defaults have no ``sequential_drop`` (bench_ingest.py is unchanged by it); a file learned with a
profile has one beside ``profile_drop``. Thresholds are learned from 7 quiet days of the benchmark data's own
shape, then the benchmark's 3 days go through validation + ``Monitor.ingest`` in batches of 1,000.
Run: python benchmarks/bench_ingest_sequential.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.learn import learn
from analysis.loading import history_from_rows
from analysis.synthetic import generate
from benchmarks._data import minute_records
from benchmarks._stats import spread
from benchmarks.bench_ingest import ingest_rate
from detection.thresholds import Thresholds

START = 29_204_640  # the benchmark data's first minute (bench_ingest.py)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    quiet = generate(START - 7 * 1440, 7 * 1440, 0, incidents=[])
    learned = learn(history_from_rows(quiet.status_rows, quiet.auth_rows)).thresholds
    without = Thresholds(rules=tuple(r for r in learned.rules if r.type_name != "sequential_drop"),
                         statuses=learned.statuses, auth_codes=learned.auth_codes,
                         no_data_minutes=learned.no_data_minutes, provenance=learned.provenance, source="learned")
    statuses, auth = minute_records(START, 3 * 1440)
    flat_status = [r for minute in statuses for r in minute]
    flat_auth = [r for minute in auth for r in minute]
    batches = [(flat_status[i:i + 1000], flat_auth[i // 2:(i + 1000) // 2]) for i in range(0, len(flat_status), 1000)]
    rates: dict[str, list[float]] = {"with sequential_drop": [], "without": []}
    with tempfile.TemporaryDirectory() as directory:
        for repeat in range(args.repeats):  # alternating, so load on the machine hits both alike
            rates["with sequential_drop"].append(ingest_rate(learned, batches, Path(directory) / f"with-{repeat}.db"))
            rates["without"].append(ingest_rate(without, batches, Path(directory) / f"without-{repeat}.db"))
    for name, values in rates.items():
        print(f"learned file, {name}: {spread(values)} records/s")


if __name__ == "__main__":
    main()
