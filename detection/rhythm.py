"""The day's rhythm for detection: a level per hour of day / day type / week, and a drop rule judged against it.

``WeekProfile`` reads what the thresholds file says normal volume looks like (1 number: flat; 24: per UTC
hour of day; 48: weekday hours then weekend hours; 168: per hour of the week from Monday 00:00 UTC) and
gives a per-minute level, linearly interpolated between hour midpoints so the evening decline is followed
minute by minute rather than in hourly steps.

``ProfileDropRule`` (type ``profile_drop``) judges a high count (approvals) against that shape, scaled to
today's level by the hour before the judged windows: what this minute of this kind of day normally looks
like, at today's volume (with ``trend``: along today's change over that hour, for flat profiles that
cannot know the shape of the day). A window far below it (negative-binomial lower tail, and at least ``min_change``
below) breaches; several window lengths catch a stop at once and a halving at night within minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from .metrics import RATE_PREFIX, feed_of
from .rules import ConfigError, FieldReader, Judgement, Rule, register_rule
from .series import SeriesView
from .stat_rules import TailTable

PROFILE_LENGTHS = {1: "flat", 24: "hour of day", 48: "weekday / weekend hour of day", 168: "hour of week"}
MINUTES_PER_WEEK = 7 * 1440
MONDAY_OFFSET = 3 * 1440  # epoch minute 0 is a Thursday: adding 3 days counts minutes from a Monday
WEEKEND_FROM_DAY = 5  # Saturday and Sunday (UTC) are the weekend
MAX_WINDOW = 60
MAX_REFERENCE = 24 * 60
# Reference minutes below this share of the reference's median (count against profile) are an incident
# that just ended, not today's level; a trend moves the level by at most MAX_TREND of itself.
DIP_SHARE = 0.75
MAX_TREND = 0.3
# first_breach: from this many minutes on, blocks of up to BULK_BLOCK minutes are screened at once (fewer are
# judged one by one: the screen's fixed cost is a few plain judgements).
BULK_FROM = 4
BULK_BLOCK = 240


def minute_of_week(minute: int) -> int:
    """Minutes since Monday 00:00 UTC of the epoch minute's week."""
    return (minute + MONDAY_OFFSET) % MINUTES_PER_WEEK


def hour_of_week_values(values: Sequence[float]) -> list[float]:
    """The 168 hourly levels of a week (Monday 00:00 UTC first) for a profile of 1, 24, 48 or 168 values."""
    if len(values) == 1:
        return [float(values[0])] * 168
    if len(values) == 24:
        return [float(v) for v in values] * 7
    if len(values) == 48:
        weekday, weekend = list(values[:24]), list(values[24:])
        return [float(v) for v in weekday * WEEKEND_FROM_DAY + weekend * (7 - WEEKEND_FROM_DAY)]
    if len(values) == 168:
        return [float(v) for v in values]
    raise ValueError(f"a profile has 1, 24, 48 or 168 values, not {len(values)}")


class WeekProfile:
    """Per-minute expected level from hourly levels, interpolated between hour midpoints around the week."""

    def __init__(self, values: Sequence[float]):
        import numpy as np  # only when a rhythm rule is built

        self.values = tuple(float(v) for v in values)
        hourly = np.array(hour_of_week_values(self.values))
        # Hour h's level sits at minute 60h + 29.5; the week wraps (Sunday 23:30 -> Monday 00:30).
        centres = np.arange(-1, 169) * 60 + 29.5
        levels = np.concatenate(([hourly[-1]], hourly, [hourly[0]]))
        self.array = np.interp(np.arange(MINUTES_PER_WEEK), centres, levels)  # for the bulk skip-ahead
        self.by_minute: list[float] = self.array.tolist()
        # The week once more at its end, so any reference or window is one slice from its first minute.
        self.wrapped = self.by_minute + self.by_minute[:MAX_REFERENCE + MAX_WINDOW * 2]

    def span(self, first: int, minutes: int) -> list[float]:
        """The per-minute levels of ``minutes`` minutes from epoch minute ``first`` on."""
        start = minute_of_week(first)
        return self.wrapped[start:start + minutes]

    @property
    def kind(self) -> str:
        return PROFILE_LENGTHS[len(self.values)]

    def at(self, minute: int) -> float:
        return self.by_minute[minute_of_week(minute)]


@lru_cache(maxsize=64)  # n is the reference length or a little less: a few sizes, asked every minute
def _neighbourhoods(n: int) -> tuple[tuple[int, int, int], ...]:
    """(first, end, width) of the up-to-5 minutes centred on each of n minutes, for running-sum look-ups."""
    return tuple((max(i - 2, 0), min(i + 3, n), min(i + 3, n) - max(i - 2, 0)) for i in range(n))


def read_week_profile(reader: FieldReader, key: str) -> tuple[float, ...]:
    """A profile field: 1, 24, 48 or 168 non-negative numbers (hours at 0 are never judged)."""
    reader.used.add(key)
    if key not in reader.obj:
        raise ConfigError(f"{reader.where}.{key}: is required")
    value = reader.obj[key]
    values = value if isinstance(value, list) else [value]
    ok = len(values) in PROFILE_LENGTHS and all(
        not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in values
    )
    if not ok:
        raise ConfigError(
            f"{reader.where}.{key}: expected a number >= 0 (flat) or a list of 24 (per UTC hour of day), "
            f"48 (24 weekday hours, then 24 weekend hours) or 168 (per hour of the week from Monday 00:00 UTC) "
            f"non-negative numbers, got {_short(value)}"
        )
    return tuple(float(v) for v in values)


def _short(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} values" if len(value) not in PROFILE_LENGTHS else repr(value[:4])[:-1] + ", ...]"
    return repr(value)


def profile_rule_fields(rule: type[Rule], reader: FieldReader, metrics: Iterable[str]) -> dict[str, Any]:
    """The fields every rule judged against the week profile reads: the common ones, a count metric (not a
    rate), the profile, and how today's level is taken (``reference``, ``min_change``, ``min_expected``,
    ``trend``). The rule reads its own fields after these."""
    common = rule.common_fields(reader, metrics)
    if common["metric"].startswith(RATE_PREFIX):
        raise ConfigError(f"{reader.where}.metric: a {rule.type_name} rule watches a count such as "
                          f"'status:approved', got {common['metric']!r}")
    common["profile"] = read_week_profile(reader, "profile")
    reference = reader.int("reference", 60, minimum=10)
    if reference > MAX_REFERENCE:
        raise ConfigError(f"{reader.where}.reference: expected an integer from 10 to {MAX_REFERENCE}, "
                          f"got {reference}")
    min_change = reader.number("min_change", 0.25, minimum=0.0)
    if min_change >= 1:
        raise ConfigError(f"{reader.where}.min_change: expected a fraction below 1, got {min_change!r}")
    min_expected = reader.number("min_expected", 5.0, minimum=0.0)
    reader.used.add("trend")
    trend = reader.obj.get("trend", False)
    if not isinstance(trend, bool):
        raise ConfigError(f"{reader.where}.trend: expected true or false, got {trend!r}")
    return {**common, "reference": reference, "min_change": min_change, "min_expected": min_expected,
            "trend": trend}


def profile_param(profile: WeekProfile) -> float | list[float]:
    """The profile as the thresholds file writes it: one number when flat, else the rounded list."""
    values = profile.values
    return values[0] if len(values) == 1 else [round(v, 4) for v in values]


class AgainstProfile:
    """What the rules judged against the week profile share: lower is worse, and normal for drawing is the
    profile's level at the minute (a flat profile that follows today's trend knows nothing of the minute
    by itself: None)."""

    profile: WeekProfile
    trend: bool

    def worse(self, new: float, old: float) -> bool:
        return new < old

    def expected(self, minute: int) -> float | None:
        return None if self.trend else self.profile.at(minute)


@register_rule
class ProfileDropRule(AgainstProfile, Rule):
    """A count far below what this minute of this kind of day normally has, at today's level.

    Expected window count = ``level`` x (the profile summed over the window), where ``level`` is the
    count over the ``reference`` minutes before the longest window divided by the profile over the same
    minutes (minutes without data left out of both). A window of length ``windows[i]`` breaches when its
    count is in the negative-binomial lower tail (size ``dispersion[i]``, Poisson when null) of
    probability ``p_value / len(windows)`` (the budget is shared between the windows) and at least
    ``min_change`` below its expectation. Windows whose expectation is below ``min_expected`` are not
    judged: too few transactions to tell a drop from chance. A minute the feed sent nothing for is a
    feed gap (its own alert), not a drop: a window holding one is not judged.
    """

    type_name = "profile_drop"

    def __init__(self, *, profile: Sequence[float], windows: Sequence[int], dispersion: Sequence[float | None],
                 p_value: float, min_change: float = 0.25, reference: int = 60, min_expected: float = 5.0,
                 trend: bool = False, **common: Any):
        super().__init__(**common)
        self.profile = WeekProfile(profile)
        self.windows = tuple(windows)
        self.dispersion = tuple(dispersion)
        self.p_value = p_value
        self.min_change = min_change
        self.reference = reference
        self.min_expected = min_expected
        self.trend = trend
        self._feed = feed_of(self.metric)
        share = p_value / len(self.windows)
        self._tables = [TailTable(share, size, lower=True) for size in self.dispersion]

    def levels(self, view: SeriesView, minute: int) -> tuple[float, float | None] | None:
        """(level, change per half reference) before the windows ending at ``minute``; None when too few
        reference minutes have data. The change is None without ``trend``.

        Reference minutes far below the others (their 5-minute neighbourhood under ``DIP_SHARE`` of the
        reference's median count against profile) are left out: they are an incident (a drop, an outage)
        that just ended, and today's level is what traffic was around it.
        """
        counts, seen = view.counts_of(self.metric), view.received_of(self._feed)
        end = minute - max(self.windows)
        half = self.reference // 2
        first = end - self.reference + 1
        pairs: list[tuple[int, int, float]] = []  # (minute, count, profile) for reference minutes with data
        for m, shape in zip(range(first, end + 1), self.profile.span(first, self.reference), strict=True):
            if m in seen and shape > 0:
                pairs.append((m, counts.get(m, 0), shape))
        if len(pairs) * 2 < self.reference:
            return None
        # A minute is judged by the 5 minutes around it (one noisy minute is not a dip; a halving is).
        running = [0.0]
        for _, count, shape in pairs:
            running.append(running[-1] + count / shape)
        n = len(pairs)
        smooth = [(running[high] - running[low]) / width for low, high, width in _neighbourhoods(n)]
        floor = DIP_SHARE * sorted(smooth)[n // 2]
        newer = [(c, p) for (m, c, p), level in zip(pairs, smooth, strict=True) if level >= floor and m > end - half]
        older = [(c, p) for (m, c, p), level in zip(pairs, smooth, strict=True) if level >= floor and m <= end - half]

        def level_of(kept: list[tuple[int, float]]) -> float | None:
            weight = sum(shape for _, shape in kept)
            return sum(count for count, _ in kept) / weight if len(kept) * 4 >= half and weight > 0 else None

        if not self.trend:
            level = level_of(newer + older)
            return None if level is None else (level, None)
        recent, before = level_of(newer), level_of(older)
        if recent is None or before is None:
            return None
        return recent, recent - before

    def _extrapolate(self, found: tuple[float, float | None], minute: int, window: int) -> float:
        """Today's level against the profile for the ``window`` ending at ``minute``, from ``levels()``.

        With ``trend`` the level is the newer half of the reference extrapolated along the change from the
        older half to the middle of the window (at most ``MAX_TREND`` of its value either way): a flat
        profile then follows the evening decline and the morning rise instead of lagging behind them.
        """
        level, change = found
        if change is None:
            return level
        half = self.reference // 2
        # From the newer half's middle to the window's middle, in units of the halves' spacing.
        newer_middle, window_middle = minute - max(self.windows) - (half - 1) / 2, minute - (window - 1) / 2
        ahead = (window_middle - newer_middle) / half
        return max(level + max(-MAX_TREND * level, min(MAX_TREND * level, change * ahead)), 0.0)

    def judge(self, view: SeriesView, minute: int) -> Judgement:
        found = self.levels(view, minute)
        if found is None:
            return Judgement(False, 0.0, 0.0, True, None)
        counts, seen = view.counts_of(self.metric), view.received_of(self._feed)
        by_minute = self.profile.by_minute
        observed = 0
        shape = 0.0
        judged: Judgement | None = None
        length = 0
        for index, window in enumerate(self.windows):
            # Grow the sums from the previous (shorter) window: the windows all end at ``minute``.
            for m in range(minute - window + 1, minute - length + 1):
                if m not in seen:
                    return judged or Judgement(False, 0.0, 0.0, True, None)  # a feed gap: its own alert
                observed += counts.get(m, 0)
                shape += by_minute[minute_of_week(m)]
            length = window
            expected = self._extrapolate(found, minute, window) * shape
            if expected < self.min_expected:
                continue
            critical = min(self._tables[index].critical_count(expected), (1 - self.min_change) * expected)
            breach = observed <= critical
            verdict = Judgement(breach, observed / window, critical / window, not breach, expected / window, window)
            if breach:
                return verdict
            judged = verdict
        return judged or Judgement(False, 0.0, 0.0, True, None)

    def first_breach(self, view: SeriesView, minutes: Sequence[int], start: int) -> int | None:
        """A bulk replay's quiet stretches are ruled out a block at a time (detection/rhythm_scan.py); the
        plain ``judge`` decides every minute the block could not rule out, so the first breach is judge's."""
        from .rhythm_scan import possible_breaches  # numpy, only once a rule judges in bulk

        index = start
        while len(minutes) - index >= BULK_FROM:
            stop = min(index + BULK_BLOCK, len(minutes))
            for found in possible_breaches(self, view, minutes[index:stop]):
                if self.judge(view, minutes[index + found]).breach:
                    return index + found
            index = stop
        return super().first_breach(view, minutes, index)  # a few minutes (live traffic): judged one by one

    def bounds(self, minute: int) -> tuple[float | None, float | None]:
        """The longest window's per-minute limit at the profile's usual level (for drawing a band)."""
        expected = self.expected(minute)
        if expected is None:
            return (None, None)
        window = self.windows[-1]
        mean = expected * window
        if mean < self.min_expected:
            return (None, None)
        critical = min(self._tables[-1].critical_count(mean), (1 - self.min_change) * mean)
        return (critical / window, None)

    def condition_text(self) -> str:
        span = "/".join(str(w) for w in self.windows)
        return (f"below what this hour of this kind of day normally has ({self.profile.kind} profile, at today's "
                f"level) by more than chance allows (p < {self.p_value:.0e}) and by {self.min_change:.0%}, "
                f"over {span} min")

    def params(self) -> dict[str, Any]:
        return {"profile": profile_param(self.profile),
                "windows": list(self.windows), "dispersion": list(self.dispersion), "p_value": self.p_value,
                "min_change": self.min_change, "reference": self.reference, "min_expected": self.min_expected,
                "trend": self.trend}

    @classmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> ProfileDropRule:
        fields = profile_rule_fields(cls, reader, metrics)
        windows = _windows(reader)
        dispersion = _dispersions(reader, len(windows))
        p_value = reader.number("p_value")
        if not 0 < p_value < 0.5:
            raise ConfigError(f"{reader.where}.p_value: expected a probability between 0 and 0.5, got {p_value!r}")
        reader.reject_unknown(("type", "description"))
        return cls(windows=windows, dispersion=dispersion, p_value=p_value, **fields)


def _windows(reader: FieldReader) -> tuple[int, ...]:
    reader.used.add("windows")
    value = reader.obj.get("windows")
    ok = (isinstance(value, list) and 1 <= len(value) <= 6
          and all(type(w) is int and 1 <= w <= MAX_WINDOW for w in value)
          and all(a < b for a, b in zip(value, value[1:], strict=False)))
    if not ok:
        raise ConfigError(f"{reader.where}.windows: expected 1 to 6 increasing window lengths in minutes "
                          f"(integers from 1 to {MAX_WINDOW}), got {value!r}")
    assert isinstance(value, list)
    return tuple(value)


def _dispersions(reader: FieldReader, count: int) -> tuple[float | None, ...]:
    reader.used.add("dispersion")
    value = reader.obj.get("dispersion", [None] * count)
    ok = isinstance(value, list) and len(value) == count and all(
        v is None or (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0)
        for v in value)
    if not ok:
        raise ConfigError(f"{reader.where}.dispersion: expected one negative-binomial size (> 0) or null per "
                          f"window ({count} values), got {value!r}")
    return tuple(None if v is None else float(v) for v in value)
