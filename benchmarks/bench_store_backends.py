"""Ingest on each store backend side by side: single records and batches, SQLite file against PostgreSQL.

The path a POST takes minus HTTP (validation, Monitor.ingest, the group commit). One instance only: several
instances on one PostgreSQL come with the next part of issue 11.
Run: python benchmarks/bench_store_backends.py [--pg postgresql://user@host:5432/db] [--rounds 5]
Without --pg a throwaway PostgreSQL is started in a temporary directory (as tests/pg_support.py does) with
its default settings but fsync on, so a commit costs what it costs in production on this disk.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from benchmarks._data import minute_records  # noqa: E402
from benchmarks._stats import spread  # noqa: E402
from detection import Monitor, load_thresholds, validate_records  # noqa: E402
from detection.metrics import DEFAULT_STATUSES  # noqa: E402
from detection.store import open_store  # noqa: E402

SINGLES = 2_000  # single-record ingests per run
BATCH_MINUTES = 3 * 1440  # minutes of records per batch run (about 26,000), in batches of 1,000 status records


def rate(target: str, synchronous: str, batches: list[list[dict]]) -> float:
    """Records a second through validation and Monitor.ingest of ``batches`` on a fresh store at ``target``."""
    monitor = Monitor(load_thresholds(), open_store(target, synchronous=synchronous))
    now = time.time()
    records = 0
    started = time.perf_counter()
    for batch in batches:
        monitor.ingest(validate_records(batch, "status", DEFAULT_STATUSES, now=now))
        records += len(batch)
    elapsed = time.perf_counter() - started
    monitor.store.close()
    return records / elapsed


def fresh_pg(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="an existing PostgreSQL (a database the benchmark may create others beside)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    statuses, _auth_codes = minute_records(29_204_640, BATCH_MINUTES)
    flat = [r for minute in statuses for r in minute]
    singles = [[r] for r in flat[:SINGLES]]
    batches = [flat[i:i + 1000] for i in range(0, len(flat), 1000)]

    server = None
    if args.pg is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from pg_support import PostgresServer  # the tests' throwaway server

        server = PostgresServer(fsync=True).start()
        admin = server.url()
    else:
        admin = args.pg
    # (label, SQLite's synchronous or None for PostgreSQL): SQLite's default NORMAL survives a killed process;
    # FULL and PostgreSQL's default (fsync, synchronous_commit on) also survive power loss, an fsync per commit.
    backends = (("SQLite file, synchronous=normal", "normal"), ("SQLite file, synchronous=full", "full"),
                ("PostgreSQL (fsync on, defaults)", None))
    results: dict[tuple[str, str], list[float]] = {}
    try:
        with tempfile.TemporaryDirectory() as directory:
            for round_ in range(args.rounds):
                order = backends if round_ % 2 == 0 else backends[::-1]
                for label, synchronous in order:
                    for kind, work in (("single", singles), ("batch", batches)):
                        name = f"bench_{kind}_{round_}"
                        target = (fresh_pg(admin, name) if synchronous is None
                                  else str(Path(directory) / f"{name}_{synchronous}.db"))
                        results.setdefault((label, kind), []).append(rate(target, synchronous or "normal", work))
    finally:
        if server is not None:
            server.stop()
    print(f"one instance, validation + Monitor.ingest, {args.rounds} rounds (backends alternating)")
    for kind, what in (("single", f"single records ({SINGLES:,} ingests of one record)"),
                       ("batch", f"batches of 1,000 records ({len(flat):,} records)")):
        print(f"{what}:")
        for label, _ in backends:
            print(f"  {label:34} {spread(results[(label, kind)], over='rounds')} records/s")
        full, pg = results[(backends[1][0], kind)], results[(backends[2][0], kind)]
        ratios = [p / f for p, f in zip(pg, full, strict=True)]
        print(f"  PostgreSQL / SQLite full per round: {spread(ratios, fmt='.2f', over='rounds')}")


if __name__ == "__main__":
    main()
