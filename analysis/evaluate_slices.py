"""Detection quality per slice: labelled synthetic days learned by the CLI's own function, then replayed through the engine.

``python -m analysis.evaluate --slices`` generates labelled data (``analysis.synthetic_labels``: 200 merchants
over 8 acquirers, 4 brands, 5 regions; 7 days by default), writes the first 4 days as the users' labelled CSVs,
learns thresholds from them exactly as ``python -m analysis`` does (global rules, dimensions and per-slice
rules; through the file format), replays the last 3 days minute by minute through the real ``Monitor`` and
reports, at each volume asked for (1,000 and 125 transactions a minute by default):

- slice incidents found: an engine incident naming the labelled slice (its own slice, ``details["slice"]``; a
  slice whose alert joined it, ``details["slices"]``; or its top contributor in that dimension) that starts
  between ``MATCH_BEFORE`` minutes before the labelled incident and ``MATCH_AFTER`` minutes after its end; by kind;
- delay: the minute that incident named the slice (opened, or the joining slice alert's first minute) minus
  the minute the labelled incident's first minute was in (0 = as soon as that minute closed), as
  ``analysis.evaluate`` measures it;
- false incidents: engine incidents (global or of any slice) that start near no labelled incident;
- top contributor right: for each global labelled incident that runs mostly through one acquirer, whether the
  first global engine incident matching it names that acquirer first (``details["contributions"]``);
- the issue's check: acquirer_denial incidents (one acquirer's denials x3 for 20 minutes) named within 5 minutes.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analysis.learn import LearnOptions, learn
from analysis.learn_slices import thresholds_config
from analysis.loading import load_history
from analysis.replay import EngineIncident, replay_run
from analysis.synthetic_labels import SLICE_KINDS, LabelledData, LabelledIncident
from detection.thresholds import Thresholds, parse_thresholds

MATCH_BEFORE = 3
MATCH_AFTER = 10
START = 29_188_800  # 2025-07-01 00:00 UTC
DAYS = 7
TRAIN_DAYS = 4
RATES = (1000.0, 125.0)
TARGET_DELAY = 5  # the issue: an incident naming the acquirer within 5 minutes
TARGET_FALSE_INCIDENTS = 1  # over the judged days, all slices together


@dataclass
class SliceScore:
    rate: float
    days: float
    incidents: list[LabelledIncident]
    found: dict[int, EngineIncident] = field(default_factory=dict)  # index into incidents -> the engine's incident
    delays: dict[int, int] = field(default_factory=dict)
    false: list[EngineIncident] = field(default_factory=list)
    engine_incidents: int = 0
    contributors: list[tuple[LabelledIncident, str | None]] = field(default_factory=list)  # truth, named first
    rules: int = 0
    near: list[int] = field(default_factory=list)  # per labelled incident: engine incidents (global or slice) near it

    def by_kind(self) -> dict[str, tuple[int, int, list[int]]]:
        """kind -> (found, labelled, delays), slice kinds only."""
        out: dict[str, tuple[int, int, list[int]]] = {}
        for index, incident in enumerate(self.incidents):
            if not incident.is_slice:
                continue
            found, total, delays = out.get(incident.kind, (0, 0, []))
            hit = index in self.found
            out[incident.kind] = (found + hit, total + 1, delays + ([self.delays[index]] if hit else []))
        return out

    @property
    def contributors_right(self) -> int:
        return sum(1 for truth, named in self.contributors if named == truth.value)

    def issue_check(self) -> tuple[int, int]:
        """(acquirer_denial incidents named within TARGET_DELAY minutes, acquirer_denial incidents)."""
        indexes = [i for i, incident in enumerate(self.incidents) if incident.kind == "acquirer_denial"]
        return sum(1 for i in indexes if i in self.found and self.delays[i] <= TARGET_DELAY), len(indexes)

    def to_dict(self) -> dict:
        return {
            "rate_per_minute": self.rate, "days_judged": self.days, "engine_incidents": self.engine_incidents,
            "false_incidents": len(self.false), "sliced_rules": self.rules,
            "engine_incidents_per_labelled": round(statistics.mean(self.near), 2) if self.near else None,
            "slice_kinds": {kind: {"found": f, "incidents": n, "median_delay": _median(d), "max_delay": max(d, default=None)}
                            for kind, (f, n, d) in self.by_kind().items()},
            "top_contributor_right": f"{self.contributors_right}/{len(self.contributors)}",
            "acquirer_denial_within_5_min": "{}/{}".format(*self.issue_check()),
            "false": [{"title": e.incident.title, "slice": e.incident.details.get("slice", ""),
                       "started_at": e.incident.started_at} for e in self.false],
        }


def _median(values: Sequence[int]) -> float | None:
    return statistics.median(values) if values else None


def _near(incident: LabelledIncident, engine: EngineIncident) -> bool:
    return incident.start_minute - MATCH_BEFORE <= engine.incident.started_at <= incident.end_minute + MATCH_AFTER


def learn_thresholds(data: LabelledData, train_days: int, options: LearnOptions | None = None,
                     directory: Path | None = None) -> Thresholds:
    """The first ``train_days`` as labelled CSVs, learned as ``python -m analysis`` learns them, read back as the
    engine reads the file it writes."""
    with tempfile.TemporaryDirectory(prefix="slices-") as scratch:
        folder = directory or Path(scratch)
        transactions, auth_codes, _ = data.write_csvs(folder, data.start_minute, train_days * 1440)
        history = load_history(transactions, auth_codes)
        config, _ = thresholds_config(learn(history, options))
    return parse_thresholds(json.loads(json.dumps(config)), f"learned on the first {train_days} labelled days")


def _names(engine: EngineIncident, key: str, dimension: str) -> int | None:
    """The minute an engine incident named the slice ``key``, or None: its own slice (from its opening), a slice
    whose alert joined it (from that alert's first minute), or its top contributor in the slice's dimension
    (from its opening: the contributions are described again every minute)."""
    details = engine.incident.details
    if details.get("slice") == key:
        return engine.opened_minute
    if key in details.get("slices", ()):
        starts = [m["started_minute"] for m in details.get("members", []) if m["metric"].endswith(f"@{key}")]
        return max(engine.opened_minute, min(starts)) if starts else engine.opened_minute
    top = details.get("contributions", {}).get(dimension) or []
    return engine.opened_minute if top and top[0]["slice"] == key else None


def score_slices(data: LabelledData, engine: Sequence[EngineIncident], first: int, minutes: int,
                 rate: float) -> SliceScore:
    judged = [i for i in data.incidents if first <= i.start_minute < first + minutes]
    result = SliceScore(rate, minutes / 1440, judged, engine_incidents=len(engine))
    matched: set[str] = set()
    for index, incident in enumerate(judged):
        near = [e for e in engine if _near(incident, e)]
        matched.update(e.id for e in near)
        result.near.append(len(near))
        if incident.is_slice:
            naming = [(minute, e) for e in near if (minute := _names(e, incident.slice, incident.dimension)) is not None]
            if naming:
                named_at, paged = min(naming, key=lambda pair: (pair[0], pair[1].opened_wall, pair[1].id))
                result.found[index] = paged
                result.delays[index] = max(0, named_at - (incident.start_minute + 1))
        elif incident.slice:
            overall = [e for e in near if not e.incident.details.get("slice")]
            named = None
            if overall:
                paged = min(overall, key=lambda e: (e.opened_wall, e.id))
                top = paged.incident.details.get("contributions", {}).get(incident.dimension) or []
                named = top[0]["value"] if top else None
            result.contributors.append((incident, named))
    result.false = [e for e in engine if e.id not in matched]
    return result


def evaluate_slices(rate: float = 1000.0, days: int = DAYS, train_days: int = TRAIN_DAYS, seed: int = 0,
                    incidents_per_day: float = 6.0, options: LearnOptions | None = None,
                    incidents: Sequence[LabelledIncident] | None = None) -> SliceScore:
    """Generate, learn on the first ``train_days`` days, replay the rest through the engine, score."""
    data = LabelledData(START, days * 1440, seed, rate=rate, incidents=incidents,
                        incidents_per_day=incidents_per_day)
    thresholds = learn_thresholds(data, train_days, options)
    split = START + train_days * 1440
    minutes = (days - train_days) * 1440
    run = replay_run(thresholds, data.minute_rows(split, minutes))
    result = score_slices(data, run.incidents, split, minutes, rate)
    result.rules = sum(1 for rule in thresholds.rules if rule.by)
    return result


def format_slices(scores: Sequence[SliceScore]) -> str:
    lines = []
    for s in scores:
        found, total = s.issue_check()
        lines.append(f"\nlabelled data at {s.rate:,.0f} transactions/min, learned on the first days, "
                     f"{s.days:g} days judged: {s.engine_incidents} engine incidents, {s.rules} per-slice rules")
        lines.append(f"  {'slice kind':<18} {'found':>7} {'median delay':>13} {'max delay':>10}")
        for kind in SLICE_KINDS:
            hit, n, delays = s.by_kind().get(kind, (0, 0, []))
            lines.append(f"  {kind:<18} {hit:>3}/{n:<3} {_fmt(_median(delays)):>13} "
                         f"{_fmt(max(delays) if delays else None):>10}")
        lines.append(f"  false incidents (all slices and global): {len(s.false)} over {s.days:g} days")
        if s.near:
            lines.append(f"  engine incidents near each labelled one (its own and every slice it moved): "
                         f"median {statistics.median(s.near):g}, max {max(s.near)}")
        lines.append(f"  top contributor named right for global incidents: {s.contributors_right} of "
                     f"{len(s.contributors)}")
        lines.append(f"  issue check: acquirer denials x3 named within {TARGET_DELAY} min: {found} of {total}")
        for missed in [i for index, i in enumerate(s.incidents) if i.is_slice and index not in s.found]:
            lines.append(f"    missed {missed.kind} {missed.slice} x{missed.magnitude:g} at "
                         f"{(missed.start_minute % 1440) // 60:02d}:{missed.start_minute % 60:02d} UTC "
                         f"for {missed.minutes} min")
        for truth, named in s.contributors:
            if named != truth.value:
                lines.append(f"    {truth.kind} through {truth.slice}: top contributor named {named}")
        for false in s.false:
            lines.append(f"    false: {false.incident.title} ({false.incident.details.get('slice') or 'global'})")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def main_slices(rates: Sequence[float], days: int, train_days: int, seed: int, options: LearnOptions,
                json_path: Path | None) -> int:
    scores = []
    for rate in rates:
        print(f"evaluate --slices: {rate:g}/min ...", file=sys.stderr, flush=True)
        scores.append(evaluate_slices(rate, days, train_days, seed, options=options))
    print(format_slices(scores))
    if json_path is not None:
        json_path.write_text(json.dumps([s.to_dict() for s in scores], indent=2) + "\n", encoding="utf-8")
    return 0
