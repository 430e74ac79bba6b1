"""``python -m analysis TRANSACTIONS_CSV [--auth-codes CSV] [--out thresholds.json] [--report report.html] [--until T]
[--feedback monitor.db|postgresql://...|labels.json]``.

Learns what normal looks like from the exports, prints a short summary, and writes the thresholds
file the monitor reads (with provenance) and, if asked, a self-contained HTML report.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from analysis.feedback import FeedbackError, load_feedback
from analysis.incidents import drivers_text, find_incidents, kind_words, last_minute
from analysis.learn import LearnError, LearnOptions, learn
from analysis.learn_slices import thresholds_config, write_config
from analysis.loading import LoadError, load_history
from analysis.progress import progress_for
from analysis.report import write_report
from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES, metric_label, minute_to_iso
from detection.rules import ConfigError


def _names(text: str | None, default: Sequence[str]) -> tuple[str, ...]:
    if not text:
        return tuple(default)
    extra = [name.strip() for name in text.split(",") if name.strip()]
    return tuple(dict.fromkeys([*default, *extra]))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f} s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Learn baselines and alert thresholds from transactions.csv (and transactions_auth_codes.csv).")
    parser.add_argument("transactions", type=Path, help="transactions.csv: timestamp,status,count")
    parser.add_argument("--auth-codes", type=Path, help="transactions_auth_codes.csv: timestamp,auth_code,count")
    parser.add_argument("--out", type=Path, default=Path("thresholds.json"),
                        help="thresholds file to write (default thresholds.json)")
    parser.add_argument("--report", type=Path, help="also write this self-contained HTML report")
    parser.add_argument("--until", help="learn only from rows up to this timestamp (inclusive)")
    parser.add_argument("--budget", type=float, default=1.0,
                        help="false alerts allowed per metric per week on normal data (default 1)")
    parser.add_argument("--no-profile", action="store_true",
                        help="no hour-of-day levels: volume-free rules only (how the built-in defaults are made)")
    parser.add_argument("--statuses", help="extra statuses the export may contain, comma-separated")
    parser.add_argument("--auth-code-list", dest="extra_codes", help="extra auth codes, comma-separated")
    parser.add_argument("--feedback",
                        help="the monitor's store (its SQLite file or PostgreSQL URL), or a labels file (GET /api/incidents/labels saved as JSON): "
                             "incidents labelled expected are left out of learning, false alarms are counted")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.budget <= 0:
        parser.error("--budget: expected a positive number of false alerts per week")
    # Progress goes to stderr (a bar on a terminal, lines otherwise); stdout keeps the summary.
    steps = 4 if args.report else 3
    try:
        started = time.monotonic()
        history = load_history(args.transactions, args.auth_codes,
                               statuses=_names(args.statuses, DEFAULT_STATUSES),
                               codes=_names(args.extra_codes, DEFAULT_AUTH_CODES), until=args.until)
        rows = history.status.rows + (history.auth.rows if history.auth else 0)
        _say(f"analysis [1/{steps}] read {rows:,} rows, {history.minutes:,} minutes, in {_since(started)}")
        feedback = load_feedback(args.feedback) if args.feedback is not None else None
        started = time.monotonic()
        analysis = learn(history, LearnOptions(false_alerts_per_week=args.budget, hourly_profile=not args.no_profile,
                                               excluded=feedback.excluded_periods() if feedback else ()))
        _say(f"analysis [2/{steps}] learned {len(analysis.thresholds.rules)} rules in {_since(started)}")
        with progress_for(f"analysis [3/{steps}] finding incidents", history.minutes, "minutes", _say,
                          short="min") as progress:
            incidents = find_incidents(analysis, progress.advance)
        config, sliced = thresholds_config(analysis)
        write_config(config, args.out)
        report = None
        if args.report:
            started = time.monotonic()
            said = [feedback.sentence(analysis.thresholds.provenance["excluded_minutes"])] if feedback else []
            report = write_report(analysis, incidents, args.report, said)
            _say(f"analysis [4/{steps}] wrote {report} in {_since(started)}")
    except (LoadError, LearnError, ConfigError, FeedbackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 2

    start, end = history.time_range()
    print(f"Learned from {history.minutes:,} minutes ({start} to {end}), "
          f"{int(analysis.clean.sum()):,} of them normal; budget {args.budget:g} false alert/metric/week.")
    if feedback is not None:
        print(feedback.sentence(analysis.thresholds.provenance["excluded_minutes"]))
    print(f"{'metric':<34} {'baseline':>16}  {'dispersion':<38} rule")
    for metric, baseline in analysis.baselines.items():
        level = (f"{(baseline.share or 0) * 100:.2f}%" if metric.startswith("rate:")
                 else f"{baseline.mean:.2f}/min")
        rule = baseline.rule
        print(f"{metric_label(metric):<34} {level:>16}  {baseline.dispersion:<38} "
              f"{rule.condition_text() + f' (for {rule.for_minutes}, resolve {rule.resolve_minutes})' if rule else '-'}")
    print(f"Rules learned: {len(analysis.thresholds.rules)}")
    for rule in analysis.thresholds.rules:
        print(f"  {rule.id:<24} {rule.condition_text()} (for {rule.for_minutes}, resolve {rule.resolve_minutes})")
    # As the engine grouped and named them (the same incidents the monitor would have opened live).
    if sliced.dimensions:
        print("Dimensions (label columns): " + ", ".join(f"{name} (up to {d['max_values']} values)"
                                                           for name, d in sliced.dimensions.items()))
        print(f"Per-slice rules learned: {len(sliced.rules)}")
        for sliced_rule in sliced.rules:
            print(f"  {sliced_rule['id']:<28} {len(sliced_rule['slices'])} slices, p {sliced_rule['p_value']:.2e}, "
                  f"{sliced_rule['min_count']}+ in {sliced_rule['window']} min: {sliced.why[sliced_rule['id']]}")
    print(f"Incidents found in the history: {len(incidents)}")
    last = last_minute(analysis)
    for found in incidents:
        incident = found.incident
        minutes = found.end(last) - incident.started_at + 1
        print(f"  {minute_to_iso(incident.started_at)}  {minutes:>4} min  {incident.title} "
              f"[{kind_words(incident.kind)}; drivers {drivers_text(incident.drivers)}]")
    print(f"Wrote {args.out}" + (f" and {report}" if report else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
