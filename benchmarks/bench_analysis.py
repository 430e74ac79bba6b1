"""Speed of the analysis: the CLI on a 3-day export with its report, the 14-day evaluation, and what
the statistical rules cost the engine per minute (against static threshold rules), side by side.

Run: ``python benchmarks/bench_analysis.py [--repeat 3] [--skip-evaluation]``. Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.learn import learn  # noqa: E402
from analysis.loading import history_from_rows  # noqa: E402
from analysis.replay import quiet_console, rows_by_minute, validate_minutes  # noqa: E402
from analysis.synthetic import generate, random_incidents, write_csvs  # noqa: E402
from detection import Monitor, MonitorSettings, Store, Thresholds, load_thresholds  # noqa: E402
from detection.rules import ThresholdRule  # noqa: E402
from detection.series import MinuteSeries  # noqa: E402

START = 29_188_800  # 2025-07-01 00:00 UTC


def timed_command(args: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - began)
    return times


def static_rules(thresholds: Thresholds) -> Thresholds:
    """The same metrics watched by plain per-minute thresholds: the cheapest rules the engine has."""
    rules = tuple(ThresholdRule(rule_id=f"static_{i}", metric=m, direction="above", threshold=1e9)
                  for i, m in enumerate(["status:approved", "status:denied", "status:failed", "status:reversed",
                                         "status:backend_reversed", "status:refunded", "auth_code:00",
                                         "auth_code:51", "auth_code:59"]))
    return Thresholds(rules=rules)


def judge_cost(thresholds: Thresholds, series: MinuteSeries, first: int, minutes: int, repeat: int) -> float:
    """Microseconds to judge every rule once for one minute (best of ``repeat``)."""
    best = float("inf")
    rules = thresholds.rules
    for _ in range(repeat):
        began = time.perf_counter()
        for minute in range(first, first + minutes):
            for rule in rules:
                rule.judge(series, minute)
        best = min(best, (time.perf_counter() - began) / minutes * 1e6)
    return best


def ingest_rate(thresholds: Thresholds, batches: list, repeat: int) -> float:
    """Records per second through Monitor.ingest, 1,000 minutes per batch (a bulk replay).

    The static rules never breach here; the defaults raise the export's real alerts, which the
    store writes, so the ratio is the whole cost of statistical rules in use.
    """
    rates = []
    for _ in range(repeat):
        monitor = Monitor(thresholds, Store(":memory:"), MonitorSettings(), clock=lambda: 2e9)
        records = 0
        began = time.perf_counter()
        with quiet_console():  # the console channel would print every replayed alert
            for batch in batches:
                monitor.ingest(batch)
                records += len(batch)
        rates.append(records / (time.perf_counter() - began))
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-evaluation", action="store_true")
    args = parser.parse_args()

    # A 3-day export as DATA.md describes it: every minute present (25,920 + 12,960 rows), incidents in it.
    incidents = [i for i in random_incidents(START, 3 * 1440, seed=1) if i.kind != "feed_outage"]
    data = generate(START, 3 * 1440, seed=1, incidents=incidents)
    with tempfile.TemporaryDirectory() as tmp:
        transactions, auth_codes, _ = write_csvs(data, Path(tmp))
        print(f"3-day export: {len(data.status_rows):,} + {len(data.auth_rows):,} rows")
        cli = timed_command(["-m", "analysis", str(transactions), "--auth-codes", str(auth_codes),
                             "--out", str(Path(tmp) / "t.json"), "--report", str(Path(tmp) / "r.html")], args.repeat)
        size = (Path(tmp) / "r.html").stat().st_size
    print(f"CLI with report:            median {statistics.median(cli):6.2f} s  (runs {', '.join(f'{t:.2f}' for t in cli)}; "
          f"target < 5 s; ratio {statistics.median(cli) / 5:.2f}; report {size / 1e6:.1f} MB)")

    if not args.skip_evaluation:
        one = timed_command(["-m", "analysis.evaluate", "--cycle", "off"], 1)[0]
        both = timed_command(["-m", "analysis.evaluate"], 1)[0]
        print(f"evaluation, 14 days, 1 shape: {one:6.2f} s  (4 thresholds sets replayed; target < 30 s; "
              f"ratio {one / 30:.2f})")
        print(f"evaluation, 14 days, 2 shapes: {both:5.2f} s  (flat + daily cycle, 2 processes)")

    learned = learn(history_from_rows(data.status_rows, data.auth_rows)).thresholds
    defaults = load_thresholds()
    static = static_rules(defaults)
    series = MinuteSeries(defaults.statuses)
    for _minute, records in validate_minutes(rows_by_minute(data.status_rows, data.auth_rows, START, 3 * 1440),
                                            defaults.statuses, defaults.auth_codes):
        for record in records:
            series.add(record.feed, record.metric, record.minute, record.count)
    print("judging every rule for one closed minute (best of runs):")
    costs = {}
    for name, thresholds in (("static thresholds", static), ("built-in defaults", defaults), ("learned", learned)):
        costs[name] = judge_cost(thresholds, series, START + 60, 2000, args.repeat)
        print(f"  {name:<18} {len(thresholds.rules):>2} rules  {costs[name]:6.1f} us/minute  "
              f"(x{costs[name] / costs['static thresholds']:.1f} static)")
    records = [r for _, rs in validate_minutes(rows_by_minute(data.status_rows, data.auth_rows, START, 3 * 1440),
                                               defaults.statuses, defaults.auth_codes) for r in rs]
    batches = [records[i:i + 9000] for i in range(0, len(records), 9000)]
    print("Monitor.ingest of the 3-day export in 1,000-minute batches (median):")
    rates = {}
    for name, thresholds in (("static thresholds", static), ("built-in defaults", defaults)):
        rates[name] = ingest_rate(thresholds, batches, args.repeat)
        print(f"  {name:<18} {rates[name]:>10,.0f} records/s  (x{rates[name] / rates['static thresholds']:.2f} static; "
              f"Core target 150,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
