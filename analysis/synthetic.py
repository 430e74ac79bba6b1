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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from detection.metrics import minute_to_datetime

INCIDENT_KINDS = ("denial_51", "denial_59", "denial_both", "processing_failure", "reversal_burst", "feed_outage")

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


@dataclass(frozen=True)
class Incident:
    kind: str            # one of INCIDENT_KINDS
    start_minute: int    # epoch minute (UTC)
    minutes: int         # duration
    magnitude: float     # kind-specific size (e.g. denial multiplier, failures per minute)

    @property
    def end_minute(self) -> int:
        """Last minute of the incident (inclusive)."""
        return self.start_minute + self.minutes - 1

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


class _Model:
    """Expected counts per minute: volume (slow wobble, optional daily cycle) plus incident effects."""

    def __init__(self, seed: int, daily_cycle: bool):
        self.daily_cycle = daily_cycle
        rng = np.random.default_rng([seed, 7919])
        # A slow random wobble of a few percent (sum of long sinusoids with seeded phases),
        # a pure function of the minute so the live stream can produce any minute on its own.
        self.periods = np.array([53.0, 181.0, 617.0, 2141.0])
        self.phases = rng.uniform(0, 2 * math.pi, size=4)
        self.amplitudes = np.array([0.012, 0.015, 0.02, 0.02])

    def volume(self, minutes: np.ndarray) -> np.ndarray:
        wobble = 1.0 + (self.amplitudes[None, :] * np.sin(
            2 * math.pi * minutes[:, None] / self.periods[None, :] + self.phases[None, :])).sum(axis=1)
        if self.daily_cycle:
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
            if incident.kind.startswith("denial_"):
                denied = out["code_51"][part] + out["code_59"][part]
                extra = (incident.magnitude - 1.0) * denied
                share_51 = {"denial_51": 1.0, "denial_59": 0.0, "denial_both": 0.5}[incident.kind]
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
            elif incident.kind != "feed_outage":
                raise ValueError(f"unknown incident kind {incident.kind!r}; expected one of {', '.join(INCIDENT_KINDS)}")
        return out


def _sample(rng: np.random.Generator, means: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Draw counts: gamma-Poisson for approvals and denials, Poisson for the sparse statuses."""
    def gamma_poisson(mean: np.ndarray, shape: float) -> np.ndarray:
        return rng.poisson(mean * rng.gamma(shape, 1.0 / shape, size=mean.shape))

    counts = {
        "approved": gamma_poisson(means["approved"], APPROVED_SHAPE),
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


def _magnitude(rng: np.random.Generator, kind: str) -> float:
    """Log-uniform sizes, so small (hard) incidents are as common as large ones."""
    if kind.startswith("denial_"):
        low, high = DENIAL_MULTIPLIER
    elif kind == "processing_failure":
        low, high = FAILURES_PER_MINUTE
    elif kind == "reversal_burst":
        low, high = REVERSALS_PER_MINUTE
    else:
        return 0.0
    return round(float(math.exp(rng.uniform(math.log(low), math.log(high)))), 2)


def generate(start_minute: int, minutes: int, seed: int = 0, *, daily_cycle: bool = False,
             incidents: Sequence[Incident] | None = None, incidents_per_day: float = 4.0) -> SyntheticData:
    """incidents=None: place random incidents (seeded, varied sizes, some small/hard); [] = none."""
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    chosen = (random_incidents(start_minute, minutes, seed, incidents_per_day)
              if incidents is None else list(incidents))
    for incident in chosen:
        if incident.kind not in INCIDENT_KINDS:
            raise ValueError(f"unknown incident kind {incident.kind!r}; expected one of {', '.join(INCIDENT_KINDS)}")
    model = _Model(seed, daily_cycle)
    minute_axis = np.arange(start_minute, start_minute + minutes, dtype=np.int64)
    counts = _sample(np.random.default_rng([seed, 1]), model.means(minute_axis, chosen))
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
    _write(labels, ("kind", "start", "end", "minutes", "magnitude"), [
        {"kind": inc.kind, "start": _timestamp(inc.start_minute), "end": _timestamp(inc.end_minute),
         "minutes": inc.minutes, "magnitude": inc.magnitude} for inc in data.incidents])
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
            out.append(Incident(row["kind"], int(start.timestamp() // 60), int(row["minutes"]), float(row["magnitude"])))
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
    parser.add_argument("--incidents-per-day", type=float, default=4.0)
    parser.add_argument("--no-incidents", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory to write into")
    args = parser.parse_args(argv)
    try:
        start = _parse_start(args.start)
    except ValueError:
        parser.error(f"--start: could not parse {args.start!r}; expected 'YYYY-MM-DD HH:MM:SS'")
    if args.days <= 0:
        parser.error("--days: expected a positive number")
    minutes = round(args.days * 1440)
    try:
        data = generate(start, minutes, args.seed, daily_cycle=args.daily_cycle,
                        incidents=[] if args.no_incidents else None, incidents_per_day=args.incidents_per_day)
    except ValueError as exc:
        parser.error(str(exc))
    paths = write_csvs(data, args.out)
    print(f"wrote {len(data.status_rows)} status rows, {len(data.auth_rows)} auth-code rows and "
          f"{len(data.incidents)} labelled incidents:")
    for path in paths:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
