"""Regenerate the built-in thresholds (``detection/default_thresholds.json``) from the generator's data.

``python -m analysis.defaults`` makes 14 seeded synthetic days of the daily-rhythm shape (a strong daily
cycle, weekends lower, counts noisier than Poisson, every incident kind), learns from them without an
hour-of-day profile (so every rule is volume-free and fits any traffic shape, flat or cycling; the
approval-drop rule's noise is measured against a flat profile on that cycle, so the evening decline is
inside it) and writes the file the monitor uses when no thresholds file is given. A user with no history
of their own still gets sensible alerts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.learn import LearnOptions, learn
from analysis.loading import history_from_rows
from analysis.synthetic import generate
from detection.thresholds import DEFAULT_THRESHOLDS_PATH, Thresholds, write_thresholds

DAYS = 14
SEED = 20250712
START = 29_188_800  # 2025-07-01 00:00 UTC


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
    return Thresholds(rules=analysis.thresholds.rules, statuses=analysis.thresholds.statuses,
                      auth_codes=analysis.thresholds.auth_codes,
                      no_data_minutes=analysis.thresholds.no_data_minutes, provenance=provenance,
                      source="built-in defaults")


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
