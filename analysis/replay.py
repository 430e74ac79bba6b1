"""Replay minute rows through the real engine as if they arrived live, and collect the alert episodes
and the incidents the engine grouped them into (its own ``IncidentTracker``: analysis never groups by itself).

Each minute's rows go through ``validate_records`` and ``Monitor.ingest`` at the end of that
minute (wall clock = minute end + 5 s), then the wall clock moves on 30 s and ``Monitor.tick``
closes the minute, as the live ticker does. Feed outages therefore raise the engine's own
``no_data`` alert (wall clock) and ``feed_gap`` alert (when data resumes).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from detection import FIRING, RESOLVED, CountRecord, Monitor, MonitorSettings, Store, Thresholds, validate_records
from detection.alerts import Transition
from detection.incidents import Incident, IncidentTransition
from detection.slices import LabelPolicy

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
    incident_id: str | None = None  # the engine's incident this alert joined when it fired

    @property
    def fired_minute(self) -> int:
        """The wall-clock minute in which people were told."""
        return int(self.fired_wall // 60)


@dataclass
class EngineIncident:
    """One incident exactly as the engine grouped and named it, and when it opened (its first member fired)."""

    incident: Incident  # the engine's final copy: kind, drivers, title, summary, started_at, resolved_at
    opened_wall: float  # wall-clock seconds when the engine opened it

    @property
    def id(self) -> str:
        return self.incident.id

    @property
    def kind(self) -> str:
        return self.incident.kind

    @property
    def opened_minute(self) -> int:
        """The wall-clock minute in which people were paged."""
        return int(self.opened_wall // 60)

    def end(self, last_minute: int) -> int:
        """Its last minute (inclusive), as the engine's figures span it: the last minute any member breached
        (neither the members' clean minutes before resolving nor the quiet period); still open: ``last_minute``."""
        if self.incident.is_open:
            return last_minute
        ends = [m["last_breach_minute"] for m in self.incident.details.get("members", [])]
        return max([self.incident.started_at, *ends])


@dataclass
class Replayed:
    """What a replay saw: every fired alert episode and every incident, in the order they fired/opened."""

    episodes: list[Episode]
    incidents: list[EngineIncident]


class _ReplayClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


MinuteRows = tuple[int, Sequence[dict], Sequence[dict]]
MinuteRecords = tuple[int, list[CountRecord]]


def validate_minutes(minutes: Iterable[MinuteRows], statuses: Sequence[str],
                     codes: Sequence[str], labels: LabelPolicy | None = None) -> list[MinuteRecords]:
    """Each minute's rows through ``validate_records`` (the one way in), done once for many replays.
    ``labels``: the dimensions rows' ``labels`` may name (the thresholds' ``label_policy``); None: no labels."""
    out: list[MinuteRecords] = []
    for minute, status_rows, auth_rows in minutes:
        now = (minute + 1) * 60 + ARRIVAL_SECONDS
        records: list[CountRecord] = []
        if status_rows:
            records += validate_records(list(status_rows), "status", statuses, now=now, labels=labels)
        if auth_rows:
            records += validate_records(list(auth_rows), "auth_code", codes, now=now, labels=labels)
        out.append((minute, records))
    return out


def replay(thresholds: Thresholds, minutes: Iterable[MinuteRows] | list[MinuteRecords],
           ticks: bool = True, advance: Callable[[int], None] | None = None) -> list[Episode]:
    """Every episode that fired (``replay_run`` also gives the engine's incidents)."""
    return replay_run(thresholds, minutes, ticks, advance).episodes


def replay_run(thresholds: Thresholds, minutes: Iterable[MinuteRows] | list[MinuteRecords],
               ticks: bool = True, advance: Callable[[int], None] | None = None,
               store: Store | None = None) -> Replayed:
    """Feed ``(minute, status_rows, auth_rows)`` (or validated ``(minute, records)``) in order.

    Returns every episode that fired and the Monitor's own incidents. ``store``: where the Monitor
    writes (default in memory; a file keeps what it stored, to compare). ``ticks=False`` skips the wall-clock ticks: minutes are then
    closed by the next minute's data and outages show only as feed gaps, which is enough to find
    incidents in history and twice as fast. ``advance(1)`` is called after each minute (progress).
    """
    clock = _ReplayClock()
    monitor = Monitor(thresholds, store if store is not None else Store(":memory:"), MonitorSettings(window_minutes=24 * 60,
                                                                     retention_minutes=24 * 60), clock=clock)
    episodes: dict[str, Episode] = {}
    incidents: dict[str, EngineIncident] = {}

    def on_transitions(transitions: Sequence[Transition]) -> None:
        for transition in transitions:
            alert = transition.alert
            if transition.kind == FIRING and alert.id not in episodes:
                episodes[alert.id] = Episode(alert.id, alert.rule, alert.rule_type, alert.metric, alert.severity,
                                             alert.started_at, clock.now, value=alert.value, message=alert.message,
                                             incident_id=alert.incident_id)
            elif transition.kind == RESOLVED and alert.id in episodes:
                episodes[alert.id].resolved_at = alert.resolved_at
                episodes[alert.id].value = alert.value
                episodes[alert.id].message = alert.message

    def on_incidents(transitions: Sequence[IncidentTransition]) -> None:
        for transition in transitions:
            seen = incidents.get(transition.incident.id)
            if seen is None:
                # An incident's first transition is its opening, handed over in the call its first member fired.
                incidents[transition.incident.id] = EngineIncident(transition.incident, clock.now)
            else:
                seen.incident = transition.incident  # each transition carries the newest copy

    monitor.add_listener(on_transitions)
    monitor.add_incident_listener(on_incidents)
    # Taken one minute at a time (a generator of days of labelled rows need not be held in memory at once).
    iterator = iter(minutes)
    first = next(iterator, None)
    minute_list = itertools.chain([first], iterator) if first is not None else iter(())
    records: Iterable[MinuteRecords] = minute_list  # type: ignore[assignment]
    if first is not None and len(first) == 3:
        # validated minute by minute as they are fed, so progress counts the validation too
        policy = label_policy(thresholds)
        records = (validate_minutes([rows], thresholds.statuses, thresholds.auth_codes, policy)[0]  # type: ignore[list-item]
                   for rows in minute_list)
    with quiet_console():
        _feed(monitor, clock, records, ticks, advance)
    # Incidents still open at the end: the tracker's copies are described up to the newest minute.
    for incident in monitor.incident_tracker.open_incidents():
        if incident.id in incidents:
            incidents[incident.id].incident = incident
    return Replayed(sorted(episodes.values(), key=lambda e: (e.fired_wall, e.rule)),
                    sorted(incidents.values(), key=lambda i: (i.opened_wall, i.incident.started_at, i.id)))


def label_policy(thresholds: Thresholds) -> LabelPolicy | None:
    """The dimensions records may carry under ``thresholds`` (None when it configures none: labels refused)."""
    return LabelPolicy(thresholds.dimensions, thresholds.dimension_pairs) if thresholds.dimensions else None


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


def _feed(monitor: Monitor, clock: _ReplayClock, minutes: Iterable[MinuteRecords], ticks: bool,
          advance: Callable[[int], None] | None) -> None:
    for minute, records in minutes:
        clock.now = (minute + 1) * 60 + ARRIVAL_SECONDS
        if records:
            monitor.ingest(records)
        if ticks:
            clock.now = (minute + 1) * 60 + TICK_SECONDS
            monitor.tick()
        if advance is not None:
            advance(1)


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
