"""Seeded synthetic transaction data with labelled incidents, in the users' CSV schema (DATA.md).

One model of a payment platform's minute counts feeds the demo mode (``SyntheticStream``,
one live minute at a time), the tests and the detection-quality evaluation (``generate``,
many days at once). Levels and noise follow the per-minute statistics in DATA.md; every
minute keeps count(00) == approved and count(51) + count(59) == denied.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from detection.metrics import minute_to_datetime


class _Spanned(Protocol):
    @property
    def start_minute(self) -> int: ...

    @property
    def end_minute(self) -> int: ...


_Placed = TypeVar("_Placed", bound=_Spanned)

INCIDENT_KINDS = ("denial_51", "denial_59", "denial_both", "processing_failure", "reversal_burst", "feed_outage")
# Shapes of the 10-day daily-rhythm set (DATA.md, "Other periods and other platforms"): a denial spike at
# the night trough, a slow ramp (denial share doubling over an hour), approvals halving with nothing else
# moving, approvals stopping while the other statuses go on (a partial outage).
RHYTHM_KINDS = ("night_denial", "denial_ramp", "approval_drop", "partial_outage")
ALL_KINDS = INCIDENT_KINDS + RHYTHM_KINDS
DENIAL_KINDS = ("denial_51", "denial_59", "denial_both", "night_denial", "denial_ramp")

STATUSES = ("approved", "denied", "failed", "reversed", "backend_reversed", "refunded")
AUTH_CODES = ("00", "51", "59")

# Normal per-minute means at volume factor 1 (about 125 transactions a minute, as in DATA.md).
# DATA.md's means include incidents; these are the quiet levels underneath them.
BASE_MEANS = {
    "approved": 117.0,
    "code_51": 2.6,
    "code_59": 3.3,
    "failed": 0.01,
    "reversed": 0.98,
    "backend_reversed": 0.04,
    "refunded": 1.02,
}
# Gamma-Poisson shape for approvals and denials: real counts are a little wider than Poisson
# (approved std about 12 on quiet minutes against Poisson's 10.8).
APPROVED_SHAPE = 400.0
DENIAL_SHAPE = 30.0

# Incident sizes and durations (minutes), from "Kinds of incident" in DATA.md. The low ends
# (x3 denials, 1 failure a minute, 2 backend reversals a minute) are the hard ones.
DENIAL_MULTIPLIER = (3.0, 8.0)
DENIAL_MINUTES = (15, 30)
FAILURES_PER_MINUTE = (1.0, 10.0)
FAILURE_MINUTES = (15, 60)
REVERSALS_PER_MINUTE = (2.0, 5.0)
REVERSAL_MINUTES = (30, 60)
OUTAGE_MINUTES = (2, 30)
# Backend reversals that come with each failed transaction in a processing failure.
REVERSALS_PER_FAILURE = 0.5
# Quiet minutes kept between labelled incidents so each alert maps to one incident.
INCIDENT_SPACING = 90
# The daily-rhythm shapes: night spikes are large against the hour (few in counts), a ramp doubles the
# denial share over RAMP_MINUTES then holds for RAMP_HOLD, approvals halve for 15-25 min, or stop for 5-20.
NIGHT_DENIAL_MULTIPLIER = (4.0, 8.0)
RAMP_MINUTES = 60
RAMP_HOLD = 15
APPROVAL_DROP_MINUTES = (15, 25)
PARTIAL_OUTAGE_MINUTES = (5, 20)
# Hours (UTC) each rhythm kind starts in: night spikes in the trough; ramps while there is traffic enough to
# see a doubling before its top (at the trough a doubling of 1 denial a minute is not distinguishable in an hour).
KIND_HOURS = {"night_denial": (0, 5), "denial_ramp": (7, 17)}


@dataclass(frozen=True)
class Incident:
    kind: str            # one of ALL_KINDS
    start_minute: int    # epoch minute (UTC)
    minutes: int         # duration
    magnitude: float     # kind-specific size (e.g. denial multiplier, failures per minute, approvals kept)
    driver: str = ""     # night_denial / denial_ramp: the auth code carrying the extra denials ("51", "59")

    @property
    def end_minute(self) -> int:
        """Last minute of the incident (inclusive)."""
        return self.start_minute + self.minutes - 1

    @property
    def driving_code(self) -> str | None:
        """The auth code(s) an analyst should be told drive a denial incident: "51", "59" or "both"."""
        fixed = {"denial_51": "51", "denial_59": "59", "denial_both": "both"}.get(self.kind)
        return fixed or (self.driver if self.kind in DENIAL_KINDS else None)

    @property
    def peak_minute(self) -> int:
        """The minute the incident is at its worst (a ramp at the top of its ramp; others at once)."""
        return self.start_minute + min(RAMP_MINUTES, self.minutes) - 1 if self.kind == "denial_ramp" \
            else self.start_minute

    def covers(self, minute: int) -> bool:
        return self.start_minute <= minute <= self.end_minute


@dataclass
class SyntheticData:
    status_rows: list[dict]   # {"timestamp": "YYYY-MM-DD HH:MM:SS", "status": str, "count": int}, users' CSV schema
    auth_rows: list[dict]     # {"timestamp": ..., "auth_code": "00"|"51"|"59", "count": int}
    incidents: list[Incident]


def daily_factor(minutes: np.ndarray) -> np.ndarray:
    """Volume relative to the daily mean: lowest (0.2) at 03:00 UTC, highest (1.7) at 15:00."""
    hours = (minutes % 1440) / 60.0
    return 0.95 - 0.75 * np.cos(2 * math.pi * (hours - 3.0) / 24.0)


# The strong rhythm: before dawn (04:00 UTC) a tenth of the weekday afternoon peak (16:00), weekends lower.
RHYTHM_TROUGH = 0.1
RHYTHM_PEAK = 1.9  # relative to the flat set's level, so the weekday mean is about the DATA.md volume
WEEKEND_FACTOR = 0.7
# Gamma-Poisson shape of approvals in the rhythm set: per-minute level noise of 10%, wider than Poisson.
RHYTHM_APPROVED_SHAPE = 100.0


def is_weekend(minutes: np.ndarray) -> np.ndarray:
    """Saturday or Sunday (UTC); epoch minute 0 is a Thursday."""
    return ((minutes // 1440 + 3) % 7) >= 5


def weekend_weight(minutes: np.ndarray) -> np.ndarray:
    """1 inside a weekend, 0 on weekdays, changing linearly over the 4 hours around each midnight that
    starts or ends one: Friday night's shoppers do not stop at 00:00 UTC."""
    offsets = np.arange(-120, 121, 30)  # an average over +-2 hours smooths the step into a ramp
    return np.mean([is_weekend(minutes + k) for k in offsets], axis=0)


def rhythm_factor(minutes: np.ndarray) -> np.ndarray:
    """Volume relative to the flat set: a tenth of the peak at 04:00, the peak at 16:00, weekends x0.7.

    The raised cosine to the power 1.3 keeps the trough wide and the evening decline steep (a quarter of
    the peak an hour at its steepest), the part of the day that fools a detector that knows no rhythm.
    """
    hours = (minutes % 1440) / 60.0
    rise = (0.5 - 0.5 * np.cos(2 * math.pi * (hours - 4.0) / 24.0)) ** 1.3
    day = RHYTHM_PEAK * (RHYTHM_TROUGH + (1 - RHYTHM_TROUGH) * rise)
    return day * (1.0 - (1.0 - WEEKEND_FACTOR) * weekend_weight(minutes))


class _Model:
    """Expected counts per minute: volume (slow wobble, optional daily cycle) plus incident effects."""

    def __init__(self, seed: int, daily_cycle: bool, rhythm: bool = False):
        self.daily_cycle = daily_cycle
        self.rhythm = rhythm
        rng = np.random.default_rng([seed, 7919])
        # A slow random wobble of a few percent (sum of long sinusoids with seeded phases),
        # a pure function of the minute so the live stream can produce any minute on its own.
        self.periods = np.array([53.0, 181.0, 617.0, 2141.0])
        self.phases = rng.uniform(0, 2 * math.pi, size=4)
        self.amplitudes = np.array([0.012, 0.015, 0.02, 0.02])

    def volume(self, minutes: np.ndarray) -> np.ndarray:
        wobble = 1.0 + (self.amplitudes[None, :] * np.sin(
            2 * math.pi * minutes[:, None] / self.periods[None, :] + self.phases[None, :])).sum(axis=1)
        if self.rhythm:
            wobble = wobble * rhythm_factor(minutes)
        elif self.daily_cycle:
            wobble = wobble * daily_factor(minutes)
        return wobble

    def means(self, minutes: np.ndarray, incidents: Sequence[Incident]) -> dict[str, np.ndarray]:
        volume = self.volume(minutes)
        out = {key: base * volume for key, base in BASE_MEANS.items()}
        first = int(minutes[0]) if len(minutes) else 0
        for incident in incidents:
            lo = max(incident.start_minute - first, 0)
            hi = min(incident.end_minute - first + 1, len(minutes))
            if hi <= lo:
                continue
            part = slice(lo, hi)
            if incident.kind in DENIAL_KINDS:
                denied = out["code_51"][part] + out["code_59"][part]
                if incident.kind == "denial_ramp":
                    # The denial share climbs linearly to ``magnitude`` times normal, then holds there.
                    step = np.arange(lo, hi) - (incident.start_minute - first) + 1
                    factor = 1.0 + (incident.magnitude - 1.0) * np.minimum(step / RAMP_MINUTES, 1.0)
                else:
                    factor = np.full(hi - lo, incident.magnitude)
                extra = (factor - 1.0) * denied
                share_51 = {"denial_51": 1.0, "denial_59": 0.0, "denial_both": 0.5}.get(
                    incident.kind, {"51": 1.0, "59": 0.0}.get(incident.driver, 0.5))
                out["code_51"][part] += extra * share_51
                out["code_59"][part] += extra * (1.0 - share_51)
                # The declined transactions are ones that would otherwise have been approved.
                out["approved"][part] = np.maximum(out["approved"][part] - extra, 1.0)
            elif incident.kind == "processing_failure":
                out["failed"][part] += incident.magnitude
                out["backend_reversed"][part] += REVERSALS_PER_FAILURE * incident.magnitude
                out["approved"][part] = np.maximum(out["approved"][part] - incident.magnitude, 1.0)
            elif incident.kind == "reversal_burst":
                out["backend_reversed"][part] += incident.magnitude
            elif incident.kind in ("approval_drop", "partial_outage"):
                # An acquirer silently dropping traffic: approvals (and code 00) fall, nothing else moves.
                out["approved"][part] = out["approved"][part] * incident.magnitude
            elif incident.kind != "feed_outage":
                raise ValueError(f"unknown incident kind {incident.kind!r}; expected one of {', '.join(ALL_KINDS)}")
        return out


def _sample(rng: np.random.Generator, means: dict[str, np.ndarray],
            approved_shape: float = APPROVED_SHAPE) -> dict[str, np.ndarray]:
    """Draw counts: gamma-Poisson for approvals and denials, Poisson for the sparse statuses."""
    def gamma_poisson(mean: np.ndarray, shape: float) -> np.ndarray:
        return rng.poisson(mean * rng.gamma(shape, 1.0 / shape, size=mean.shape))

    counts = {
        "approved": gamma_poisson(means["approved"], approved_shape),
        "code_51": gamma_poisson(means["code_51"], DENIAL_SHAPE),
        "code_59": gamma_poisson(means["code_59"], DENIAL_SHAPE),
    }
    for key in ("failed", "reversed", "backend_reversed", "refunded"):
        counts[key] = rng.poisson(means[key])
    counts["denied"] = counts["code_51"] + counts["code_59"]
    return counts


def _timestamp(minute: int) -> str:
    return minute_to_datetime(minute).strftime("%Y-%m-%d %H:%M:%S")


def _rows(minutes: Sequence[int], counts: dict[str, np.ndarray], silent: set[int]) -> tuple[list[dict], list[dict]]:
    status_rows: list[dict] = []
    auth_rows: list[dict] = []
    as_lists = {key: values.tolist() for key, values in counts.items()}  # plain ints: validate_records wants int
    for i, minute in enumerate(minutes):
        if minute in silent:
            continue
        stamp = _timestamp(minute)
        for status in STATUSES:
            status_rows.append({"timestamp": stamp, "status": status, "count": as_lists[status][i]})
        for code, key in (("00", "approved"), ("51", "code_51"), ("59", "code_59")):
            auth_rows.append({"timestamp": stamp, "auth_code": code, "count": as_lists[key][i]})
    return status_rows, auth_rows


def random_incidents(start_minute: int, minutes: int, seed: int, incidents_per_day: float = 4.0) -> list[Incident]:
    """Seeded incidents of every kind, evenly mixed, varied in size and length, never overlapping."""
    rng = np.random.default_rng([seed, 104729])
    days = minutes / 1440.0
    wanted = round(incidents_per_day * days)
    kinds = [INCIDENT_KINDS[i % len(INCIDENT_KINDS)] for i in range(wanted)]
    rng.shuffle(kinds)
    durations = []
    for kind in kinds:
        span = {"denial_51": DENIAL_MINUTES, "denial_59": DENIAL_MINUTES, "denial_both": DENIAL_MINUTES,
                "processing_failure": FAILURE_MINUTES, "reversal_burst": REVERSAL_MINUTES,
                "feed_outage": OUTAGE_MINUTES}[kind]
        durations.append(int(rng.integers(span[0], span[1] + 1)))
    # Place them in order with random quiet stretches between, keeping the first hour quiet
    # (an engine needs some minutes before its windows are full) and spacing between incidents.
    lead = 60
    free = minutes - lead - sum(durations) - INCIDENT_SPACING * len(durations)
    if free < 0:
        raise ValueError(f"{wanted} incidents do not fit in {minutes} minutes; lower incidents_per_day")
    cuts = np.sort(rng.uniform(0, free, size=len(kinds)))
    incidents = []
    offset = start_minute + lead
    previous_cut = 0.0
    for kind, duration, cut in zip(kinds, durations, cuts, strict=True):
        offset += int(cut - previous_cut)
        previous_cut = cut
        incidents.append(Incident(kind, offset, duration, _magnitude(rng, kind)))
        offset += duration + INCIDENT_SPACING
    return incidents


def rhythm_incidents(start_minute: int, minutes: int, seed: int, incidents_per_day: float = 8.0) -> list[Incident]:
    """Seeded incidents of all kinds (ALL_KINDS) for the daily-rhythm set, placed day by day.

    The kinds rotate through the days, so any 3 consecutive days at 8 a day hold every kind at least
    twice; each starts at a random minute of its day within its hours (KIND_HOURS), at least
    INCIDENT_SPACING quiet minutes from any other.
    """
    rng = np.random.default_rng([seed, 130363])

    def make(kind: str, begin: int, duration: int) -> Incident:
        driver = str(rng.choice(["51", "59"])) if kind in ("night_denial", "denial_ramp") else ""
        return Incident(kind, begin, duration, _magnitude(rng, kind), driver)

    return place_by_day(rng, ALL_KINDS, start_minute, minutes, incidents_per_day, _duration, KIND_HOURS, make)


def place_by_day(rng: np.random.Generator, kinds: Sequence[str], start_minute: int, minutes: int,
                 incidents_per_day: float, duration_of: Callable[[np.random.Generator, str], int],
                 hours: Mapping[str, tuple[int, int]], make: Callable[[str, int, int], _Placed]) -> list[_Placed]:
    """Incidents taking turns through ``kinds``, day by day: each at a random minute of its day within its
    ``hours`` (UTC, inclusive; all day when not listed), at least INCIDENT_SPACING quiet minutes from any
    other, the first hour of the data quiet (rules' windows fill). ``make(kind, begin, duration)`` builds one.
    The labelled generator (analysis/synthetic_labels.py) places its incidents the same way."""
    per_day = max(int(round(incidents_per_day)), 0)
    placed: list[_Placed] = []
    turn = 0
    for day_start in range(start_minute, start_minute + minutes, 1440):
        for _ in range(per_day):
            kind = kinds[turn % len(kinds)]
            turn += 1
            duration = duration_of(rng, kind)
            low, high = hours.get(kind, (0, 23))
            first = max(day_start + low * 60, start_minute + 60)  # the first hour stays quiet: windows fill
            last = min(day_start + high * 60 + 59, start_minute + minutes - duration - 1)
            for _attempt in range(500):
                if last <= first:
                    break
                begin = int(rng.integers(first, last + 1))
                if all(begin > other.end_minute + INCIDENT_SPACING or begin + duration + INCIDENT_SPACING
                       < other.start_minute for other in placed):
                    placed.append(make(kind, begin, duration))
                    break
    return sorted(placed, key=lambda incident: incident.start_minute)


def _duration(rng: np.random.Generator, kind: str) -> int:
    if kind == "denial_ramp":
        return RAMP_MINUTES + RAMP_HOLD
    span = {"processing_failure": FAILURE_MINUTES, "reversal_burst": REVERSAL_MINUTES, "feed_outage": OUTAGE_MINUTES,
            "approval_drop": APPROVAL_DROP_MINUTES, "partial_outage": PARTIAL_OUTAGE_MINUTES}.get(kind, DENIAL_MINUTES)
    return int(rng.integers(span[0], span[1] + 1))


def _magnitude(rng: np.random.Generator, kind: str) -> float:
    """Log-uniform sizes, so small (hard) incidents are as common as large ones."""
    if kind == "denial_ramp":
        return 2.0  # the denial share doubles over the hour
    if kind == "approval_drop":
        return 0.5  # approvals halve
    if kind == "partial_outage":
        return 0.0  # approvals stop
    if kind == "night_denial":
        low, high = NIGHT_DENIAL_MULTIPLIER
    elif kind.startswith("denial_"):
        low, high = DENIAL_MULTIPLIER
    elif kind == "processing_failure":
        low, high = FAILURES_PER_MINUTE
    elif kind == "reversal_burst":
        low, high = REVERSALS_PER_MINUTE
    else:
        return 0.0
    return round(float(math.exp(rng.uniform(math.log(low), math.log(high)))), 2)


def generate(start_minute: int, minutes: int, seed: int = 0, *, daily_cycle: bool = False,
             incidents: Sequence[Incident] | None = None, incidents_per_day: float = 4.0,
             rhythm: bool = False) -> SyntheticData:
    """incidents=None: place random incidents (seeded, varied sizes, some small/hard); [] = none.

    ``rhythm``: the daily-rhythm set instead (strong daily cycle, weekends lower, approvals 10% noisier
    than Poisson per minute) with every kind of ALL_KINDS placed by ``rhythm_incidents``.
    """
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    if incidents is not None:
        chosen = list(incidents)
    elif rhythm:
        chosen = rhythm_incidents(start_minute, minutes, seed, incidents_per_day)
    else:
        chosen = random_incidents(start_minute, minutes, seed, incidents_per_day)
    for incident in chosen:
        if incident.kind not in ALL_KINDS:
            raise ValueError(f"unknown incident kind {incident.kind!r}; expected one of {', '.join(ALL_KINDS)}")
    model = _Model(seed, daily_cycle, rhythm)
    minute_axis = np.arange(start_minute, start_minute + minutes, dtype=np.int64)
    counts = _sample(np.random.default_rng([seed, 1]), model.means(minute_axis, chosen),
                     RHYTHM_APPROVED_SHAPE if rhythm else APPROVED_SHAPE)
    silent = {m for inc in chosen if inc.kind == "feed_outage" for m in range(inc.start_minute, inc.end_minute + 1)}
    status_rows, auth_rows = _rows(minute_axis.tolist(), counts, silent)
    return SyntheticData(status_rows, auth_rows, chosen)


class SyntheticStream:
    """Endless live minutes for the demo: one minute at a time, with optional injected incidents.

    Each minute is a pure function of (seed, minute, incidents): asking for the same minute
    twice gives the same rows, and minutes can be asked for in any order.
    """

    def __init__(self, start_minute: int, seed: int = 0, *, daily_cycle: bool = True):
        self.start_minute = start_minute
        self.seed = seed
        self.daily_cycle = daily_cycle
        self._model = _Model(seed, daily_cycle)

    def minute(self, minute: int, incidents: Sequence[Incident] = ()) -> tuple[list[dict], list[dict]]:
        """status rows and auth rows for that one minute (feed_outage incidents give no rows)."""
        active = [inc for inc in incidents if inc.covers(minute)]
        if any(inc.kind == "feed_outage" for inc in active):
            return [], []
        axis = np.array([minute], dtype=np.int64)
        rng = np.random.default_rng([self.seed, 2, minute - self.start_minute + 2**31])
        counts = _sample(rng, self._model.means(axis, active))
        return _rows([minute], counts, set())


def write_csvs(data: SyntheticData, directory: Path) -> tuple[Path, Path, Path]:
    """transactions.csv, transactions_auth_codes.csv, labels (CSV or JSON) in the users' schema."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    transactions = directory / "transactions.csv"
    auth_codes = directory / "transactions_auth_codes.csv"
    labels = directory / "labels.csv"
    _write(transactions, ("timestamp", "status", "count"), data.status_rows)
    _write(auth_codes, ("timestamp", "auth_code", "count"), data.auth_rows)
    _write(labels, ("kind", "start", "end", "minutes", "magnitude", "driver"), [
        {"kind": inc.kind, "start": _timestamp(inc.start_minute), "end": _timestamp(inc.end_minute),
         "minutes": inc.minutes, "magnitude": inc.magnitude, "driver": inc.driving_code or ""}
        for inc in data.incidents])
    return transactions, auth_codes, labels


def read_labels(path: Path) -> list[Incident]:
    """Read back a labels file written by ``write_csvs`` (CSV) or a JSON list of incidents."""
    path = Path(path)
    if path.suffix == ".json":
        return [Incident(**item) for item in json.loads(path.read_text(encoding="utf-8"))]
    with path.open(newline="", encoding="utf-8") as handle:
        out = []
        for row in csv.DictReader(handle):
            start = datetime.strptime(row["start"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            driver = row.get("driver") or ""
            if row["kind"] not in ("night_denial", "denial_ramp"):
                driver = ""  # the other kinds' driving code follows from the kind
            out.append(Incident(row["kind"], int(start.timestamp() // 60), int(row["minutes"]),
                                float(row["magnitude"]), driver))
        return out


def _write(path: Path, columns: Sequence[str], rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _parse_start(text: str) -> int:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 60)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.synthetic",
        description="Write synthetic transactions.csv, transactions_auth_codes.csv and labels.csv.")
    parser.add_argument("--days", type=float, default=3.0, help="days of minutes to write (default 3)")
    parser.add_argument("--start", default="2025-07-12 00:00:00", help="first minute, UTC (default 2025-07-12 00:00:00)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--daily-cycle", action="store_true", help="night volume a fraction of afternoon volume")
    parser.add_argument("--rhythm", action="store_true",
                        help="the daily-rhythm set: strong daily cycle, weekends lower, noisier counts, all incident kinds")
    parser.add_argument("--incidents-per-day", type=float, default=None, help="default 4 (8 with --rhythm)")
    parser.add_argument("--no-incidents", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory to write into")
    parser.add_argument("--labels", action="store_true",
                        help="labelled data (analysis.synthetic_labels): label columns acquirer, merchant, brand, "
                             "region after count, slice incidents beside the global ones, a daily cycle")
    parser.add_argument("--rate", type=float, default=None,
                        help="with --labels: transactions a minute on average (default 1000; DATA.md's is about 125)")
    args = parser.parse_args(argv)
    try:
        start = _parse_start(args.start)
    except ValueError:
        parser.error(f"--start: could not parse {args.start!r}; expected 'YYYY-MM-DD HH:MM:SS'")
    if args.days <= 0:
        parser.error("--days: expected a positive number")
    minutes = round(args.days * 1440)
    if args.labels:
        return _write_labelled(args, parser, start, minutes)
    if args.rate is not None:
        parser.error("--rate: only with --labels")
    try:
        per_day = args.incidents_per_day if args.incidents_per_day is not None else (8.0 if args.rhythm else 4.0)
        data = generate(start, minutes, args.seed, daily_cycle=args.daily_cycle,
                        incidents=[] if args.no_incidents else None, incidents_per_day=per_day, rhythm=args.rhythm)
    except ValueError as exc:
        parser.error(str(exc))
    paths = write_csvs(data, args.out)
    print(f"wrote {len(data.status_rows)} status rows, {len(data.auth_rows)} auth-code rows and "
          f"{len(data.incidents)} labelled incidents:")
    for path in paths:
        print(f"  {path}")
    return 0


def _write_labelled(args: argparse.Namespace, parser: argparse.ArgumentParser, start: int, minutes: int) -> int:
    from analysis.synthetic_labels import DEFAULT_RATE, LabelledData, describe

    if args.rhythm:
        parser.error("--labels: not with --rhythm (the labelled set has the daily cycle of --daily-cycle)")
    try:
        data = LabelledData(start, minutes, args.seed, rate=DEFAULT_RATE if args.rate is None else args.rate,
                            incidents=[] if args.no_incidents else None,
                            incidents_per_day=6.0 if args.incidents_per_day is None else args.incidents_per_day)
    except ValueError as exc:
        parser.error(str(exc))
    paths = data.write_csvs(args.out)
    print(f"wrote {minutes:,} labelled minutes; {describe(data)}:")
    for path in paths:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
