"""Learn the day's rhythm from history: the volume profile per hour and day type, and the approval-drop rule on it.

The profile is as fine as the history supports: per hour of the week with 3 weeks of history, per hour
of weekdays and of weekends with 2 days of each (a week), per hour of day otherwise, each only when every
hour of it has clean minutes enough; else flat, and then the rule follows the day by today's trend. The drop rule's noise is measured on the clean minutes of the history, for each of its
windows, as a negative-binomial size of the window count around its expectation (moments), so the
threshold follows the data's own over-dispersion and the profile's own error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detection.drop_sequential import SequentialDropRule
from detection.rhythm import MAX_TREND, MINUTES_PER_WEEK, MONDAY_OFFSET, WEEKEND_FROM_DAY, ProfileDropRule, WeekProfile

# The approval-drop windows: 1 minute catches a stop at once, 2 and 3 a halving at the afternoon peak within
# 1-2 minutes, 5 and 8 a halving at the night trough (a halving of 20 a minute needs about 5 minutes to stand
# out of the noise), 15 a smaller but longer drop. The false-alarm budget is shared between them.
DROP_WINDOWS = (1, 2, 3, 5, 8, 15)
DROP_REFERENCE = 60  # an hour sets today's level: long enough to average, short enough to follow the day
# At least this far below the expectation: a 25% dip on a busy hour is within what traffic does by itself
# (the learned profile's own error), a halving is not. A flat profile follows the evening decline (a quarter
# of the level an hour) only by extrapolating the last hour's trend: 30% leaves room for that guess.
MIN_CHANGE_PROFILE = 0.25
MIN_CHANGE_FLAT = 0.3
MIN_EXPECTED = 5.0  # fewer approvals than this in a window: a drop cannot be told from chance
# A profile per hour of the week needs 3 weeks (each hour seen 3 times); one per weekday / weekend hour needs
# 2 days of each type (one day's hour is that day's noise); each hour of the profile needs half an hour of
# clean minutes (an incident may take the rest).
HOUR_OF_WEEK_DAYS = 21
MIN_DAYS_PER_TYPE = 2
MIN_MINUTES_PER_CELL = 30


@dataclass(frozen=True)
class ProfileChoice:
    length: int  # 1, 24, 48 or 168
    reason: str


def cell_of(minutes: np.ndarray, length: int) -> np.ndarray:
    """Index into a profile of ``length`` values for each epoch minute."""
    hour_of_week = ((minutes + MONDAY_OFFSET) % MINUTES_PER_WEEK) // 60
    if length == 168:
        return hour_of_week
    hour = hour_of_week % 24
    if length == 48:
        return hour + 24 * (hour_of_week // 24 >= WEEKEND_FROM_DAY)
    if length == 24:
        return hour
    return np.zeros(len(minutes), dtype=np.int64)


def choose_profile(minutes: np.ndarray, clean: np.ndarray, allow: bool = True) -> ProfileChoice:
    """The finest profile the clean history supports (see the module docstring)."""
    if not allow:
        return ProfileChoice(1, "flat: volume-free defaults that fit any traffic shape (following today's trend)")
    days = minutes[clean] // 1440
    weekend = ((days + 3) % 7) >= WEEKEND_FROM_DAY
    weekend_days, weekdays = len(set(days[weekend].tolist())), len(set(days[~weekend].tolist()))
    span = len(set(days.tolist()))
    for length, enough, name in (
            (168, span >= HOUR_OF_WEEK_DAYS, f"hour of week ({span} days seen, {HOUR_OF_WEEK_DAYS} needed)"),
            (48, weekend_days >= MIN_DAYS_PER_TYPE and weekdays >= MIN_DAYS_PER_TYPE,
             f"weekday / weekend hour of day ({weekdays} weekdays and {weekend_days} weekend days seen)"),
            (24, True, "hour of day")):
        per_cell = np.bincount(cell_of(minutes[clean], length), minlength=length)
        if enough and per_cell.min() >= MIN_MINUTES_PER_CELL:
            return ProfileChoice(length, f"{name}; every one of its {length} hours has at least "
                                         f"{MIN_MINUTES_PER_CELL} clean minutes")
    return ProfileChoice(1, "flat (following today's trend): the history does not cover every hour of the day")


def learn_profile(values: np.ndarray, minutes: np.ndarray, clean: np.ndarray, length: int) -> tuple[float, ...]:
    """Mean per minute of each profile cell over the clean minutes (flat: the overall mean)."""
    cells = cell_of(minutes[clean], length)
    sums = np.bincount(cells, weights=values[clean].astype(np.float64), minlength=length)
    counts = np.bincount(cells, minlength=length)
    overall = float(values[clean].mean()) if clean.any() else 0.0
    return tuple(round(float(s / c), 4) if c else round(overall, 4) for s, c in zip(sums, counts, strict=True))


def _rolling(values: np.ndarray, window: int) -> np.ndarray:
    cumulative = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
    ends = np.arange(1, len(values) + 1)
    return cumulative[ends] - cumulative[np.maximum(ends - window, 0)]


def _shift(values: np.ndarray, by: int) -> np.ndarray:
    """values[m - by] at m (NaN before the start)."""
    out = np.full(len(values), np.nan)
    out[by:] = values[:len(values) - by]
    return out


def _levels(x: np.ndarray, shape: np.ndarray, seen: np.ndarray, first_back: int, length: int,
            need: float) -> np.ndarray:
    """At each minute m: count / profile over [m - first_back - length + 1, m - first_back], NaN when fewer than
    ``need`` of those minutes have data (the computation of ``ProfileDropRule._level_of``)."""
    actual = _shift(_rolling(x * seen, length), first_back)
    weight = _shift(_rolling(shape * seen, length), first_back)
    n = _shift(_rolling(seen, length), first_back)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n >= need) & (weight > 0), actual / weight, np.nan)


def window_dispersions(x: np.ndarray, minutes: np.ndarray, received: np.ndarray, clean: np.ndarray,
                       profile: Sequence[float], windows: Sequence[int] = DROP_WINDOWS,
                       reference: int = DROP_REFERENCE, trend: bool = False) -> list[float | None]:
    """Negative-binomial size of each window's count around the rule's own expectation, on clean minutes.

    The expectation is computed as ``ProfileDropRule`` does (today's level from the reference hour,
    extrapolated along its trend when ``trend``, times the profile over the window; on clean minutes the
    rule's leaving out of dips in the reference has nothing to leave out, so it is not repeated); the size comes
    from the moments: variance = mean + mean^2 / size. None (Poisson) when there is no variance beyond
    Poisson or too few windows.
    """
    shape = np.array(WeekProfile(profile).by_minute)[(minutes + MONDAY_OFFSET) % MINUTES_PER_WEEK]
    seen = received.astype(np.float64)
    x = x.astype(np.float64)
    longest = max(windows)
    all_clean = _rolling(clean.astype(np.float64), longest + reference) == longest + reference
    half = reference // 2
    if trend:
        newer = _levels(x, shape, seen, longest, half, half // 2)
        older = _levels(x, shape, seen, longest + half, half, half // 2)
    else:
        flat_level = _levels(x, shape, seen, longest, reference, reference / 2)
    sizes: list[float | None] = []
    for window in windows:
        if trend:
            ahead = ((half - 1) / 2 + longest - (window - 1) / 2) / half
            change = np.clip((newer - older) * ahead, -MAX_TREND * newer, MAX_TREND * newer)
            level = np.maximum(newer + change, 0.0)
        else:
            level = flat_level
        observed = _rolling(x, window)
        mean = level * _rolling(shape, window)
        ok = all_clean & np.isfinite(mean) & (mean >= MIN_EXPECTED)
        if ok.sum() < 300:
            sizes.append(None)
            continue
        excess = float(((observed[ok] - mean[ok]) ** 2 - mean[ok]).sum())
        sizes.append(None if excess <= 0 else round(max(float((mean[ok] ** 2).sum()) / excess, 1.0), 2))
    return sizes


def approval_drop_rule(x: np.ndarray, minutes: np.ndarray, received: np.ndarray, clean: np.ndarray,
                       choice: ProfileChoice, p_value: float, metric: str = "status:approved") -> ProfileDropRule:
    """The approval-drop rule on the chosen profile; a flat profile follows the day by the reference's trend."""
    profile = learn_profile(x, minutes, clean, choice.length)
    trend = choice.length == 1
    return ProfileDropRule(
        rule_id="approved_drop", metric=metric, severity="critical", for_minutes=1, resolve_minutes=5,
        profile=profile, windows=DROP_WINDOWS,
        dispersion=window_dispersions(x, minutes, received, clean, profile, trend=trend),
        p_value=p_value, min_change=MIN_CHANGE_PROFILE if not trend else MIN_CHANGE_FLAT,
        reference=DROP_REFERENCE, min_expected=MIN_EXPECTED, trend=trend,
        description="approvals far below what this hour of this kind of day normally has",
    )


# The sequential approval-drop rule (detection/drop_sequential.py): a halving, judged over up to 15 minutes
# (the profile_drop's longest window, so both rules take today's level from the same reference hour).
SEQUENTIAL_DROP = 0.5
SEQUENTIAL_LOOKBACK = 15
# The threshold is first set from the budget by Lorden's bound (a CUSUM whose LLR is the true one breaches
# falsely at most exp(-threshold) a judged minute, at any volume), then checked on the clean history at
# thresholds 3, 4 and 5 lower, where false breaches are frequent enough to count (e^3 to e^5, 20 to 150 times
# the budget): where the history breaches more often than the bound allows (the model is wrong: today's level
# is off by the same amount for every minute of a segment, so minutes are not independent and the tail is
# heavier than exp(-threshold)), the threshold is raised by the log of the largest excess. A level with fewer
# than CHECK_MIN_BREACHES breaches says too little to count.
CHECK_BELOW = (5.0, 4.0, 3.0)
CHECK_MIN_BREACHES = 3


@dataclass(frozen=True)
class SequentialChoice:
    threshold: float
    reason: str


def sequential_evidence(x: np.ndarray, minutes: np.ndarray, received: np.ndarray, profile: Sequence[float],
                        trend: bool, dispersion: float | None, min_change: float, drop: float = SEQUENTIAL_DROP,
                        lookback: int = SEQUENTIAL_LOOKBACK, reference: int = DROP_REFERENCE,
                        min_expected: float = MIN_EXPECTED) -> np.ndarray:
    """Per minute, the evidence ``SequentialDropRule`` would weigh against its threshold (the strongest
    qualifying segment's LLR sum; -inf where no segment qualifies or the newest minute does not look like the
    drop), vectorised over the history. As in ``window_dispersions``, the reference's leaving out of dips is
    not repeated: on clean minutes there is nothing to leave out."""
    shape = np.array(WeekProfile(profile).by_minute)[(minutes + MONDAY_OFFSET) % MINUTES_PER_WEEK]
    seen = received.astype(np.float64)
    counts = x.astype(np.float64)
    half = reference // 2
    n = len(counts)
    if trend:
        newer = _levels(counts, shape, seen, lookback, half, half // 2)
        older = _levels(counts, shape, seen, lookback + half, half, half // 2)
    else:
        level = _levels(counts, shape, seen, lookback, reference, reference / 2)
    evidence = np.zeros(n)
    observed = np.zeros(n)
    expected_sum = np.zeros(n)
    best = np.full(n, -np.inf)
    newest_ok = np.zeros(n, dtype=bool)
    log_keep = np.log(1.0 - drop)
    for lag in range(lookback):
        count_at, shape_at, seen_at = (_shift(v, lag) for v in (counts, shape, seen))
        if trend:
            ahead = ((half - 1) / 2 + lookback - lag) / half
            change = np.clip((newer - older) * ahead, -MAX_TREND * newer, MAX_TREND * newer)
            at = np.maximum(newer + change, 0.0) * shape_at
        else:
            at = level * shape_at
        usable = (seen_at > 0) & np.isfinite(at) & (at > 0)
        mu = np.where(usable, at, 1.0)
        lower = (1.0 - drop) * mu
        if dispersion is None:
            llr = mu - lower + np.nan_to_num(count_at) * log_keep
        else:
            k = dispersion
            llr = k * np.log((k + mu) / (k + lower)) + np.nan_to_num(count_at) * np.log(lower * (k + mu) / (mu * (k + lower)))
        llr = np.where(usable, llr, 0.0)
        if lag == 0:
            newest_ok = usable & (llr > 0)
        evidence += llr
        observed += np.where(usable, np.nan_to_num(count_at), 0.0)
        expected_sum += np.where(usable, mu, 0.0)
        qualifies = (expected_sum >= min_expected) & (observed <= (1.0 - min_change) * expected_sum)
        best = np.where(qualifies, np.maximum(best, evidence), best)
    known = np.isfinite(newer if trend else level)
    return np.where(newest_ok & known, best, -np.inf)


def choose_sequential_threshold(evidence: np.ndarray, judged: np.ndarray, p_value: float) -> SequentialChoice:
    """The threshold for a per-judged-minute false-alarm budget ``p_value`` (see ``CHECK_BELOW``)."""
    bound = math.log(1.0 / p_value)
    values = evidence[judged]
    if len(values) == 0:
        return SequentialChoice(round(bound, 2), f"{bound:.2f} = ln(1 / {p_value:.3g}) (Lorden's bound; no clean "
                                                 f"history to check it on)")
    checks = []
    worst = 1.0
    for below in CHECK_BELOW:
        level = bound - below
        breaching = values >= level
        starts = int(np.sum(breaching[1:] & ~breaching[:-1]) + breaching[0])
        allowed = len(values) * math.exp(-level)
        checks.append(f"{starts} at {level:.2f} ({allowed:.1f} allowed)")
        if starts >= CHECK_MIN_BREACHES:
            worst = max(worst, starts / allowed)
    threshold = bound + math.log(worst)
    verdict = f"the clean history ({len(values)} judged minutes) breaches " + ", ".join(checks)
    if worst > 1.0:
        verdict += f", so raised by ln({worst:.2f})"
    return SequentialChoice(round(threshold, 2), f"{threshold:.2f}: ln(1 / {p_value:.3g}) = {bound:.2f} "
                                                 f"(Lorden's bound for the budget); {verdict}")


def sequential_drop_rule(x: np.ndarray, minutes: np.ndarray, received: np.ndarray, clean: np.ndarray,
                         drop_rule: ProfileDropRule, p_value: float) -> tuple[SequentialDropRule, str]:
    """The sequential approval-drop rule beside ``drop_rule`` (same profile, level, minimum change), its
    per-minute negative-binomial size the 1-minute window's, its threshold from ``p_value``; and why."""
    size = drop_rule.dispersion[0] if drop_rule.windows[0] == 1 else None
    evidence = sequential_evidence(x, minutes, received, drop_rule.profile.values, drop_rule.trend, size,
                                   drop_rule.min_change)
    span = SEQUENTIAL_LOOKBACK + DROP_REFERENCE
    judged = (_rolling(clean.astype(np.float64), span) == span) & received.astype(bool)
    choice = choose_sequential_threshold(evidence, judged, p_value)
    rule = SequentialDropRule(
        rule_id="approved_drop_sequential", metric=drop_rule.metric, severity="critical", for_minutes=1,
        resolve_minutes=5, profile=drop_rule.profile.values, threshold=choice.threshold, drop=SEQUENTIAL_DROP,
        dispersion=size, lookback=SEQUENTIAL_LOOKBACK, reference=DROP_REFERENCE, min_change=drop_rule.min_change,
        min_expected=MIN_EXPECTED, trend=drop_rule.trend,
        description="approvals falling towards half of what this hour of this kind of day normally has, "
                    "minute after minute",
    )
    return rule, choice.reason
