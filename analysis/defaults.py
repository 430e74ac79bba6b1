"""Regenerate the built-in thresholds (``detection/default_thresholds.json``) from the generator's data.

``python -m analysis.defaults`` makes 14 seeded synthetic days of the daily-rhythm shape (a strong daily
cycle, weekends lower, counts noisier than Poisson, every incident kind), learns from them without an
hour-of-day profile (so every rule is volume-free and fits any traffic shape, flat or cycling; the
approval-drop rule's noise is measured against a flat profile on that cycle, so the evening decline is
inside it) and writes the file the monitor uses when no thresholds file is given. A user with no history
of their own still gets sensible alerts.

The built-in file also accepts the usual payment dimensions (acquirer, merchant, brand, region; the pair
acquirer x brand) and judges the bad-event counts per slice (``SLICED``): each sliced rule is its global
rule's pooled ratio, judged for every slice against the slice's own volume, with the global rule's p-value
divided by the dimension's cap on values, so the false-alarm budget holds across all its slices. A
deployment with history of its own learns per-slice ratios with ``python -m analysis`` on labelled CSVs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.learn import LearnOptions, learn
from analysis.loading import history_from_rows
from analysis.synthetic import generate
from detection.rules import Rule
from detection.slices import Dimension
from detection.stat_rules import PoissonTailRule
from detection.thresholds import DEFAULT_THRESHOLDS_PATH, Thresholds, write_thresholds

DAYS = 14
SEED = 20250712
START = 29_188_800  # 2025-07-01 00:00 UTC
DIMENSIONS = (Dimension("acquirer", 50), Dimension("merchant", 1000), Dimension("brand", 20), Dimension("region", 50))
PAIRS = (("acquirer", "brand"),)
# (global rule, dimension, minimum count) -> a rule judged per slice of that dimension
SLICED = (("denied_high_sustained", "acquirer", 8), ("denied_high_sustained", "merchant", 8),
          ("denied_high_sustained", "brand", 8), ("denied_high_sustained", "region", 8),
          ("failed_high", "acquirer", 3), ("failed_high", "merchant", 3),
          ("backend_reversed_high", "acquirer", 4), ("auth_51_sustained", "acquirer", 8),
          ("auth_59_sustained", "acquirer", 8))


def sliced_rules(rules: Sequence[Rule]) -> list[Rule]:
    """The built-in per-slice rules, from the learned global ones (see the module docstring)."""
    by_id = {rule.id: rule for rule in rules}
    caps = {d.name: d.max_values for d in DIMENSIONS}
    out: list[Rule] = []
    for base_id, dimension, min_count in SLICED:
        base = by_id.get(base_id)
        if not isinstance(base, PoissonTailRule):
            continue
        status = base.metric.split(":", 1)[1]
        rule = PoissonTailRule(
            rule_id=f"{status}_by_{dimension}" if base.metric.startswith("status:") else f"auth_{status}_by_{dimension}",
            metric=base.metric, severity=base.severity, for_minutes=1, resolve_minutes=base.resolve_minutes,
            description=f"{base.metric} per {dimension}: the pooled ratio, each {dimension} against its own volume",
            ratio=base.ratio, per=base.per, window=base.window, min_count=max(min_count, base.min_count),
            p_value=float(f"{base.p_value / caps[dimension]:.3g}"), dispersion=base.dispersion,
            per_level=base.per_level)
        rule.by, rule.slice_ratios = (dimension,), {}
        out.append(rule)
    return out


def default_thresholds(days: int = DAYS, seed: int = SEED) -> Thresholds:
    data = generate(START, days * 1440, seed, rhythm=True, incidents_per_day=6.0)
    analysis = learn(history_from_rows(data.status_rows, data.auth_rows), LearnOptions(hourly_profile=False))
    provenance = dict(analysis.thresholds.provenance)
    provenance.update({
        "tool": "python -m analysis.defaults",
        "inputs": [(f"analysis.synthetic.generate(start={START}, minutes={days * 1440}, seed={seed}, "
                   f"rhythm=True, incidents_per_day=6): {len(data.incidents)} labelled incidents")],
        "note": "built-in defaults: volume-free rules learned from synthetic data shaped like DATA.md",
    })
    rules = analysis.thresholds.rules
    return Thresholds(rules=(*rules, *sliced_rules(rules)), statuses=analysis.thresholds.statuses,
                      auth_codes=analysis.thresholds.auth_codes,
                      no_data_minutes=analysis.thresholds.no_data_minutes, provenance=provenance,
                      source="built-in defaults", dimensions=DIMENSIONS, dimension_pairs=PAIRS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.defaults", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_THRESHOLDS_PATH,
                        help=f"where to write (default {DEFAULT_THRESHOLDS_PATH})")
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    thresholds = default_thresholds(args.days, args.seed)
    write_thresholds(thresholds, args.out)
    print(f"wrote {len(thresholds.rules)} rules to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
