"""Detection-quality evaluation: labelled synthetic data replayed through the real Monitor, scored per incident kind.

``python -m analysis.evaluate`` generates 14 days (with and without a daily volume cycle), learns
thresholds from the first 7 days, replays the last 7 minute by minute through ``Monitor`` and
prints, per thresholds set (learned on the first 7 days, learned on all 14, the built-in defaults
and a naive mean + 2 sigma analysis): recall per incident kind, false alert episodes per day over
all metrics, and detection delay (median and max, minutes).

An episode counts for an incident when it starts between 3 minutes before the incident and
``MATCH_AFTER`` minutes after its end (window rules keep breaching while the window drains);
feed outages count only feed alerts (``no_data``, ``feed_gap``), other kinds only metric alerts.
Detection delay is the wall-clock minute in which the alert fired, minus the minute in which the
incident's first minute of data arrived (0 = fired as soon as that first minute was closed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from analysis.learn import LearnOptions, learn, naive_thresholds
from analysis.loading import history_from_rows
from analysis.progress import Progress
from analysis.replay import Episode, replay, rows_by_minute, validate_minutes
from analysis.synthetic import INCIDENT_KINDS, Incident, generate
from detection.thresholds import Thresholds, load_thresholds, parse_thresholds

MATCH_BEFORE = 3
MATCH_AFTER = 10
DEFAULT_START = 29_188_800  # 2025-07-01 00:00 UTC
TARGET_RECALL = 0.95
TARGET_FALSE_PER_DAY = 1.0
TARGET_MEDIAN_DELAY = 2.0


@dataclass
class KindScore:
    kind: str
    incidents: int
    detected: int
    delays: list[int]

    @property
    def recall(self) -> float:
        return self.detected / self.incidents if self.incidents else float("nan")

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def max_delay(self) -> int | None:
        return max(self.delays) if self.delays else None


@dataclass
class Score:
    name: str
    daily_cycle: bool
    days: float
    kinds: dict[str, KindScore]
    false_episodes: list[Episode]
    episodes: int
    missed: list[Incident] = field(default_factory=list)

    @property
    def false_per_day(self) -> float:
        return len(self.false_episodes) / self.days

    @property
    def all_delays(self) -> list[int]:
        return [d for k in self.kinds.values() for d in k.delays]

    @property
    def median_delay(self) -> float | None:
        delays = self.all_delays
        return statistics.median(delays) if delays else None

    def meets_targets(self) -> bool:
        kinds = [k for k in self.kinds.values() if k.incidents]
        return (all(k.recall >= TARGET_RECALL for k in kinds)
                and self.false_per_day <= TARGET_FALSE_PER_DAY
                and all(k.median_delay is not None and k.median_delay <= TARGET_MEDIAN_DELAY for k in kinds))

    def to_dict(self) -> dict:
        return {
            "thresholds": self.name, "daily_cycle": self.daily_cycle, "days_scored": self.days,
            "false_episodes_per_day": round(self.false_per_day, 3), "episodes": self.episodes,
            "median_delay": self.median_delay, "meets_targets": self.meets_targets(),
            "kinds": {k: {"incidents": s.incidents, "detected": s.detected, "recall": s.recall,
                          "median_delay": s.median_delay, "max_delay": s.max_delay} for k, s in self.kinds.items()},
        }


def score(name: str, daily_cycle: bool, incidents: Sequence[Incident], episodes: Sequence[Episode],
          days: float) -> Score:
    kinds = {kind: KindScore(kind, 0, 0, []) for kind in INCIDENT_KINDS}
    matched: set[str] = set()
    missed = []
    for incident in incidents:
        entry = kinds[incident.kind]
        entry.incidents += 1
        feed_kind = incident.kind == "feed_outage"
        hits = [e for e in episodes
                if incident.start_minute - MATCH_BEFORE <= e.started_at <= incident.end_minute + MATCH_AFTER
                and e.metric.startswith("feed:") == feed_kind]
        # Episodes of any kind that overlap an incident are its side effects, not false alarms.
        matched.update(e.alert_id for e in episodes
                       if incident.start_minute - MATCH_BEFORE <= e.started_at <= incident.end_minute + MATCH_AFTER)
        if hits:
            entry.detected += 1
            first_seen = incident.start_minute + 1  # wall minute in which its first minute was closed
            entry.delays.append(max(0, min(e.fired_minute for e in hits) - first_seen))
        else:
            missed.append(incident)
    false = [e for e in episodes if e.alert_id not in matched]
    return Score(name, daily_cycle, days, kinds, false, len(episodes), missed)


def _round_trip(thresholds: Thresholds, name: str) -> Thresholds:
    """Through the file format, exactly as the engine would read what the CLI writes."""
    return parse_thresholds(json.loads(json.dumps(thresholds.to_config())), name)


def evaluate_one(daily_cycle: bool, days: int = 14, train_days: int = 7, seed: int = 0,
                 incidents_per_day: float = 6.0, options: LearnOptions | None = None,
                 sets: Sequence[str] = ("learned-first", "learned-all", "defaults", "naive"),
                 progress: bool = False) -> list[Score]:
    """Generate, learn and replay for one traffic shape; one Score per thresholds set.

    ``progress``: a line on stderr after each replayed set (lines, not a bar: the shapes run in two processes).
    """
    start = DEFAULT_START
    data = generate(start, days * 1440, seed, daily_cycle=daily_cycle, incidents_per_day=incidents_per_day)
    split = start + train_days * 1440
    train = history_from_rows(data.status_rows, data.auth_rows, until=split - 1)
    everything = history_from_rows(data.status_rows, data.auth_rows) if "learned-all" in sets else None
    candidates: dict[str, Thresholds] = {}
    if "learned-first" in sets:
        candidates[f"learned on first {train_days} days"] = learn(train, options).thresholds
    if everything is not None:
        candidates[f"learned on all {days} days"] = learn(everything, options).thresholds
    if "defaults" in sets:
        candidates["built-in defaults"] = load_thresholds()
    if "naive" in sets:
        candidates["naive mean+2 sigma (first days)"] = naive_thresholds(train)
    test_minutes = (days - train_days) * 1440
    first = next(iter(candidates.values()))
    minutes = validate_minutes(rows_by_minute(data.status_rows, data.auth_rows, split, test_minutes),
                               first.statuses, first.auth_codes)
    test_incidents = [i for i in data.incidents if i.start_minute >= split]
    scores = []
    shape = "daily cycle" if daily_cycle else "flat volume"
    done = Progress(f"evaluate, {shape}", len(candidates), "thresholds sets replayed", _stderr_line,
                    short="sets", per="min", every_fraction=1 / len(candidates)) if progress else None
    for name, thresholds in candidates.items():
        episodes = replay(_round_trip(thresholds, name), minutes)
        scores.append(score(name, daily_cycle, test_incidents, episodes, test_minutes / 1440))
        if done is not None:
            done.advance()
    return scores


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def evaluate(cycles: Sequence[bool] = (False, True), parallel: bool = True, **kwargs) -> list[Score]:
    if parallel and len(cycles) > 1:
        with ProcessPoolExecutor(max_workers=min(2, len(cycles))) as pool:
            futures = [pool.submit(evaluate_one, cycle, **kwargs) for cycle in cycles]
            return [s for f in futures for s in f.result()]
    return [s for cycle in cycles for s in evaluate_one(cycle, **kwargs)]


def _fmt_delay(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def format_report(scores: Sequence[Score]) -> str:
    lines = []
    for s in scores:
        cycle = "with daily cycle" if s.daily_cycle else "flat volume"
        lines.append(f"\n{s.name}, {cycle}: {s.episodes} alert episodes, "
                     f"{s.false_per_day:.2f} false episodes/day over all metrics"
                     f" -> {'meets' if s.meets_targets() else 'MISSES'} the targets")
        lines.append(f"  {'kind':<20} {'incidents':>9} {'recall':>7} {'median delay':>13} {'max delay':>10}")
        for k in s.kinds.values():
            lines.append(f"  {k.kind:<20} {k.incidents:>9} {k.recall:>7.2f} {_fmt_delay(k.median_delay):>13} "
                         f"{_fmt_delay(k.max_delay):>10}")
    lines.append("")
    lines.append(summary_table(scores))
    return "\n".join(lines)


def summary_table(scores: Sequence[Score]) -> str:
    """A Markdown table (one row per thresholds set and traffic shape), as pasted into the README."""
    short = {"denial_51": "51", "denial_59": "59", "denial_both": "both", "processing_failure": "fail",
             "reversal_burst": "rev", "feed_outage": "outage"}
    head = ("| thresholds | daily cycle | recall " + " / ".join(short[k] for k in INCIDENT_KINDS)
            + " | false episodes/day | median delay (min) | max delay (min) | targets |")
    rows = [head, "|" + "---|" * 7]
    for s in scores:
        recalls = " / ".join(f"{s.kinds[k].recall:.2f}" for k in INCIDENT_KINDS)
        delays = s.all_delays
        rows.append(f"| {s.name} | {'yes' if s.daily_cycle else 'no'} | {recalls} | {s.false_per_day:.2f} | "
                    f"{_fmt_delay(s.median_delay)} | {_fmt_delay(max(delays) if delays else None)} | "
                    f"{'met' if s.meets_targets() else 'missed'} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14, help="days of synthetic data (default 14)")
    parser.add_argument("--train-days", type=int, default=7, help="days to learn from (default 7)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--incidents-per-day", type=float, default=6.0)
    parser.add_argument("--budget", type=float, default=1.0,
                        help="false alerts per metric per week the learned thresholds allow (default 1)")
    parser.add_argument("--cycle", choices=("both", "on", "off"), default="both", help="daily volume cycle")
    parser.add_argument("--json", type=Path, help="also write the scores as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.train_days < args.days:
        parser.error("--train-days must be between 0 and --days")
    cycles = {"both": (False, True), "on": (True,), "off": (False,)}[args.cycle]
    scores = evaluate(cycles, days=args.days, train_days=args.train_days, seed=args.seed,
                      incidents_per_day=args.incidents_per_day,
                      options=LearnOptions(false_alerts_per_week=args.budget), progress=True)
    print(format_report(scores))
    if args.json:
        args.json.write_text(json.dumps([s.to_dict() for s in scores], indent=2) + "\n", encoding="utf-8")
    learned = [s for s in scores if s.name.startswith("learned on first")]
    return 0 if learned and all(s.meets_targets() for s in learned) else 1


if __name__ == "__main__":
    sys.exit(main())
