"""Slices at scale: 10,000 live series, a minute of them ingested and judged, a week of them in memory, breakdowns.

The platform: 1,100 merchants (each with an acquirer of 8, a brand of 4 and a region of 5) posting every
minute one labelled record per status and per auth code: 9,900 records a minute, counted in the global
series and in 10,000+ slice series (1,100 merchants x 9 counts, plus the acquirers', brands' and regions').
The thresholds file judges denials, failures, backend reversals and codes 51/59 per merchant, acquirer,
brand and region (20 sliced rules) next to the built-in global rules.

Measured, each as the median of the timed minutes with its spread:
- a minute ingested and judged: the minute's two batch POSTs (status, auth codes) through the real app
  (Flask test client: validation, Monitor.ingest, the store's commit); the status batch closes the previous
  minute, so every sliced rule judges every slice then. Target: well under a second.
- GET /api/breakdown for an hour (denials by merchant, 1,100 slices; and by acquirer). Target: < 100 ms.
- memory: RSS after 7 days of the global series (every minute) and the slice series written at minutes
  spread over the whole week so every page of the ring is touched. Target: within 1 GB.
- the same minute and breakdown with PostgreSQL, one instance and two (the minute posted to the standby,
  answered once the leader judged it).
- a restart: the app made again on the same store, reading back every minute it held.

Run: python benchmarks/bench_slices.py [--minutes 20] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from benchmarks._stats import spread, verdict  # noqa: E402
from detection import load_thresholds  # noqa: E402
from detection.metrics import minute_to_iso  # noqa: E402

START = 29_204_640  # 2025-07-12 00:00 UTC
MERCHANTS = 1100
ACQUIRERS = [f"acq-{i:02d}" for i in range(1, 9)]
BRANDS = ["visa", "mastercard", "elo", "amex"]
REGIONS = ["sp", "rj", "mg", "rs", "ba"]
STATUS_RATES = {"approved": 0.90, "denied": 0.06, "failed": 0.002, "reversed": 0.01, "backend_reversed": 0.003,
                "refunded": 0.01}


def thresholds_file(directory: Path) -> str:
    config = load_thresholds().to_config()
    config["rules"] = [rule for rule in config["rules"] if "by" not in rule]  # the built-in per-slice rules
    config.pop("dimension_pairs", None)
    config["dimensions"] = {"acquirer": {"max_values": 20}, "merchant": {"max_values": MERCHANTS},
                            "brand": {"max_values": 10}, "region": {"max_values": 10}}
    config["no_data"] = {"after_minutes": 0}
    watched = [("status:denied", "status:approved", 0.066), ("status:failed", "status:approved", 0.0022),
               ("status:backend_reversed", "status:approved", 0.0033), ("auth_code:51", "auth_code:00", 0.03),
               ("auth_code:59", "auth_code:00", 0.036)]
    for metric, per, ratio in watched:
        for dim in ("merchant", "acquirer", "brand", "region"):
            config["rules"].append({"id": f"{metric.split(':')[1]}_by_{dim}", "type": "poisson_tail", "metric": metric,
                                    "per": per, "by": [dim], "ratio": ratio, "window": 5, "p_value": 1e-9,
                                    "min_count": 6})
    path = directory / "thresholds.json"
    path.write_text(json.dumps(config))
    return str(path)


class Platform:
    """Per merchant: its labels and its volume (Zipf-like); each minute's records drawn with a seeded generator."""

    def __init__(self, seed: int = 1):
        rng = random.Random(seed)
        self.merchants = []
        for index in range(MERCHANTS):
            labels = {"acquirer": rng.choice(ACQUIRERS), "merchant": f"m-{index:04d}",
                      "brand": rng.choice(BRANDS), "region": rng.choice(REGIONS)}
            volume = 3000.0 / (index + 10)  # a few large merchants, many small ones
            self.merchants.append((labels, volume))
        self.rng = rng

    def minute(self, minute: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        when = minute_to_iso(minute)
        statuses, codes = [], []
        rng = self.rng
        for labels, volume in self.merchants:
            counts = {s: int(rng.expovariate(1 / (volume * rate))) for s, rate in STATUS_RATES.items()}
            for status, count in counts.items():
                statuses.append({"timestamp": when, "status": status, "count": count, "labels": labels})
            fifty_one = counts["denied"] // 2
            codes += [{"timestamp": when, "auth_code": "00", "count": counts["approved"], "labels": labels},
                      {"timestamp": when, "auth_code": "51", "count": fifty_one, "labels": labels},
                      {"timestamp": when, "auth_code": "59", "count": counts["denied"] - fifty_one, "labels": labels}]
        return statuses, codes


def post(client: Any, path: str, records: list[dict[str, Any]]) -> None:
    answer = client.post(path, data=json.dumps(records), content_type="application/json")
    if answer.status_code != 201:
        raise SystemExit(f"{path} answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")


def run_minutes(clients: list[Any], platform: Platform, first: int, count: int, timed: bool) -> list[float]:
    """Post ``count`` minutes (statuses then codes, to the clients in turn); the seconds each minute took."""
    took = []
    payloads = [platform.minute(START + first + i) for i in range(count)]
    for i, (statuses, codes) in enumerate(payloads):
        client = clients[i % len(clients)]
        started = time.perf_counter()
        post(client, "/api/transaction", statuses)
        post(client, "/api/auth_code", codes)
        took.append(time.perf_counter() - started)
    return took if timed else []


def breakdowns(client: Any, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"merchant": [], "acquirer": []}
    for _ in range(rounds):
        for by, samples in out.items():
            started = time.perf_counter()
            answer = client.get(f"/api/breakdown?metric=status:denied&by={by}&minutes=60&top=10")
            samples.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise SystemExit(f"breakdown answered {answer.status_code}")
    return out


def series_count(app: Any) -> int:
    return app.server.extensions["monitor"].slices.series_count


def one_instance(db: str, directory: Path, minutes: int, warmup: int) -> dict[str, Any]:
    app = create_app({"db": db, "thresholds": thresholds_file(directory)})
    client = app.server.test_client()
    platform = Platform()
    run_minutes([client], platform, 0, warmup, timed=False)
    took = run_minutes([client], platform, warmup, minutes, timed=True)
    reads = breakdowns(client, 15)
    result: dict[str, Any] = {"minute": took, "breakdown": reads, "series": series_count(app)}
    app.server.extensions["monitor"].store.close()
    started = time.perf_counter()  # a restart: everything held is read back from the store
    again = create_app({"db": db, "thresholds": thresholds_file(directory)})
    result["reload"] = (time.perf_counter() - started, warmup + minutes, series_count(again))
    again.server.extensions["monitor"].store.close()
    return result


def two_instances(db: str, directory: Path, minutes: int, warmup: int) -> dict[str, Any]:
    path = thresholds_file(directory)
    apps = [create_app({"db": db, "instance": name, "thresholds": path}) for name in ("a", "b")]
    try:
        for app in apps:
            app.server.extensions["roles"].retry_seconds = 0.2
            app.server.extensions["roles"].start()
        leader, standby = (app.server.test_client() for app in apps)
        platform = Platform()
        run_minutes([standby], platform, 0, warmup, timed=False)
        took = run_minutes([standby], platform, warmup, minutes, timed=True)
        unjudged = apps[0].server.extensions["monitor"].store.query("SELECT COUNT(*) FROM ingest_log WHERE NOT judged")
        reads = breakdowns(standby, 15)
        return {"minute": took, "breakdown": reads, "series": series_count(apps[0]), "unjudged": unjudged[0][0]}
    finally:
        for app in apps:
            app.server.extensions["roles"].stop()
            app.server.extensions["monitor"].store.close()


def memory_week(directory: Path) -> dict[str, float]:
    """RSS after a week of the global series and every page of the slice ring written."""
    gc.collect()
    before = psutil.Process().memory_info().rss / 2**20
    app = create_app({"db": str(directory / "week.db"), "thresholds": thresholds_file(directory)})
    client = app.server.test_client()
    platform = Platform(seed=2)
    week = 7 * 1440
    # The slice ring is one row of the week per series: writing every 1,000th minute touches each of its pages.
    labelled = set(range(0, week, 1000)) | {week - 1}
    day_status: list[dict[str, Any]] = []
    day_codes: list[dict[str, Any]] = []
    for minute in range(week):
        if minute in labelled:
            if day_status:
                post(client, "/api/transaction", day_status)
                post(client, "/api/auth_code", day_codes)
                day_status, day_codes = [], []
            statuses, codes = platform.minute(START + minute)
            for i in range(0, len(statuses), 10_000):
                post(client, "/api/transaction", statuses[i:i + 10_000])
            post(client, "/api/auth_code", codes)
            continue
        when = minute_to_iso(START + minute)
        day_status += [{"timestamp": when, "status": s, "count": int(3000 * r)} for s, r in STATUS_RATES.items()]
        day_codes += [{"timestamp": when, "auth_code": c, "count": n} for c, n in (("00", 2700), ("51", 90), ("59", 90))]
        if len(day_status) >= 6 * 1000:
            post(client, "/api/transaction", day_status)
            post(client, "/api/auth_code", day_codes)
            day_status, day_codes = [], []
    if day_status:
        post(client, "/api/transaction", day_status)
        post(client, "/api/auth_code", day_codes)
    gc.collect()
    after = psutil.Process().memory_info().rss / 2**20
    monitor = app.server.extensions["monitor"]
    result = {"rss_mb": after, "grew_mb": after - before, "series": monitor.slices.series_count,
              "ring_mb": monitor.slices.nbytes / 2**20}
    monitor.store.close()
    return result


def ms(values: list[float]) -> list[float]:
    return [v * 1000 for v in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=20, help="timed minutes per configuration")
    parser.add_argument("--warmup", type=int, default=10, help="minutes posted before timing (baselines, slices made)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-slices-") as tmp:
        directory = Path(tmp)
        results["SQLite, one instance"] = one_instance(str(directory / "one.db"), directory, args.minutes, args.warmup)
        if not args.skip_postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from tests.pg_support import PostgresServer

            pg = PostgresServer(fsync=True)
            try:
                pg.start()
                results["PostgreSQL, one instance"] = one_instance(pg.fresh_database(), directory, args.minutes,
                                                                   args.warmup)
                results["PostgreSQL, two instances (posted to the standby)"] = two_instances(
                    pg.fresh_database(), directory, args.minutes, args.warmup)
            finally:
                pg.stop()
        memory = None if args.skip_memory else memory_week(directory)

    print(f"slices: {MERCHANTS} merchants x 9 counts + acquirers, brands, regions; 9,900 labelled records a minute")
    for name, result in results.items():
        minute = ms(result["minute"])
        print(f"\n{name}: {result['series']:,} slice series")
        print(f"  a minute ingested and judged (2 batch POSTs): {spread(minute, ',.0f', 'minutes')} ms; "
              f"target < 1,000 ms: {verdict(sorted(minute)[len(minute) // 2], 1000, at_least=False)}")
        for by, samples in result["breakdown"].items():
            values = ms(samples)
            print(f"  GET /api/breakdown by {by}, an hour: {spread(values, ',.1f', 'requests')} ms; "
                  f"target < 100 ms: {verdict(sorted(values)[len(values) // 2], 100, at_least=False)}")
        if "reload" in result:
            seconds, held, series = result["reload"]
            print(f"  a restart read back {held} minutes of {series:,} slice series (and the global ones) in "
                  f"{seconds:.1f} s (SQLite stores no zero counts: a series that only ever counted 0 is not made again)")
        if "unjudged" in result:
            print(f"  ingest-log rows left unjudged after the timed minutes: {result['unjudged']}")
    if memory is not None:
        print(f"\nmemory, 7 days of the global series and {memory['series']:,} slice series: RSS {memory['rss_mb']:,.0f} MB "
              f"(the app grew by {memory['grew_mb']:,.0f} MB; the slice ring {memory['ring_mb']:,.0f} MB); "
              f"target within 1,024 MB: {verdict(memory['rss_mb'], 1024, at_least=False)}")


if __name__ == "__main__":
    main()
