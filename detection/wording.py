"""Alert wording in an analyst's words: a plain message (what, how much, against what normal) and a detail
line holding the statistics behind it (window, baseline, tail probability, minimum count, the firing limit).

Every rule type and the feed alerts build their text here, so all alerts read alike. Numbers are rounded
for reading: counts as integers, rates to 2 significant figures, percentages whole (a share under 1% keeps
one significant figure, so a small share never reads as 0%).
"""

from __future__ import annotations

import numpy as np

from .metrics import (
    AUTH_CODE_FEED,
    RATE_PREFIX,
    metric_label,
    metric_name,
    minute_to_datetime,
    minute_to_iso,
    split_metric,
)

# Below this many per minute a count reads better as "7 in 5 min, about 0.3 expected" than as a rate.
SPARSE_BELOW_PER_MINUTE = 2.0


# ----------------------------------------------------------------- numbers

def count(value: float) -> str:
    return str(round(value))


def rate(value: float) -> str:
    """Two significant figures, never in exponent form: 112 -> '110', 0.31 -> '0.31'."""
    return np.format_float_positional(value, precision=2, unique=True, fractional=False, trim="-")


def per_minute(value: float) -> str:
    return f"{rate(value)}/min"


def percent(share: float) -> str:
    """A share (0.36) as a whole percentage ('36%'); under 1%, one significant figure ('0.4%')."""
    points = share * 100
    if points == 0 or abs(points) >= 1:
        return f"{round(points)}%"
    return np.format_float_positional(points, precision=1, unique=True, fractional=False, trim="-") + "%"


def change(value: float, expected: float) -> str:
    """Signed whole-percent change against normal: '-53%', '+40%'."""
    return f"{round((value / expected - 1) * 100):+d}%"


def times(value: float, expected: float) -> str:
    return f"{rate(value / expected)}x"


def probability(p: float) -> str:
    return f"{p:.2g}"


def clock(minute: int) -> str:
    """Hour and minute of an epoch minute, UTC, as an analyst reads it on a page: '17:09'."""
    return minute_to_datetime(minute).strftime("%H:%M")


def law(dispersion: float | None) -> str:
    return "Poisson" if dispersion is None else f"negative binomial, size {rate(dispersion)}"


def headword(metric: str) -> str:
    """The metric's plain name, capitalised to start a message: 'Failed transactions'."""
    name = metric_name(metric)
    return name[:1].upper() + name[1:]


def _reference_name(metric: str) -> str:
    kind, key = split_metric(metric)
    return f"code {key}" if kind == AUTH_CODE_FEED else metric_name(metric)


def _points(share: float) -> str:
    return np.format_float_positional(share * 100, precision=3, unique=True, fractional=False, trim="-") + "%"


def _away(direction: str) -> str:
    return "below" if direction == "below" else "above"


# ------------------------------------------------------------- messages

def count_message(metric: str, observed: float, window: int, expected: float | None) -> str:
    """A sparse count over a window: 'Failed transactions: 7 in 5 min, about 0.3 expected'."""
    text = f"{headword(metric)}: {count(observed)} in {window} min"
    if expected is not None:
        text += f", about {rate(expected)} expected"
    return text


def level_message(metric: str, value: float, expected: float | None) -> str:
    """A per-minute level against its normal: 'Denials: 38/min, about 4.2/min normally (9x)'."""
    text = f"{headword(metric)}: {per_minute(value)}"
    if expected is not None:
        text += f", about {per_minute(expected)} normally"
        if expected > 0:
            text += f" ({times(value, expected)})"
    return text


def window_count_message(metric: str, observed: float, window: int, expected: float | None) -> str:
    """A count judged over a window, in whichever reads better: a count when sparse, a rate otherwise.

    ``observed`` and ``expected`` are whole-window counts.
    """
    if expected is None or expected / window < SPARSE_BELOW_PER_MINUTE:
        return count_message(metric, observed, window, expected)
    return level_message(metric, observed / window, expected / window)


def share_message(metric: str, share: float, usual: float) -> str:
    """A status's share of all transactions: 'Denied share: 36% of transactions, usually 5%'."""
    return f"{headword(metric)}: {percent(share)} of transactions, usually {percent(usual)}"


def baseline_message(metric: str, value: float, expected: float | None, hourly: bool) -> str:
    """A level against its baseline: 'Approvals: 52/min, about 110/min expected at this hour (-53%)'."""
    text = f"{headword(metric)}: {per_minute(value)}"
    if expected is not None:
        text += f", about {per_minute(expected)} expected" + (" at this hour" if hourly else "")
        if expected > 0:
            text += f" ({change(value, expected)})"
    return text


def drop_message(metric: str, value: float, level: float | None, reference: int) -> str:
    """A level against its own recent past: 'Approvals: 52/min, about 110/min in the 60 min before (-53%)'."""
    text = f"{headword(metric)}: {per_minute(value)}"
    if level is not None:
        text += f", about {per_minute(level)} in the {reference} min before"
        if level > 0:
            text += f" ({change(value, level)})"
    return text


def threshold_message(metric: str, value: float, direction: str, threshold: float) -> str:
    """A static limit: 'Failed transactions: 12/min, above the limit of 10/min'."""
    if metric.startswith(RATE_PREFIX):
        return (f"{headword(metric)}: {percent(value)} of transactions, "
                f"{_away(direction)} the limit of {percent(threshold)}")
    return f"{headword(metric)}: {count(value)}/min, {_away(direction)} the limit of {per_minute(threshold)}"


def no_data_message(feed_metric: str, silent_minutes: float, last_minute: int | None) -> str:
    """A silent feed: 'No transactions received for 7 min (last data 17:09 UTC)'."""
    last = f"last data {clock(last_minute)} UTC" if last_minute is not None else "nothing received yet"
    return f"No {metric_name(feed_metric)} received for {int(silent_minutes)} min ({last})"


def feed_gap_message(feed_metric: str, first: int, last: int) -> str:
    """Minutes missing between received ones: 'No transactions received for 7 min (17:09 to 17:15 UTC)'."""
    span = clock(first) if first == last else f"{clock(first)} to {clock(last)}"
    return f"No {metric_name(feed_metric)} received for {last - first + 1} min ({span} UTC)"


# --------------------------------------------------------------- details

def tail_detail(observed: float, window: int, expected: float | None, limit: float, min_count: int,
                p_value: float, dispersion: float | None, ratio: float, per: str) -> str:
    """The statistics of a tail rule (whole-window counts): baseline, limit, min count, tail probability, law."""
    text = f"{count(observed)} in a {window}-min window"
    if expected is not None:
        text += f" against {rate(expected)} expected"
    return (f"{text} ({rate(ratio * 100)} per 100 {_reference_name(per)}); fires at {count(limit)} or more: "
            f"at least {min_count} and an upper-tail probability of at most {probability(p_value)} "
            f"({law(dispersion)})")


def share_detail(share: float, window: int, baseline: float, limit: float, direction: str, min_count: int,
                 p_value: float, dispersion: float | None, counted: str) -> str:
    """The statistics of a share rule; shares keep 3 significant figures here, so a limit of 12.5% reads as such."""
    text = (f"{_points(share)} over a {window}-min window against a usual {_points(baseline)}; "
            f"fires at {_points(limit)} or ")
    if direction == "below":
        return text + f"less: a lower-tail probability of at most {probability(p_value)} ({law(dispersion)})"
    return (text + f"more: at least {min_count} {metric_name(counted)} and an upper-tail probability of at most "
            f"{probability(p_value)} ({law(dispersion)})")


def baseline_detail(value: float, window: int, expected: float | None, limit: float, direction: str, z: float,
                    relative_sd: float, min_change: float, hourly: bool) -> str:
    """The statistics of a baseline (seasonal) rule: window mean, baseline, limit, z and minimum change."""
    text = f"{per_minute(value)} over a {window}-min window"
    if expected is not None:
        text += f" against {per_minute(expected)} from the {'hour-of-day' if hourly else 'flat'} baseline"
    return (f"{text}; fires {_away(direction)} {per_minute(limit)}: more than {z:g} sd (Poisson noise plus "
            f"{percent(relative_sd)} of the level) and at least {percent(min_change)} away")


def drop_detail(value: float, window: int, level: float | None, reference: int, limit: float, max_ratio: float,
                min_level: float) -> str:
    """The statistics of a drop rule: recent mean, reference level, the ratio it fires at, the floor."""
    text = f"{per_minute(value)} over the last {window} min"
    if level is not None:
        text += f" against {per_minute(level)} over the {reference} min before"
    return (f"{text}; fires below {percent(max_ratio)} of that level ({per_minute(limit)}); "
            f"not judged while that level is under {per_minute(min_level)}")


def threshold_detail(metric: str, value: float, direction: str, threshold: float, recovery: float | None) -> str:
    """The numbers of a static limit, and the recovery bound a firing alert must get back past."""
    is_share = metric.startswith(RATE_PREFIX)
    shown = percent if is_share else per_minute
    text = f"{percent(value)} of the minute's transactions" if is_share else f"{count(value)} in the minute"
    text += f"; fires {_away(direction)} {shown(threshold)}"
    if recovery is not None:
        text += f", clean again at or {'above' if direction == 'below' else 'below'} {shown(recovery)}"
    return text


def no_data_detail(feed_metric: str, silent_minutes: float, after_minutes: int, last_minute: int | None) -> str:
    newest = minute_to_iso(last_minute) if last_minute is not None else "none yet"
    return (f"nothing received on the {metric_label(feed_metric)} for {silent_minutes:g} min of wall-clock "
            f"time (alert after {after_minutes} min); newest event minute {newest}")


def feed_gap_detail(feed_metric: str, first: int, last: int) -> str:
    return (f"event-time minutes {minute_to_iso(first)} to {minute_to_iso(last)} missing from the "
            f"{metric_label(feed_metric)} while later minutes arrived; they were not judged")
