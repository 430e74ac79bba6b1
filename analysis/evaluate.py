"""Detection-quality evaluation: labelled synthetic data replayed through the real Monitor, scored per incident kind.

``python -m analysis.evaluate`` generates 14 days (with and without a daily volume cycle), learns
thresholds from the first 7 days, replays the last 7 minute by minute through ``Monitor`` and
prints, per thresholds set (learned on the first 7 days, learned on all 14, the built-in defaults
and a naive mean + 2 sigma analysis): recall per incident kind, false alert episodes per day over
all metrics, and detection delay (median and max, minutes). Beside them, the 10-day daily-rhythm
set (strong cycle, weekends, over-dispersed, every incident kind; ``evaluate_rhythm``): learned on
its first 7 days, judged on the last 3.

Incidents are the engine's own: the replay collects the ``Monitor``'s incidents (``IncidentTracker``),
with the kind, drivers and member alerts it gave them; nothing here groups alerts. An alert episode
matches a labelled incident when it starts between 3 minutes before the incident and ``MATCH_AFTER``
minutes after its end (window rules keep breaching while the window drains); an engine incident
matches a labelled one when one of its member alerts does. A labelled incident is found when an
engine incident with a matching member of the right sort matches it (feed outages: a feed alert,
``no_data`` or ``feed_gap``; other kinds: a metric alert). Per labelled incident:

- delay: the wall-clock minute in which the first such engine incident opened (its first member
  fired), minus the minute in which the incident's first minute of data arrived (0 = as soon as
  that first minute was closed);
- kind named: that incident's ``kind`` against ``EXPECTED_KIND`` of the label;
- driving code named (denial kinds): the first matching ``denial_spike`` incident's ``drivers``
  read by ``analysis.incidents.named_code`` ("both" when codes 51 and 59 each carry >= 25% of the
  excess: the generator puts 100% on one code or 50% on each);
- incidents per real incident: how many engine incidents match it.

An engine incident matching no labelled incident is a false incident.
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

from analysis.incidents import named_code
from analysis.learn import LearnOptions, learn, naive_thresholds
from analysis.loading import history_from_rows
from analysis.progress import Progress
from analysis.replay import EngineIncident, Episode, replay_run, rows_by_minute, validate_minutes
from analysis.synthetic import ALL_KINDS, INCIDENT_KINDS, Incident, generate
from detection.incidents import (
    APPROVAL_DROP,
    DENIAL_SPIKE,
    FEED_OUTAGE,
    PARTIAL_OUTAGE,
    PROCESSING_FAILURE,
    REVERSAL_BURST,
)
from detection.thresholds import Thresholds, load_thresholds, parse_thresholds

MATCH_BEFORE = 3
MATCH_AFTER = 10
DEFAULT_START = 29_188_800  # 2025-07-01 00:00 UTC
# The daily-rhythm set starts on a Friday: 7 days learned (one weekend in them), then Friday, Saturday and
# Sunday judged, so the weekday-to-weekend change and a weekend night are judged too.
RHYTHM_START = DEFAULT_START + 3 * 1440  # 2025-07-04 00:00 UTC, a Friday
RHYTHM_DAYS = 10
RHYTHM_TRAIN_DAYS = 7
RHYTHM_INCIDENTS_PER_DAY = 8.0
# Incident-level targets (issue 9): incidents per real incident, false incidents a day, delays per kind.
TARGET_INCIDENTS_PER_REAL = 1.2
TARGET_FALSE_INCIDENTS_PER_DAY = 1 / 3
TARGET_KIND_MEDIAN_DELAY = 1.0
TARGET_KIND_MAX_DELAY = 5
# The engine kind an analyst should be told for each labelled kind.
EXPECTED_KIND = {"denial_51": DENIAL_SPIKE, "denial_59": DENIAL_SPIKE, "denial_both": DENIAL_SPIKE,
                 "night_denial": DENIAL_SPIKE, "denial_ramp": DENIAL_SPIKE, "processing_failure": PROCESSING_FAILURE,
                 "reversal_burst": REVERSAL_BURST, "feed_outage": FEED_OUTAGE, "approval_drop": APPROVAL_DROP,
                 "partial_outage": PARTIAL_OUTAGE}
TARGET_RECALL = 0.95
TARGET_FALSE_PER_DAY = 1.0
TARGET_MEDIAN_DELAY = 2.0


@dataclass
class KindScore:
    kind: str
    incidents: int
    detected: int
    delays: list[int]  # per found incident: the engine incident opened, minutes after the first minute was in
    before_peak: int = 0  # detected no later than the minute after the incident's worst minute (ramps)
    named: dict[str, int] = field(default_factory=dict)  # engine kind of the incident that paged -> how often

    @property
    def named_right(self) -> int:
        return self.named.get(EXPECTED_KIND[self.kind], 0)

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
    shape: str = ""  # "flat volume", "daily cycle", "daily rhythm (10 days)"
    engine_incidents: int = 0  # the Monitor's incidents over the judged days
    per_real: list[int] = field(default_factory=list)  # per found real incident: how many engine incidents
    false_incidents: int = 0
    drivers_right: int = 0
    drivers_judged: int = 0  # denial incidents found, whose driving code is checked

    @property
    def incidents_per_real(self) -> float | None:
        return statistics.mean(self.per_real) if self.per_real else None

    @property
    def kinds_right(self) -> int:
        return sum(k.named_right for k in self.kinds.values())

    @property
    def kinds_judged(self) -> int:
        return sum(k.detected for k in self.kinds.values())

    def confusion(self) -> dict[str, dict[str, int]]:
        """Per labelled kind, the engine kinds named other than the expected one (and how often)."""
        return {k: {named: n for named, n in sorted(entry.named.items()) if named != EXPECTED_KIND[k]}
                for k, entry in self.kinds.items()
                if any(named != EXPECTED_KIND[k] for named in entry.named)}

    @property
    def false_incidents_per_day(self) -> float:
        return self.false_incidents / self.days

    @property
    def driver_share_right(self) -> float | None:
        return self.drivers_right / self.drivers_judged if self.drivers_judged else None

    def meets_incident_targets(self) -> bool:
        """Issue 9: every incident found, <= 1.2 incidents per real one, <= 1 false incident per 3 days,
        every denial's driving code named, median delay <= 1 and max <= 5 minutes for every kind (a slow
        ramp: fired before its top)."""
        kinds = [k for k in self.kinds.values() if k.incidents]
        return (all(k.detected == k.incidents for k in kinds)
                and (self.incidents_per_real or 0) <= TARGET_INCIDENTS_PER_REAL
                and self.false_incidents_per_day <= TARGET_FALSE_INCIDENTS_PER_DAY + 1e-9
                and (self.driver_share_right is None or self.driver_share_right == 1.0)
                and all(k.before_peak == k.detected if k.kind == "denial_ramp"
                        else k.median_delay is not None and k.median_delay <= TARGET_KIND_MEDIAN_DELAY
                        and (k.max_delay or 0) <= TARGET_KIND_MAX_DELAY for k in kinds))

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
        """Recall, false episodes a day and median delay per kind; a ramp's delay target is to fire before its top."""
        kinds = [k for k in self.kinds.values() if k.incidents]
        return (all(k.recall >= TARGET_RECALL for k in kinds)
                and self.false_per_day <= TARGET_FALSE_PER_DAY
                and all(k.before_peak == k.detected if k.kind == "denial_ramp"
                        else k.median_delay is not None and k.median_delay <= TARGET_MEDIAN_DELAY for k in kinds))

    def to_dict(self) -> dict:
        return {
            "thresholds": self.name, "daily_cycle": self.daily_cycle, "days_scored": self.days,
            "false_episodes_per_day": round(self.false_per_day, 3), "episodes": self.episodes,
            "median_delay": self.median_delay, "meets_targets": self.meets_targets(), "shape": self.shape,
            "kinds": {k: {"incidents": s.incidents, "detected": s.detected, "recall": s.recall,
                          "median_delay": s.median_delay, "max_delay": s.max_delay, "before_peak": s.before_peak,
                          "kinds_named": dict(sorted(s.named.items()))}
                      for k, s in self.kinds.items()},
            "incidents": {"engine_incidents": self.engine_incidents, "per_real_incident": self.incidents_per_real,
                          "false_per_day": round(self.false_incidents_per_day, 3),
                          "driver_named_right": self.driver_share_right,
                          "kind_named_right": f"{self.kinds_right}/{self.kinds_judged}",
                          "meets_targets": self.meets_incident_targets()},
        }


def _matches(incident: Incident, episode: Episode) -> bool:
    return incident.start_minute - MATCH_BEFORE <= episode.started_at <= incident.end_minute + MATCH_AFTER


def score(name: str, daily_cycle: bool, incidents: Sequence[Incident], episodes: Sequence[Episode],
          days: float, kinds_scored: Sequence[str] = INCIDENT_KINDS, shape: str = "",
          engine: Sequence[EngineIncident] = ()) -> Score:
    """Per labelled incident, how the engine's incidents (``engine``, with their member ``episodes``) met it;
    alert episodes matching no labelled incident are false episodes."""
    kinds = {kind: KindScore(kind, 0, 0, []) for kind in kinds_scored}
    members: dict[str, list[Episode]] = {}
    for episode in episodes:
        members.setdefault(episode.incident_id or "", []).append(episode)
    matched_episodes: set[str] = set()
    matched_incidents: set[str] = set()
    missed = []
    per_real: list[int] = []
    drivers_right = drivers_judged = 0
    for incident in incidents:
        entry = kinds[incident.kind]
        entry.incidents += 1
        feed_kind = incident.kind == "feed_outage"
        # Episodes of any kind that overlap an incident are its side effects, not false alarms.
        matched_episodes.update(e.alert_id for e in episodes if _matches(incident, e))
        mine = [i for i in engine if any(_matches(incident, e) for e in members.get(i.id, ()))]
        matched_incidents.update(i.id for i in mine)
        found = [i for i in mine if any(_matches(incident, e) and e.metric.startswith("feed:") == feed_kind
                                        for e in members.get(i.id, ()))]
        if not found:
            missed.append(incident)
            continue
        per_real.append(len(mine))
        entry.detected += 1
        paged = min(found, key=lambda i: (i.opened_wall, i.id))
        first_seen = incident.start_minute + 1  # wall minute in which its first minute was closed
        entry.delays.append(max(0, paged.opened_minute - first_seen))
        entry.before_peak += paged.opened_minute <= incident.peak_minute + 1
        entry.named[paged.kind] = entry.named.get(paged.kind, 0) + 1
        wanted = incident.driving_code
        if wanted is not None:
            drivers_judged += 1
            denial = [i for i in found if i.kind == DENIAL_SPIKE]
            judged = min(denial, key=lambda i: (i.opened_wall, i.id)) if denial else paged
            drivers_right += named_code(judged.incident.drivers) == wanted
    false = [e for e in episodes if e.alert_id not in matched_episodes]
    result = Score(name, daily_cycle, days, kinds, false, len(episodes), missed, shape=shape)
    result.engine_incidents = len(engine)
    result.per_real = per_real
    result.false_incidents = sum(1 for i in engine if i.id not in matched_incidents)
    result.drivers_right, result.drivers_judged = drivers_right, drivers_judged
    return result



def _round_trip(thresholds: Thresholds, name: str) -> Thresholds:
    """Through the file format, exactly as the engine would read what the CLI writes."""
    return parse_thresholds(json.loads(json.dumps(thresholds.to_config())), name)


def evaluate_one(daily_cycle: bool, days: int = 14, train_days: int = 7, seed: int = 0,
                 incidents_per_day: float = 6.0, options: LearnOptions | None = None,
                 sets: Sequence[str] = ("learned-first", "learned-all", "defaults", "naive"),
                 progress: bool = False, rhythm: bool = False) -> list[Score]:
    """Generate, learn and replay for one traffic shape; one Score per thresholds set.

    ``rhythm``: the daily-rhythm set (strong cycle, weekends, over-dispersed, all incident kinds) from a
    Friday. ``progress``: a line on stderr after each replayed set (lines, not a bar: shapes run in parallel).
    """
    start = RHYTHM_START if rhythm else DEFAULT_START
    data = generate(start, days * 1440, seed, daily_cycle=daily_cycle, incidents_per_day=incidents_per_day,
                    rhythm=rhythm)
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
    rows = rows_by_minute(data.status_rows, data.auth_rows, split, test_minutes)
    minutes = validate_minutes(rows, first.statuses, first.auth_codes)
    test_incidents = [i for i in data.incidents if i.start_minute >= split]
    scores = []
    shape = f"daily rhythm ({days} days)" if rhythm else "daily cycle" if daily_cycle else "flat volume"
    done = Progress(f"evaluate, {shape}", len(candidates), "thresholds sets replayed", _stderr_line,
                    short="sets", per="min", every_fraction=1 / len(candidates)) if progress else None
    for name, thresholds in candidates.items():
        run = replay_run(_round_trip(thresholds, name), minutes)
        scores.append(score(name, daily_cycle, test_incidents, run.episodes, test_minutes / 1440,
                            ALL_KINDS if rhythm else INCIDENT_KINDS, shape, run.incidents))
        if done is not None:
            done.advance()
    return scores


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def evaluate_rhythm(seed: int = 0, options: LearnOptions | None = None,
                    sets: Sequence[str] = ("learned-first", "defaults", "naive"), progress: bool = False,
                    days: int = RHYTHM_DAYS, train_days: int = RHYTHM_TRAIN_DAYS,
                    incidents_per_day: float = RHYTHM_INCIDENTS_PER_DAY) -> list[Score]:
    """The 10-day daily-rhythm set: learn on the first 7 days, judge the last 3 (a Friday and a weekend)."""
    return evaluate_one(True, days=days, train_days=train_days, seed=seed, incidents_per_day=incidents_per_day,
                        options=options, sets=sets, progress=progress, rhythm=True)


def merge_scores(parts: Sequence[Score]) -> Score:
    """One thresholds set's scores over several generated sets (seeds) as one: counts and delays pooled."""
    first = parts[0]
    kinds = {k: KindScore(k, 0, 0, []) for k in first.kinds}
    for part in parts:
        for k, entry in part.kinds.items():
            pooled = kinds[k]
            pooled.incidents += entry.incidents
            pooled.detected += entry.detected
            pooled.delays += entry.delays
            pooled.before_peak += entry.before_peak
            for named, n in entry.named.items():
                pooled.named[named] = pooled.named.get(named, 0) + n
    merged = Score(first.name, first.daily_cycle, sum(p.days for p in parts), kinds,
                   [e for p in parts for e in p.false_episodes], sum(p.episodes for p in parts),
                   [m for p in parts for m in p.missed], shape=first.shape)
    merged.engine_incidents = sum(p.engine_incidents for p in parts)
    merged.per_real = [g for p in parts for g in p.per_real]
    merged.false_incidents = sum(p.false_incidents for p in parts)
    merged.drivers_right = sum(p.drivers_right for p in parts)
    merged.drivers_judged = sum(p.drivers_judged for p in parts)
    return merged


def evaluate_rhythm_seeds(seeds: Sequence[int], **kwargs) -> list[Score]:
    """``evaluate_rhythm`` for each seed (another 10 days each), pooled per thresholds set."""
    runs = [evaluate_rhythm(seed=seed, **kwargs) for seed in seeds]
    pooled = [merge_scores([run[i] for run in runs]) for i in range(len(runs[0]))]
    if len(seeds) > 1:
        for score_ in pooled:
            score_.shape = f"daily rhythm (10 days x {len(seeds)} seeds)"
    return pooled


def evaluate(cycles: Sequence[bool] = (False, True), parallel: bool = True, rhythm: bool = False,
             rhythm_seeds: int = 1, **kwargs) -> list[Score]:
    """Each traffic shape in ``cycles`` (and the rhythm set when asked: seeds ``seed`` .. ``seed +
    rhythm_seeds - 1``, pooled), two at a time in processes."""
    rhythm_kwargs = {k: v for k, v in kwargs.items() if k in ("options", "progress")}
    first_seed = kwargs.get("seed", 0)
    jobs: list[tuple] = [(evaluate_one, (cycle,), kwargs) for cycle in cycles]
    if rhythm:
        jobs.append((evaluate_rhythm_seeds, (range(first_seed, first_seed + rhythm_seeds),), rhythm_kwargs))
    if parallel and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(fn, *args, **kw) for fn, args, kw in jobs]
            return [s for f in futures for s in f.result()]
    return [s for fn, args, kw in jobs for s in fn(*args, **kw)]


def _fmt_delay(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def format_report(scores: Sequence[Score]) -> str:
    lines = []
    for s in scores:
        shape = s.shape or ("daily cycle" if s.daily_cycle else "flat volume")
        lines.append(f"\n{s.name}, {shape}: {s.episodes} alert episodes, "
                     f"{s.false_per_day:.2f} false episodes/day over all metrics"
                     f" -> {'meets' if s.meets_targets() else 'MISSES'} the targets")
        lines.append(f"  {'kind':<20} {'incidents':>9} {'recall':>7} {'median delay':>13} {'max delay':>10}")
        for k in s.kinds.values():
            if not k.incidents and k.kind in RHYTHM_ONLY:
                continue
            peak = f"  (fired before its top: {k.before_peak} of {k.detected})" if k.kind == "denial_ramp" else ""
            lines.append(f"  {k.kind:<20} {k.incidents:>9} {k.recall:>7.2f} {_fmt_delay(k.median_delay):>13} "
                         f"{_fmt_delay(k.max_delay):>10}{peak}")
        lines.append(f"  the engine's incidents: {s.engine_incidents}, "
                     f"{_fmt_ratio(s.incidents_per_real)} per real incident, {s.false_incidents} false "
                     f"({s.false_incidents_per_day:.2f}/day), driving code named right in "
                     f"{s.drivers_right} of {s.drivers_judged} denial incidents, kind named right in "
                     f"{s.kinds_right} of {s.kinds_judged}"
                     f" -> {'meets' if s.meets_incident_targets() else 'MISSES'} the incident targets")
        confusion = s.confusion()
        if confusion:
            lines.append("  kinds named otherwise: " + "; ".join(
                f"{kind} as " + ", ".join(f"{named} {n}x" for named, n in named_as.items())
                for kind, named_as in confusion.items()))
    others = [s for s in scores if not s.shape.startswith("daily rhythm")]
    if others:
        lines.append("")
        lines.append(summary_table(others))
    rhythm = [s for s in scores if s.shape.startswith("daily rhythm")]
    if rhythm:
        lines.append("")
        lines.append(rhythm_table(rhythm))
    return "\n".join(lines)


RHYTHM_ONLY = frozenset(ALL_KINDS) - frozenset(INCIDENT_KINDS)
SHORT_KIND = {"denial_51": "51", "denial_59": "59", "denial_both": "both", "processing_failure": "fail",
              "reversal_burst": "rev", "feed_outage": "outage", "night_denial": "night", "denial_ramp": "ramp",
              "approval_drop": "drop", "partial_outage": "partial"}


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_table(scores: Sequence[Score]) -> str:
    """A Markdown table (one row per thresholds set and traffic shape), as pasted into the README."""
    head = ("| thresholds | daily cycle | recall " + " / ".join(SHORT_KIND[k] for k in INCIDENT_KINDS)
            + " | false episodes/day | median delay (min) | max delay (min) | targets |")
    rows = [head, "|" + "---|" * 7]
    for s in scores:
        recalls = " / ".join(f"{s.kinds[k].recall:.2f}" for k in INCIDENT_KINDS)
        delays = s.all_delays
        rows.append(f"| {s.name} | {'yes' if s.daily_cycle else 'no'} | {recalls} | {s.false_per_day:.2f} | "
                    f"{_fmt_delay(s.median_delay)} | {_fmt_delay(max(delays) if delays else None)} | "
                    f"{'met' if s.meets_targets() else 'missed'} |")
    return "\n".join(rows)


def rhythm_table(scores: Sequence[Score]) -> str:
    """The daily-rhythm set in Markdown: per kind found/incidents and median/max delay, then incident figures."""
    kinds = [k for k in ALL_KINDS if any(s.kinds[k].incidents for s in scores)]
    head = ("| thresholds (rhythm set, last 3 days) | " + " | ".join(SHORT_KIND[k] for k in kinds)
            + " | false episodes/day | incidents per real | false incidents/day | driver right | kind right"
            " | incident targets |")
    rows = [head, "|" + "---|" * (len(kinds) + 7)]
    for s in scores:
        cells = []
        for k in kinds:
            entry = s.kinds[k]
            cells.append(f"{entry.detected}/{entry.incidents}, {_fmt_delay(entry.median_delay)}/"
                         f"{_fmt_delay(entry.max_delay)} min")
        driver = f"{s.drivers_right}/{s.drivers_judged}"
        rows.append(f"| {s.name} | " + " | ".join(cells) + f" | {s.false_per_day:.2f} | "
                    f"{_fmt_ratio(s.incidents_per_real)} | {s.false_incidents_per_day:.2f} | {driver} | "
                    f"{s.kinds_right}/{s.kinds_judged} | {'met' if s.meets_incident_targets() else 'missed'} |")
    rows.append("")
    rows.append("Cells: found/incidents, median/max delay in minutes from the labelled start to the minute the "
                "engine's incident opened (ramps: from the start of a one-hour ramp; the target there is to fire "
                "before its top). Judged days: " + ", ".join(f"{s.name} {s.days:g}" for s in scores[:1]) + ".")
    for s in scores:
        confusion = s.confusion()
        if confusion:
            rows.append(f"Kinds named otherwise ({s.name}): " + "; ".join(
                f"{SHORT_KIND[kind]} as " + ", ".join(f"{named} {n}x" for named, n in named_as.items())
                for kind, named_as in confusion.items()) + ".")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14,
                        help="days of synthetic data (default 14; the rhythm set is always 10 days, 7 learned)")
    parser.add_argument("--train-days", type=int, default=7, help="days to learn from (default 7)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--incidents-per-day", type=float, default=6.0)
    parser.add_argument("--budget", type=float, default=1.0,
                        help="false alerts per metric per week the learned thresholds allow (default 1)")
    parser.add_argument("--cycle", choices=("all", "both", "on", "off", "rhythm"), default="all",
                        help="traffic shapes: all (default: flat, daily cycle and the 10-day daily-rhythm set), "
                             "both (flat and daily cycle), on, off, or rhythm alone")
    parser.add_argument("--rhythm-seeds", type=int, default=1,
                        help="daily-rhythm sets to pool (seeds --seed, --seed + 1, ...; 3 judged days each; default 1)")
    parser.add_argument("--json", type=Path, help="also write the scores as JSON")
    parser.add_argument("--slices", action="store_true",
                        help="the labelled evaluation instead (analysis.evaluate_slices): 7 labelled days, per-slice "
                             "rules learned on the first 4, the last 3 replayed; at 1,000 and 125 transactions/min")
    parser.add_argument("--rates", default="1000,125", help="with --slices: volumes (transactions/min), comma-separated")
    args = parser.parse_args(argv)
    if args.slices:
        from analysis.evaluate_slices import DAYS, TRAIN_DAYS, main_slices

        try:
            rates = [float(r) for r in args.rates.split(",") if r.strip()]
        except ValueError:
            parser.error(f"--rates: expected numbers separated by commas, got {args.rates!r}")
        if not rates or any(r <= 0 for r in rates):
            parser.error("--rates: expected positive numbers of transactions a minute")
        days = args.days if args.days != 14 else DAYS
        train = args.train_days if args.train_days != 7 else TRAIN_DAYS
        if not 0 < train < days:
            parser.error("--train-days must be between 0 and --days")
        return main_slices(rates, days, train, args.seed, LearnOptions(false_alerts_per_week=args.budget), args.json)
    if args.rhythm_seeds < 1:
        parser.error("--rhythm-seeds: expected a positive integer")
    if not 0 < args.train_days < args.days:
        parser.error("--train-days must be between 0 and --days")
    cycles = {"all": (False, True), "both": (False, True), "on": (True,), "off": (False,), "rhythm": ()}[args.cycle]
    scores = evaluate(cycles, rhythm=args.cycle in ("all", "rhythm"), rhythm_seeds=args.rhythm_seeds,
                      days=args.days, train_days=args.train_days,
                      seed=args.seed, incidents_per_day=args.incidents_per_day,
                      options=LearnOptions(false_alerts_per_week=args.budget), progress=True)
    print(format_report(scores))
    if args.json:
        args.json.write_text(json.dumps([s.to_dict() for s in scores], indent=2) + "\n", encoding="utf-8")
    # The exit code judges the flat and daily-cycle sets by their targets, as before; the rhythm set alone
    # (--cycle rhythm) by issue 9's incident targets, which its delays do not meet yet (see the report).
    learned = [s for s in scores if s.name.startswith("learned on first")]
    older = [s for s in learned if not s.shape.startswith("daily rhythm")]
    if older:
        return 0 if all(s.meets_targets() for s in older) else 1
    return 0 if learned and all(s.meets_incident_targets() for s in learned) else 1


if __name__ == "__main__":
    sys.exit(main())
