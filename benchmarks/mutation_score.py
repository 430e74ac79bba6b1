"""Mutation score of the engine and the API layer: runs mutmut (one worker, a time budget) and prints the score.

    python benchmarks/mutation_score.py                          # every module of detection/ and api/
    python benchmarks/mutation_score.py detection/rules.py detection/monitor.py --budget 2400
    python benchmarks/mutation_score.py --report-only            # print the score of the results so far
    python benchmarks/mutation_score.py --sample 800 --seed 1 --workers 2 --budget 3600
                                  # a seeded random sample of all mutants: an unbiased estimate with its 95% interval
    python benchmarks/mutation_score.py detection/monitor.py --rerun survived   # only the survivors, after adding tests

mutmut's settings (what is mutated, which tests run, which slow tests are left out) are in
pyproject.toml under [tool.mutmut]; results live in ./mutants/ and a later run resumes where an
earlier one stopped (only mutants without a result are run; --rerun survived runs only the survivors).
Score = (killed + timeout) / (killed + timeout + survived + no tests), per module and overall;
"adjusted" also leaves out the mutants listed as equivalent in docs/notes/equivalent_mutants.txt
(one mutant name per line, then its reason).

A full run is about 9,700 mutants (hours on two cores). ``--sample N --seed S`` draws N mutant names at random
from all of them (the draw is written to mutants/sample-S.txt, so a rerun resumes the same sample) and
reports the sample's score with a 95% Clopper-Pearson interval: an unbiased estimate of the score over all of
detection/ and api/, unlike the per-module table, whose checked mutants mutmut picks fastest-first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
EQUIVALENT = ROOT / "docs" / "notes" / "equivalent_mutants.txt"
SOURCE_DIRS = ("detection", "api")

# mutmut's exit codes per mutant (mutmut/stats.py), folded into the columns printed here.
STATUS = {1: "killed", 3: "killed", 37: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"}
COLUMNS = ("killed", "survived", "timeout", "no tests", "not checked", "other")


def module_name(arg: str) -> str:
    """detection/rules.py or detection.rules -> detection.rules"""
    return arg.removesuffix(".py").replace("/", ".").strip(".")


def source_files(modules: list[str]) -> list[Path]:
    if modules:
        return [Path(*m.split(".")).with_suffix(".py") for m in modules]
    return sorted(p.relative_to(ROOT) for d in SOURCE_DIRS for p in (ROOT / d).glob("*.py"))


def results(path: Path) -> dict[str, int | None]:
    meta = MUTANTS / (str(path) + ".meta")
    if not meta.exists():
        return {}
    return json.loads(meta.read_text())["exit_code_by_key"]


def equivalent_mutants() -> set[str]:
    if not EQUIVALENT.exists():
        return set()
    return {line.split()[0] for line in EQUIVALENT.read_text().splitlines() if line.strip() and not line.startswith("#")}


def to_run(modules: list[str], rerun: str) -> list[str]:
    """Mutant names (or globs) for mutmut: those without a result; with --rerun, survivors only, or all."""
    names: list[str] = []
    for module, path in zip(modules, source_files(modules), strict=True):
        found = results(path)
        if not found:
            names.append(f"{module}.*")  # not generated yet: mutmut expands the glob
            continue
        wanted = {"survived", "no tests"} if rerun == "survived" else {"not checked"}
        names += [name for name, code in found.items() if rerun == "all" or STATUS.get(code, "other") in wanted]
    return names


def all_mutants() -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for path in source_files([]):
        found.update(results(path))
    return found


def draw_sample(size: int, seed: int) -> list[str]:
    """The same names for the same seed, once drawn: kept in mutants/sample-<seed>.txt."""
    kept = MUTANTS / f"sample-{seed}.txt"
    if kept.exists():
        return kept.read_text().split()
    names = sorted(all_mutants())
    sample = sorted(random.Random(seed).sample(names, min(size, len(names))))
    kept.write_text("\n".join(sample) + "\n")
    return sample


def report_sample(sample: list[str]) -> float | None:
    from scipy.stats import binomtest

    found = all_mutants()
    counts = Counter(STATUS.get(found.get(name), "other") for name in sample)
    equivalent = equivalent_mutants()
    survivors_equivalent = sum(1 for n in sample if n in equivalent and STATUS.get(found.get(n)) in ("survived", "no tests"))
    print(f"random sample of {len(sample)} mutants: " + ", ".join(f"{c} {counts[c]}" for c in COLUMNS))
    killed = counts["killed"] + counts["timeout"]
    for label, survived in (("score", counts["survived"] + counts["no tests"]),
                            ("adjusted (equivalents left out)", counts["survived"] + counts["no tests"] - survivors_equivalent)):
        decided = killed + survived
        if not decided:
            print(f"{label}: no mutant of the sample has a result yet")
            continue
        interval = binomtest(killed, decided).proportion_ci(0.95)
        print(f"{label}: {killed / decided * 100:.1f}% of {decided} decided "
              f"(95% interval {interval.low * 100:.1f}%-{interval.high * 100:.1f}%)")
    decided = killed + counts["survived"] + counts["no tests"] - survivors_equivalent
    return killed / decided if decided else None


def run_mutmut(names: list[str], budget: float, workers: int) -> None:
    MUTANTS.mkdir(exist_ok=True)
    log = MUTANTS / "run.log"
    command = ["mutmut", "run", "--max-children", str(workers), *names]
    print(f"running mutmut on {len(names) or 'all'} mutant names/globs, budget {budget:.0f} s (log: {log})",
          flush=True)
    with open(log, "w") as out:
        # Its own process group, so the budget stops mutmut and the pytest process it forked, nothing else.
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            print("budget spent: stopping mutmut (results so far are kept)", flush=True)
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def score(counts: Counter) -> float | None:
    decided = counts["killed"] + counts["timeout"] + counts["survived"] + counts["no tests"]
    return (counts["killed"] + counts["timeout"]) / decided if decided else None


def report(modules: list[str]) -> Counter:
    equivalent = equivalent_mutants()
    total: Counter = Counter()
    total_equivalent = 0
    header = f"{'module':<28}" + "".join(f"{c:>13}" for c in COLUMNS) + f"{'score':>9}{'adjusted':>10}"
    print(header)
    for path in source_files(modules):
        found = results(path)
        if not found:
            continue
        counts = Counter(STATUS.get(code, "other") for code in found.values())
        survivors_equivalent = sum(1 for name, code in found.items()
                                   if name in equivalent and STATUS.get(code) in ("survived", "no tests"))
        total += counts
        total_equivalent += survivors_equivalent
        print(_row(str(path), counts, survivors_equivalent))
    print(_row("overall", total, total_equivalent))
    return total


def _row(name: str, counts: Counter, equivalent: int) -> str:
    raw = score(counts)
    adjusted_counts = counts.copy()
    adjusted_counts["survived"] -= min(equivalent, adjusted_counts["survived"])
    adjusted = score(adjusted_counts)
    fmt = lambda s: "-" if s is None else f"{s * 100:.1f}%"  # noqa: E731
    return f"{name:<28}" + "".join(f"{counts[c]:>13}" for c in COLUMNS) + f"{fmt(raw):>9}{fmt(adjusted):>10}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="e.g. detection/monitor.py (default: all of detection/ and api/)")
    parser.add_argument("--budget", type=float, default=2400.0, help="seconds mutmut may run (default 2400)")
    parser.add_argument("--workers", type=int, default=1,
                        help="mutants tested at once (default 1; the tests bind only free ports and own temp dirs)")
    parser.add_argument("--report-only", action="store_true", help="print the score of the results so far")
    parser.add_argument("--rerun", choices=("none", "survived", "all"), default="none",
                        help="run the survivors again (after adding tests), or everything")
    parser.add_argument("--min-score", type=float, default=None, help="exit 1 when the overall score is below this")
    parser.add_argument("--sample", type=int, default=0, help="run and score a random sample of this many mutants")
    parser.add_argument("--seed", type=int, default=1, help="which random sample (default 1)")
    args = parser.parse_args(argv)
    modules = [module_name(m) for m in args.modules]
    if args.sample:
        if not all_mutants():
            # mutmut has not generated the mutants yet. A run over the smallest module does that, then collects
            # which tests cover what (the stats pass: 10-25 minutes over the whole suite on a busy machine) and
            # stops after that module's few mutants. It gets the whole budget: a pass stopped inside the stats is
            # thrown away and the sample's run would start it again from the beginning.
            smallest = min(source_files([]), key=lambda p: (ROOT / p).stat().st_size)
            run_mutmut([f"{module_name(str(smallest))}.*"], args.budget, args.workers)
        sample = draw_sample(args.sample, args.seed)
        found = all_mutants()
        pending = [n for n in sample if STATUS.get(found.get(n)) == "not checked"]
        if args.rerun == "survived":
            pending = [n for n in sample if STATUS.get(found.get(n)) in ("survived", "no tests")]
        if pending and not args.report_only:
            start = time.monotonic()
            run_mutmut(pending, args.budget, args.workers)
            print(f"mutmut ran {time.monotonic() - start:.0f} s")
        estimate = report_sample(sample)
        if args.min_score is not None and (estimate is None or estimate * 100 < args.min_score):
            return 1
        return 0
    if not args.report_only:
        names = to_run(modules or [module_name(str(p)) for p in source_files([])], args.rerun)
        if not names:
            print("every mutant of these modules has a result; --rerun survived or all to run them again")
        else:
            start = time.monotonic()
            run_mutmut(names, args.budget, args.workers)
            print(f"mutmut ran {time.monotonic() - start:.0f} s")
    total = report(modules)
    overall = score(total)
    if args.min_score is not None and (overall is None or overall * 100 < args.min_score):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
