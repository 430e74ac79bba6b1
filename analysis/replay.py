"""Replay minute rows through the real engine as if they arrived live, and collect the alert episodes.

Each minute's rows go through ``validate_records`` and ``Monitor.ingest`` at the end of that
minute (wall clock = minute end + 5 s), then the wall clock moves on 30 s and ``Monitor.tick``
closes the minute, as the live ticker does. Feed outages therefore raise the engine's own
``no_data`` alert (wall clock) and ``feed_gap`` alert (when data resumes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from detection import FIRING, RESOLVED, CountRecord, Monitor, MonitorSettings, Store, Thresholds, validate_records
from detection.alerts import Transition

ARRIVAL_SECONDS = 5  # a platform posts a minute's counts a few seconds after it ends
TICK_SECONDS = 35  # the ticker closes it after the engine's 30 s grace


@dataclass
class Episode:
    """One fired alert episode as the replay saw it."""

    alert_id: str
    rule: str
    rule_type: str
    metric: str
    severity: str
    started_at: int  # event minute of the first breaching minute
    fired_wall: float  # wall-clock seconds when it fired
    resolved_at: int | None = None
    value: float = 0.0
    message: str = ""

    @property
    def fired_minute(self) -> int:
        """The wall-clock minute in which people were told."""
        return int(self.fired_wall // 60)


class _ReplayClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


MinuteRows = tuple[int, Sequence[dict], Sequence[dict]]
MinuteRecords = tuple[int, list[CountRecord]]


def validate_minutes(minutes: Iterable[MinuteRows], statuses: Sequence[str],
                     codes: Sequence[str]) -> list[MinuteRecords]:
    """Each minute's rows through ``validate_records`` (the one way in), done once for many replays."""
    out: list[MinuteRecords] = []
    for minute, status_rows, auth_rows in minutes:
        now = (minute + 1) * 60 + ARRIVAL_SECONDS
        records: list[CountRecord] = []
        if status_rows:
            records += validate_records(list(status_rows), "status", statuses, now=now)
        if auth_rows:
            records += validate_records(list(auth_rows), "auth_code", codes, now=now)
        out.append((minute, records))
    return out


def replay(thresholds: Thresholds, minutes: Iterable[MinuteRows] | list[MinuteRecords],
           ticks: bool = True) -> list[Episode]:
    """Feed ``(minute, status_rows, auth_rows)`` (or validated ``(minute, records)``) in order.

    Returns every episode that fired. ``ticks=False`` skips the wall-clock ticks: minutes are then
    closed by the next minute's data and outages show only as feed gaps, which is enough to find
    incidents in history and twice as fast.
    """
    clock = _ReplayClock()
    monitor = Monitor(thresholds, Store(":memory:"), MonitorSettings(window_minutes=24 * 60,
                                                                     retention_minutes=24 * 60), clock=clock)
    episodes: dict[str, Episode] = {}

    def on_transitions(transitions: Sequence[Transition]) -> None:
        for transition in transitions:
            alert = transition.alert
            if transition.kind == FIRING and alert.id not in episodes:
                episodes[alert.id] = Episode(alert.id, alert.rule, alert.rule_type, alert.metric, alert.severity,
                                             alert.started_at, clock.now, value=alert.value, message=alert.message)
            elif transition.kind == RESOLVED and alert.id in episodes:
                episodes[alert.id].resolved_at = alert.resolved_at
                episodes[alert.id].value = alert.value
                episodes[alert.id].message = alert.message

    monitor.add_listener(on_transitions)
    minute_list = list(minutes)
    records: list[MinuteRecords]
    if minute_list and len(minute_list[0]) == 3:
        records = validate_minutes(minute_list, thresholds.statuses, thresholds.auth_codes)  # type: ignore[arg-type]
    else:
        records = minute_list  # type: ignore[assignment]
    with quiet_console():
        _feed(monitor, clock, records, ticks)
    return sorted(episodes.values(), key=lambda e: (e.fired_wall, e.rule))


@contextmanager
def quiet_console() -> Iterator[None]:
    """The engine logs every firing alert (its console channel); a replay of days would flood it."""
    logger = logging.getLogger("monitor.alerts")
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was


def _feed(monitor: Monitor, clock: _ReplayClock, minutes: list[MinuteRecords], ticks: bool) -> None:
    for minute, records in minutes:
        clock.now = (minute + 1) * 60 + ARRIVAL_SECONDS
        if records:
            monitor.ingest(records)
        if ticks:
            clock.now = (minute + 1) * 60 + TICK_SECONDS
            monitor.tick()


def rows_by_minute(status_rows: Sequence[dict], auth_rows: Sequence[dict], start: int, minutes: int,
                   minute_of: dict[str, int] | None = None) -> list[MinuteRows]:
    """Group export rows by minute for ``replay``; minutes with no rows stay in, empty (an outage)."""
    from analysis.loading import parse_minute

    cache = minute_of if minute_of is not None else {}
    grouped: dict[int, tuple[list[dict], list[dict]]] = {m: ([], []) for m in range(start, start + minutes)}
    for index, rows in ((0, status_rows), (1, auth_rows)):
        for row in rows:
            stamp = row["timestamp"]
            minute = cache.get(stamp)
            if minute is None:
                minute = cache[stamp] = parse_minute(stamp)
            bucket = grouped.get(minute)
            if bucket is not None:
                bucket[index].append(row)
    return [(m, s, a) for m, (s, a) in sorted(grouped.items())]
