"""Mutation score of the engine and the API layer: runs mutmut (one worker, a time budget) and prints the score.

    python benchmarks/mutation_score.py                          # every module of detection/ and api/
    python benchmarks/mutation_score.py detection/rules.py detection/monitor.py --budget 2400
    python benchmarks/mutation_score.py --report-only            # print the score of the results so far
    python benchmarks/mutation_score.py detection/monitor.py --rerun survived   # only the survivors, after adding tests

mutmut's settings (what is mutated, which tests run, which slow tests are left out) are in
pyproject.toml under [tool.mutmut]; results live in ./mutants/ and a later run resumes where an
earlier one stopped (only mutants without a result are run; --rerun survived runs only the survivors).
Score = (killed + timeout) / (killed + timeout + survived + no tests), per module and overall;
"adjusted" also leaves out the mutants listed as equivalent in docs/notes/equivalent_mutants.txt
(one mutant name per line, then its reason).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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


def run_mutmut(names: list[str], budget: float) -> None:
    MUTANTS.mkdir(exist_ok=True)
    log = MUTANTS / "run.log"
    command = ["mutmut", "run", "--max-children", "1", *names]
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
    parser.add_argument("--report-only", action="store_true", help="print the score of the results so far")
    parser.add_argument("--rerun", choices=("none", "survived", "all"), default="none",
                        help="run the survivors again (after adding tests), or everything")
    parser.add_argument("--min-score", type=float, default=None, help="exit 1 when the overall score is below this")
    args = parser.parse_args(argv)
    modules = [module_name(m) for m in args.modules]
    if not args.report_only:
        names = to_run(modules or [module_name(str(p)) for p in source_files([])], args.rerun)
        if not names:
            print("every mutant of these modules has a result; --rerun survived or all to run them again")
        else:
            start = time.monotonic()
            run_mutmut(names, args.budget)
            print(f"mutmut ran {time.monotonic() - start:.0f} s")
    total = report(modules)
    overall = score(total)
    if args.min_score is not None and (overall is None or overall * 100 < args.min_score):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
