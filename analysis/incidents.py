"""Incidents found in history: the learned rules replayed through the real engine, grouped and named by it.

The Monitor's own ``IncidentTracker`` decides which alerts are one incident, its kind, drivers, title
and summary; nothing here groups or classifies. ``named_code`` reads the driving auth code from the
engine's drivers, for the report and the evaluation alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from analysis.learn import Analysis
from analysis.replay import EngineIncident, MinuteRows, replay_run
from detection.incidents import Driver
from detection.metrics import auth_code_metric, minute_to_datetime, status_metric

# The generator's labels put 100% of a single-code spike's extra declines on its code and 50% on each in
# a "both" spike: "both" when codes 51 and 59 each carry at least this share (midway between 0% and 50%).
BOTH_CODES_SHARE = 0.25
DRIVING_CODES = ("51", "59")


def history_rows(analysis: Analysis) -> list[MinuteRows]:
    """The history as replayable minute rows (only the minutes the exports had)."""
    history = analysis.history
    stamps = [minute_to_datetime(m).strftime("%Y-%m-%d %H:%M:%S")
              for m in range(history.start, history.start + history.minutes)]
    status_keys = history.status.keys
    status = {s: history.series(status_metric(s)).tolist() for s in status_keys}
    status_seen = history.received("status")
    auth_keys = history.auth.keys if history.auth is not None else ()
    auth = {c: history.series(auth_code_metric(c)).tolist() for c in auth_keys}
    auth_seen = history.received("auth_code")
    out: list[MinuteRows] = []
    for i, stamp in enumerate(stamps):
        status_rows = ([{"timestamp": stamp, "status": s, "count": status[s][i]} for s in status_keys]
                       if status_seen[i] else [])
        auth_rows = ([{"timestamp": stamp, "auth_code": c, "count": auth[c][i]} for c in auth_keys]
                     if auth_seen[i] else [])
        out.append((history.start + i, status_rows, auth_rows))
    return out


def find_incidents(analysis: Analysis, advance: Callable[[int], None] | None = None) -> list[EngineIncident]:
    """The engine's incidents over the history, in the order they opened; ``advance(1)`` after each minute."""
    return replay_run(analysis.thresholds, history_rows(analysis), ticks=False, advance=advance).incidents


def last_minute(analysis: Analysis) -> int:
    """The history's last minute: where an incident still open at the end of the export ends."""
    return analysis.history.start + analysis.history.minutes - 1


def kind_words(kind: str) -> str:
    """``denial_spike`` -> ``denial spike``."""
    return kind.replace("_", " ")


def drivers_text(drivers: Sequence[Driver]) -> str:
    """``auth_code:59 85%, auth_code:51 15%`` (largest share first, as the engine lists them)."""
    return ", ".join(f"{d.metric} {d.share * 100:.0f}%" for d in drivers) or "-"


def named_code(drivers: Sequence[Driver]) -> str | None:
    """The driving auth code the engine's drivers name: '51', '59', 'both' (each >= ``BOTH_CODES_SHARE`` of
    the excess) or None (neither code among the drivers)."""
    shares = {code: sum(d.share for d in drivers if d.metric == auth_code_metric(code)) for code in DRIVING_CODES}
    if all(share >= BOTH_CODES_SHARE for share in shares.values()):
        return "both"
    best = max(DRIVING_CODES, key=lambda code: shares[code])
    return best if shares[best] > 0 else None
