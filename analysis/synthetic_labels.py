"""Seeded synthetic labelled data: the platform's minute counts split over acquirers, merchants, brands and regions.

The same volume model as ``analysis.synthetic`` (slow wobble, optional daily cycle, gamma-Poisson noise), with
every minute's transactions spread over label combinations: 200 merchants with Zipf-like volumes, each served
by one of 8 acquirers (30/20/15/10/10/7/5/3 % of the traffic: acq-07 carries 5%) in one of 5 regions, and 4
card brands. Each acquirer, merchant and brand has its own denial share around the global one. Incidents
come in two sorts, each with ground truth naming the slice that carries it:

- global (the existing kinds: denial_51, denial_59, denial_both, processing_failure, reversal_burst,
  feed_outage) that run mostly through one acquirer (``slice``: the acquirer that carries the most excess);
- slice incidents: ``acquirer_denial`` (one acquirer's denials x3 for 20 minutes), ``merchant_failure``
  (one merchant failing at night: failed and backend_reversed), ``brand_denial`` (one brand's code 59 up).

Rows are the users' CSV schema with label columns after ``count``, one row per (minute, status, label
combination) that has traffic, zero rows omitted; per minute AND per label combination count(00) == approved
and count(51) + count(59) == denied, so the sums over labels keep DATA.md's invariants. Counts are made a day
at a time from a seed per day, so days can be written or replayed in any order without holding them all.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.synthetic import (
    APPROVED_SHAPE,
    BASE_MEANS,
    DENIAL_MINUTES,
    DENIAL_SHAPE,
    FAILURE_MINUTES,
    INCIDENT_KINDS,
    OUTAGE_MINUTES,
    REVERSAL_MINUTES,
    REVERSALS_PER_FAILURE,
    STATUSES,
    _magnitude,
    _Model,
    _timestamp,
    place_by_day,
)

DIMENSIONS = ("acquirer", "merchant", "brand", "region")
ACQUIRERS = tuple(f"acq-{i:02d}" for i in range(1, 9))
ACQUIRER_SHARES = (0.30, 0.20, 0.15, 0.10, 0.10, 0.07, 0.05, 0.03)
BRANDS = ("visa", "mastercard", "elo", "amex")
BRAND_SHARES = (0.45, 0.33, 0.14, 0.08)
REGIONS = ("sp", "rj", "mg", "rs", "ba")
REGION_SHARES = (0.38, 0.22, 0.16, 0.14, 0.10)
MERCHANTS = 200
ZIPF_EXPONENT = 1.0
# Each slice's denial share differs a little from the global one (log-normal spreads, then rescaled so the
# traffic-weighted mean is the global share): enough that a pooled ratio alone would misjudge some slices.
DENIAL_SPREAD = {"acquirer": 0.15, "merchant": 0.25, "brand": 0.10}
DEFAULT_RATE = 1000.0  # transactions a minute on average (DATA.md's platform is about 125)

SLICE_KINDS = ("acquirer_denial", "merchant_failure", "brand_denial")
LABELLED_KINDS = SLICE_KINDS + INCIDENT_KINDS
# The order kinds take turns in, day after day: slice kinds a little more often than each global kind.
ROTATION = ("acquirer_denial", "denial_51", "merchant_failure", "processing_failure", "brand_denial", "denial_59",
            "acquirer_denial", "reversal_burst", "denial_both", "feed_outage")
ACQUIRER_DENIAL_MULTIPLIER = 3.0
ACQUIRER_DENIAL_MINUTES = 20
# acquirer_denial picks among the acquirers of 10% or less: a large acquirer's spike shows globally anyway.
SMALL_ACQUIRER_SHARE = 0.10
MERCHANT_FAILING_SHARE = (0.2, 0.6)  # of the merchant's transactions that fail
MERCHANT_FAILURE_MINUTES = (15, 45)
MERCHANT_FAILURE_TOP = 20  # the failing merchant is one of the 20 largest (a tiny one has no traffic at night)
BRAND_DENIAL_MULTIPLIER = (3.0, 6.0)  # the brand's code 59 declines
# Hours (UTC) a kind starts in: a merchant fails at night, when its traffic is thinnest.
KIND_HOURS = {"merchant_failure": (0, 4)}
# Global incidents run mostly through one acquirer: it takes the full effect and the others a quarter of it
# (denials), or it takes this share of the failures and reversals; so their top contributor is known.
GLOBAL_SPILL = 0.25
FOCUS_SHARE = 0.6


@dataclass(frozen=True)
class LabelledIncident:
    kind: str            # one of LABELLED_KINDS
    start_minute: int    # epoch minute (UTC)
    minutes: int
    magnitude: float     # denial multiplier, failures per minute, or the failing share of a merchant's traffic
    slice: str = ""      # ground truth: "acquirer=acq-07", "merchant=m-003", "brand=elo" ("" for a feed outage)
    driver: str = ""     # the auth code carrying extra denials when the kind does not say ("59" for brand_denial)

    @property
    def end_minute(self) -> int:
        return self.start_minute + self.minutes - 1

    @property
    def is_slice(self) -> bool:
        """Confined to one slice (its own incident), as opposed to a global one that runs mostly through it."""
        return self.kind in SLICE_KINDS

    @property
    def dimension(self) -> str:
        return self.slice.partition("=")[0]

    @property
    def value(self) -> str:
        return self.slice.partition("=")[2]

    def covers(self, minute: int) -> bool:
        return self.start_minute <= minute <= self.end_minute


@dataclass(frozen=True)
class Platform:
    """Who carries the traffic: merchants (Zipf volumes) each on one acquirer and region, times card brands."""

    merchants: tuple[str, ...]
    merchant_weight: np.ndarray    # share of all traffic per merchant (sums to 1)
    merchant_acquirer: np.ndarray  # index into ACQUIRERS
    merchant_region: np.ndarray    # index into REGIONS
    combo_merchant: np.ndarray     # per label combination (merchant x brand)
    combo_brand: np.ndarray
    combo_weight: np.ndarray       # share of all traffic per combination (sums to 1)
    denial_factor: np.ndarray      # per combination: its denial share relative to the global one

    @property
    def combos(self) -> int:
        return len(self.combo_weight)

    def labels(self, combo: int) -> dict[str, str]:
        merchant = int(self.combo_merchant[combo])
        return {"acquirer": ACQUIRERS[int(self.merchant_acquirer[merchant])], "merchant": self.merchants[merchant],
                "brand": BRANDS[int(self.combo_brand[combo])], "region": REGIONS[int(self.merchant_region[merchant])]}

    def members(self, slice_key: str) -> np.ndarray:
        """Bool per combination: does it belong to the slice ``dim=value``."""
        dimension, _, value = slice_key.partition("=")
        merchant = self.combo_merchant
        if dimension == "acquirer":
            return self.merchant_acquirer[merchant] == ACQUIRERS.index(value)
        if dimension == "region":
            return self.merchant_region[merchant] == REGIONS.index(value)
        if dimension == "brand":
            return self.combo_brand == BRANDS.index(value)
        if dimension == "merchant":
            return merchant == self.merchants.index(value)
        raise ValueError(f"unknown dimension {dimension!r}; expected one of {', '.join(DIMENSIONS)}")

    def share(self, slice_key: str) -> float:
        """The slice's share of all traffic."""
        return float(self.combo_weight[self.members(slice_key)].sum())


def _greedy(weights: np.ndarray, targets: Sequence[float], order: np.ndarray) -> np.ndarray:
    """Assign items (in ``order``) to the group furthest below its target share: shares close to the targets."""
    assigned = np.zeros(len(targets))
    out = np.zeros(len(weights), dtype=np.int64)
    goal = np.asarray(targets, dtype=np.float64)
    for item in order:
        group = int(np.argmax(goal - assigned))
        out[item] = group
        assigned[group] += weights[item]
    return out


def make_platform(seed: int = 0) -> Platform:
    """The seeded platform: 200 merchants over 8 acquirers and 5 regions, times 4 brands."""
    rng = np.random.default_rng([seed, 65537])
    ranks = np.arange(1, MERCHANTS + 1, dtype=np.float64)
    weight = ranks ** -ZIPF_EXPONENT
    weight /= weight.sum()
    # Largest merchants first, so each acquirer's share lands close to its target.
    acquirer = _greedy(weight, ACQUIRER_SHARES, np.arange(MERCHANTS))
    region = _greedy(weight, REGION_SHARES, rng.permutation(MERCHANTS))
    merchants = tuple(f"m-{i:03d}" for i in range(1, MERCHANTS + 1))
    combo_merchant = np.repeat(np.arange(MERCHANTS), len(BRANDS))
    combo_brand = np.tile(np.arange(len(BRANDS)), MERCHANTS)
    combo_weight = weight[combo_merchant] * np.asarray(BRAND_SHARES)[combo_brand]
    combo_weight /= combo_weight.sum()
    acquirer_factor = rng.lognormal(0.0, DENIAL_SPREAD["acquirer"], len(ACQUIRERS))
    merchant_factor = rng.lognormal(0.0, DENIAL_SPREAD["merchant"], MERCHANTS)
    brand_factor = rng.lognormal(0.0, DENIAL_SPREAD["brand"], len(BRANDS))
    factor = acquirer_factor[acquirer[combo_merchant]] * merchant_factor[combo_merchant] * brand_factor[combo_brand]
    factor /= float((factor * combo_weight).sum())
    return Platform(merchants, weight, acquirer, region, combo_merchant, combo_brand, combo_weight, factor)


def labelled_incidents(platform: Platform, start_minute: int, minutes: int, seed: int,
                       incidents_per_day: float = 6.0) -> list[LabelledIncident]:
    """Seeded incidents taking turns through ROTATION, placed day by day at least INCIDENT_SPACING apart."""
    rng = np.random.default_rng([seed, 92821])
    return place_by_day(rng, ROTATION, start_minute, minutes, incidents_per_day, _duration, KIND_HOURS,
                        lambda kind, begin, duration: _incident(rng, platform, kind, begin, duration))


def _duration(rng: np.random.Generator, kind: str) -> int:
    if kind == "acquirer_denial":
        return ACQUIRER_DENIAL_MINUTES
    span = {"merchant_failure": MERCHANT_FAILURE_MINUTES, "brand_denial": DENIAL_MINUTES,
            "processing_failure": FAILURE_MINUTES, "reversal_burst": REVERSAL_MINUTES,
            "feed_outage": OUTAGE_MINUTES}.get(kind, DENIAL_MINUTES)
    return int(rng.integers(span[0], span[1] + 1))


def _incident(rng: np.random.Generator, platform: Platform, kind: str, begin: int, duration: int) -> LabelledIncident:
    if kind == "acquirer_denial":
        small = [a for a, share in zip(ACQUIRERS, ACQUIRER_SHARES, strict=True) if share <= SMALL_ACQUIRER_SHARE]
        return LabelledIncident(kind, begin, duration, ACQUIRER_DENIAL_MULTIPLIER, f"acquirer={rng.choice(small)}")
    if kind == "merchant_failure":
        merchant = platform.merchants[int(rng.integers(0, MERCHANT_FAILURE_TOP))]
        low, high = MERCHANT_FAILING_SHARE
        return LabelledIncident(kind, begin, duration, round(float(rng.uniform(low, high)), 2), f"merchant={merchant}")
    if kind == "brand_denial":
        low, high = BRAND_DENIAL_MULTIPLIER
        return LabelledIncident(kind, begin, duration, round(float(rng.uniform(low, high)), 2),
                                f"brand={rng.choice(BRANDS)}", driver="59")
    if kind == "feed_outage":
        return LabelledIncident(kind, begin, duration, 0.0)
    # A global kind runs mostly through one of the mid-sized acquirers (never the largest, so naming the
    # largest slice by habit is not enough to name the right one).
    focus = ACQUIRERS[int(rng.integers(1, 5))]
    return LabelledIncident(kind, begin, duration, _magnitude(rng, kind), f"acquirer={focus}")


class LabelledData:
    """Labelled minutes from ``start_minute`` for ``minutes``, made a day at a time on demand.

    ``rate``: transactions a minute on average (1,000 by default; DATA.md's platform is about 125).
    """

    def __init__(self, start_minute: int, minutes: int, seed: int = 0, *, rate: float = DEFAULT_RATE,
                 daily_cycle: bool = True, incidents: Sequence[LabelledIncident] | None = None,
                 incidents_per_day: float = 6.0):
        if minutes <= 0:
            raise ValueError("minutes must be positive")
        if not rate > 0:
            raise ValueError("rate must be a positive number of transactions a minute")
        self.start_minute = start_minute
        self.minutes = minutes
        self.seed = seed
        self.rate = rate
        self.platform = make_platform(seed)
        self._model = _Model(seed, daily_cycle)
        self.incidents = list(incidents) if incidents is not None else labelled_incidents(
            self.platform, start_minute, minutes, seed, incidents_per_day)
        for incident in self.incidents:
            if incident.kind not in LABELLED_KINDS:
                raise ValueError(f"unknown incident kind {incident.kind!r}; expected one of {', '.join(LABELLED_KINDS)}")
        self._scale = rate / sum(BASE_MEANS.values())
        self._label_dicts: list[dict[str, str]] | None = None

    # ------------------------------------------------------------ counts

    def _means(self, axis: np.ndarray, incidents: Sequence[LabelledIncident] | None = None) -> dict[str, np.ndarray]:
        """Expected counts per (minute, combination) for each of approved, code_51, code_59 and the sparse statuses."""
        volume = self._model.volume(axis) * self._scale
        weight = self.platform.combo_weight[None, :]
        out = {key: (base * volume)[:, None] * weight for key, base in BASE_MEANS.items()}
        out["code_51"] = out["code_51"] * self.platform.denial_factor[None, :]
        out["code_59"] = out["code_59"] * self.platform.denial_factor[None, :]
        first = int(axis[0])
        for incident in self.incidents if incidents is None else incidents:
            lo = max(incident.start_minute - first, 0)
            hi = min(incident.end_minute - first + 1, len(axis))
            if hi > lo and incident.kind != "feed_outage":
                self._apply(out, incident, slice(lo, hi))
        return out

    def _apply(self, out: dict[str, np.ndarray], incident: LabelledIncident, rows: slice) -> None:
        members = self.platform.members(incident.slice) if incident.slice else np.zeros(self.platform.combos, bool)
        kind = incident.kind
        if kind in ("acquirer_denial", "denial_51", "denial_59", "denial_both", "brand_denial"):
            # The slice's denials times the magnitude; a global kind's spill elsewhere a quarter of that rise.
            factor = np.where(members, incident.magnitude,
                              1.0 if incident.is_slice else 1.0 + GLOBAL_SPILL * (incident.magnitude - 1.0))
            share_51 = {"denial_51": 1.0, "denial_59": 0.0, "brand_denial": 0.0}.get(kind, 0.5)
            denied = out["code_51"][rows] + out["code_59"][rows]
            extra = (factor[None, :] - 1.0) * denied
            out["code_51"][rows] += extra * share_51
            out["code_59"][rows] += extra * (1.0 - share_51)
            _take_from_approved(out, rows, extra)
        elif kind in ("processing_failure", "merchant_failure"):
            if kind == "merchant_failure":
                # A share of the merchant's own transactions fail.
                failed = np.where(members[None, :], incident.magnitude * out["approved"][rows], 0.0)
            else:
                failed = incident.magnitude * _spread(out["approved"][rows], members)
            out["failed"][rows] += failed
            out["backend_reversed"][rows] += REVERSALS_PER_FAILURE * failed
            _take_from_approved(out, rows, failed)
        elif kind == "reversal_burst":
            out["backend_reversed"][rows] += incident.magnitude * _spread(out["approved"][rows], members)

    def counts(self, first: int, minutes: int) -> dict[str, np.ndarray]:
        """Counts per (minute, combination) for ``first`` .. ``first + minutes - 1`` (within one day's chunk or across
        chunks): approved, denied, failed, reversed, backend_reversed, refunded, code_51, code_59 (code 00 = approved)."""
        parts = [self._chunk(day)[1] for day in range(self._day(first), self._day(first + minutes - 1) + 1)]
        merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        offset = first - (self.start_minute + self._day(first) * 1440)
        return {key: values[offset:offset + minutes] for key, values in merged.items()}

    def _day(self, minute: int) -> int:
        if not self.start_minute <= minute < self.start_minute + self.minutes:
            raise ValueError(f"minute {minute} is outside the data ({self.start_minute} .. "
                             f"{self.start_minute + self.minutes - 1})")
        return (minute - self.start_minute) // 1440

    def _chunk(self, day: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        first = self.start_minute + day * 1440
        axis = np.arange(first, min(first + 1440, self.start_minute + self.minutes), dtype=np.int64)
        counts = _draw(self._means(axis), np.random.default_rng([self.seed, 31337, day]), len(axis))
        silent = np.array([any(i.kind == "feed_outage" and i.covers(int(m)) for i in self.incidents) for m in axis])
        if silent.any():
            for values in counts.values():
                values[silent] = 0
        return axis, counts

    def stream_minute(self, minute: int, incidents: Sequence[LabelledIncident] = ()) -> tuple[list[dict], list[dict]]:
        """One live minute's status and auth rows with labels (any minute, any order: seeded by the minute), for
        the demo; ``incidents`` active then shape it as in ``counts``."""
        active = [i for i in incidents if i.covers(minute)]
        if any(i.kind == "feed_outage" for i in active):
            return [], []
        axis = np.array([minute], dtype=np.int64)
        counts = _draw(self._means(axis, active), np.random.default_rng([self.seed, 31337, 2**31 + minute]), 1)
        return _minute_rows(minute, {key: values[0] for key, values in counts.items()}, self._labels())

    def _labels(self) -> list[dict[str, str]]:
        if self._label_dicts is None:
            self._label_dicts = [self.platform.labels(c) for c in range(self.platform.combos)]
        return self._label_dicts

    def silent_minutes(self) -> set[int]:
        return {m for i in self.incidents if i.kind == "feed_outage" for m in range(i.start_minute, i.end_minute + 1)}

    # ------------------------------------------------------------ rows

    def minute_rows(self, first: int | None = None, minutes: int | None = None
                    ) -> Iterator[tuple[int, list[dict], list[dict]]]:
        """(minute, status rows, auth rows) with ``labels`` dicts, in minute order; an outage minute has no rows."""
        first = self.start_minute if first is None else first
        minutes = self.start_minute + self.minutes - first if minutes is None else minutes
        labels = self._labels()
        silent = self.silent_minutes()
        day = self._day(first)
        last = first + minutes - 1
        while True:
            axis, counts = self._chunk(day)
            for index, minute in enumerate(axis.tolist()):
                if minute < first or minute > last:
                    continue
                if minute in silent:
                    yield minute, [], []
                    continue
                status_rows, auth_rows = _minute_rows(minute, {key: values[index] for key, values in counts.items()},
                                                      labels)
                yield minute, status_rows, auth_rows
            day += 1
            if int(axis[-1]) >= last:
                return

    def write_csvs(self, directory: str | Path, first: int | None = None,
                   minutes: int | None = None) -> tuple[Path, Path, Path]:
        """transactions.csv and transactions_auth_codes.csv with label columns, and labels.csv (ground truth)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = (directory / "transactions.csv", directory / "transactions_auth_codes.csv", directory / "labels.csv")
        tmp = [p.with_name(p.name + ".tmp") for p in paths]
        with tmp[0].open("w", newline="", encoding="utf-8") as status_file, \
                tmp[1].open("w", newline="", encoding="utf-8") as auth_file:
            status_file.write(",".join(("timestamp", "status", "count", *DIMENSIONS)) + "\n")
            auth_file.write(",".join(("timestamp", "auth_code", "count", *DIMENSIONS)) + "\n")
            for _minute, status_rows, auth_rows in self.minute_rows(first, minutes):
                status_file.writelines(_line(row, "status") for row in status_rows)
                auth_file.writelines(_line(row, "auth_code") for row in auth_rows)
        with tmp[2].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(("kind", "start", "end", "minutes", "magnitude", "slice", "driver"))
            for i in self.incidents:
                writer.writerow((i.kind, _timestamp(i.start_minute), _timestamp(i.end_minute), i.minutes,
                                 i.magnitude, i.slice, i.driver))
        for part, path in zip(tmp, paths, strict=True):
            part.replace(path)
        return paths


def _draw(means: dict[str, np.ndarray], rng: np.random.Generator, minutes: int) -> dict[str, np.ndarray]:
    """Counts per (minute, combination). One gamma level per minute shared by all combinations: the sums keep
    the global gamma-Poisson law of analysis.synthetic (a Poisson split of a Poisson is Poisson), and the
    slices move together a little, as a platform's do."""
    counts: dict[str, np.ndarray] = {}
    for key, shape in (("approved", APPROVED_SHAPE), ("code_51", DENIAL_SHAPE), ("code_59", DENIAL_SHAPE)):
        level = rng.gamma(shape, 1.0 / shape, size=minutes)[:, None]
        counts[key] = rng.poisson(means[key] * level)
    for key in ("failed", "reversed", "backend_reversed", "refunded"):
        counts[key] = rng.poisson(means[key])
    counts["denied"] = counts["code_51"] + counts["code_59"]
    return counts


def _minute_rows(minute: int, counts: dict[str, np.ndarray], labels: list[dict[str, str]]
                 ) -> tuple[list[dict], list[dict]]:
    """One minute's rows (zero rows omitted) from its counts per combination."""
    stamp = _timestamp(minute)
    status_rows = [{"timestamp": stamp, "status": status, "count": count, "labels": labels[combo]}
                   for status in STATUSES for combo, count in _nonzero(counts[status])]
    auth_rows = [{"timestamp": stamp, "auth_code": code, "count": count, "labels": labels[combo]}
                 for code, key in (("00", "approved"), ("51", "code_51"), ("59", "code_59"))
                 for combo, count in _nonzero(counts[key])]
    return status_rows, auth_rows


def _take_from_approved(out: dict[str, np.ndarray], rows: slice, extra: np.ndarray) -> None:
    """Declined or failed transactions are ones that would otherwise have been approved (never below 5% of them)."""
    out["approved"][rows] = np.maximum(out["approved"][rows] - extra, 0.05 * out["approved"][rows])


def _spread(approved: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Weights per (minute, combination) summing to 1 a minute: FOCUS_SHARE on ``members``, the rest on all by traffic."""
    total = approved.sum(axis=1, keepdims=True)
    mine = np.where(members[None, :], approved, 0.0)
    mine_total = mine.sum(axis=1, keepdims=True)
    focus = np.divide(mine, mine_total, out=np.zeros_like(mine), where=mine_total > 0)
    rest = np.divide(approved, total, out=np.zeros_like(approved), where=total > 0)
    return FOCUS_SHARE * focus + (1.0 - FOCUS_SHARE) * rest


def _nonzero(row: np.ndarray) -> list[tuple[int, int]]:
    index = np.flatnonzero(row)
    return list(zip(index.tolist(), row[index].tolist(), strict=True))


def _line(row: dict, key_field: str) -> str:
    labels = row["labels"]
    return (f"{row['timestamp']},{row[key_field]},{row['count']},"
            + ",".join(labels.get(d, "") for d in DIMENSIONS) + "\n")


def read_labelled_incidents(path: str | Path) -> list[LabelledIncident]:
    """Read back the ground truth ``write_csvs`` wrote."""
    from datetime import UTC, datetime

    out = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            start = datetime.strptime(row["start"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            out.append(LabelledIncident(row["kind"], int(start.timestamp() // 60), int(row["minutes"]),
                                        float(row["magnitude"]), row["slice"], row["driver"]))
    return out


def describe(data: LabelledData) -> str:
    """One line per acquirer share and the incidents, for the CLI."""
    shares = ", ".join(f"{a} {data.platform.share('acquirer=' + a):.1%}" for a in ACQUIRERS)
    return f"acquirers: {shares}; {len(data.incidents)} labelled incidents ({sum(i.is_slice for i in data.incidents)} " \
           f"confined to a slice)"

