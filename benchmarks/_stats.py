"""How every benchmark states a figure: the median of several runs with their spread, and a verdict on the median.

A figure from one run on a shared 2-core machine can move by 20 %; a median over
several runs with its spread beside it says how far a rerun may land.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def spread(values: Sequence[float], fmt: str = ",.0f", over: str = "runs") -> str:
    """``median X (min-max over N runs)``: the form every README figure is given in."""
    if not values:
        raise ValueError("no runs to summarise")
    ordered = sorted(values)
    return (f"median {format(statistics.median(ordered), fmt)} "
            f"({format(ordered[0], fmt)}-{format(ordered[-1], fmt)} over {len(ordered)} {over})")


def verdict(median: float, target: float, at_least: bool = True) -> str:
    """'met' only when the median of the runs meets the target, never on the best run."""
    met = median >= target if at_least else median <= target
    return "met" if met else "NOT met"


def p99(samples: Sequence[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def print_latency_table(samples: dict[str, list[float]], base: str, outcomes: dict[str, dict[str, str]],
                        run_seconds: float, outcome_title: str, blocks: int = 5) -> None:
    """Ingest latency per scenario against ``base``: median, p99, and the p99 ratio per block of requests
    (the scenarios took turns, so block i of each was measured at the same time)."""
    reference = samples[base]
    size = len(reference) // blocks
    width = max(len(name) for name in samples) + 1
    print(f"ingest latency, POST /api/transaction, {len(reference)} requests per scenario, taking turns, "
          f"{run_seconds:.0f} s")
    print(f"{'scenario':<{width}} {'median ms':>10} {'p99 ms':>8}  {'p99 ratio per block':<40} {outcome_title}")
    for name, values in samples.items():
        ratios = [p99(values[i * size:(i + 1) * size]) / p99(reference[i * size:(i + 1) * size]) for i in range(blocks)]
        print(f"{name:<{width}} {statistics.median(values) * 1000:>10.2f} {p99(values) * 1000:>8.2f}  "
              f"{spread(ratios, '.2f', 'blocks'):<40} {outcomes[name] or '-'}")
