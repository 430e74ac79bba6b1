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
