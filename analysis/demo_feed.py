"""Demo and replay feeds, and the one writer they share with the dashboard's simulate buttons.

Every minute they produce goes through ``validate_records`` and ``Monitor.ingest``,
exactly as a POST to the REST API does. ``FeedWriter`` serialises those writers,
so a simulated incident and the demo stream never post the same minute twice:
the stream always continues after the newest minute the engine has.

Event time in demo and replay runs faster than the wall clock (``speed``), so
the future-timestamp guard is measured from the feed's own event clock: the
later of the wall clock and the end of the newest minute received.
"""

from __future__ import annotations

import csv
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from analysis.scenarios import SCENARIOS, scenario_minutes
from analysis.synthetic import SyntheticStream, generate
from detection import Monitor, validate_records
from detection.background import BackgroundThread
from detection.metrics import AUTH_CODE_FEED, STATUS_FEED, minute_to_iso
from detection.records import parse_timestamp

log = logging.getLogger("monitor.feed")

DEMO_SEED = 20250712
BACKFILL_MINUTES = 24 * 60
BACKFILL_INCIDENTS_PER_DAY = 4.0


class ReplayError(ValueError):
    """A replay CSV cannot be read; the message names the file, the line and what was expected."""


@dataclass(frozen=True)
class SimulationResult:
    scenario: str
    first_minute: int
    last_minute: int
    accepted: int
    alerts: list[dict]

    def summary(self) -> str:
        span = minute_to_iso(self.first_minute) or ""
        if self.last_minute != self.first_minute:
            span += f" to {minute_to_iso(self.last_minute)}"
        changed = ", ".join(f"{a['metric_label']} {a['state']}" for a in self.alerts) or "no alert change yet"
        return f"{SCENARIOS[self.scenario].label}: posted {self.accepted} records for {span}; {changed}"


class FeedWriter:
    """Posts synthetic or replayed minutes into a Monitor through the ingestion gate, one writer at a time."""

    def __init__(self, monitor: Monitor, clock: Callable[[], float] | None = None, seed: int = DEMO_SEED):
        self.monitor = monitor
        # By default the Monitor's own wall clock (tests hand the Monitor a fake one).
        self._clock = clock if clock is not None else (lambda: monitor.started_wall + monitor.uptime_seconds())
        self.lock = threading.RLock()
        self.stream = SyntheticStream(0, seed, daily_cycle=False)
        self._statuses = monitor.thresholds.statuses
        self._codes = monitor.thresholds.auth_codes

    def wall(self) -> float:
        return self._clock()

    def event_clock(self) -> float:
        """The later of the wall clock and the end of the newest minute the engine has."""
        newest = self.monitor.newest_event_minute()
        wall = self._clock()
        return wall if newest is None else max(wall, (newest + 1) * 60.0)

    def next_minute(self) -> int:
        """The minute after the newest one received; the current wall minute before any data."""
        newest = self.monitor.newest_event_minute()
        return int(self._clock() // 60) if newest is None else newest + 1

    def post(self, status_rows: list[dict], auth_rows: list[dict], now: float | None = None) -> tuple[int, list[dict]]:
        """Validate both feeds' rows first (all or nothing), then ingest them; returns (accepted, alert changes)."""
        now = self.event_clock() if now is None else now
        statuses = [r for r in status_rows if r["status"] in self._statuses]
        codes = [r for r in auth_rows if r["auth_code"] in self._codes]
        with self.lock:
            batches = []
            if statuses:
                batches.append(validate_records(statuses, STATUS_FEED, self._statuses, now=now))
            if codes:
                batches.append(validate_records(codes, AUTH_CODE_FEED, self._codes, now=now))
            accepted, alerts = 0, []
            for records in batches:
                result = self.monitor.ingest(records)
                accepted += result.accepted
                alerts += result.alerts
        return accepted, alerts

    def simulate(self, scenario: str) -> SimulationResult:
        """Post a scenario's minutes right after the newest minute; the demo stream then continues after them."""
        with self.lock:
            first = self.next_minute()
            now = self.event_clock()
            minutes = scenario_minutes(scenario, first, self.stream, self.monitor.thresholds.rules,
                                       self._statuses, self._codes)
            accepted, alerts = 0, []
            for rows in minutes:
                n, changed = self.post(rows.status_rows, rows.auth_rows, now=now)
                accepted += n
                alerts += changed
        return SimulationResult(scenario, minutes[0].minute, minutes[-1].minute, accepted, alerts)

    def stream_next(self) -> int:
        """Post the next live synthetic minute (the demo); returns that minute."""
        with self.lock:
            minute = self.next_minute()
            status_rows, auth_rows = self.stream.minute(minute)
            self.post(status_rows, auth_rows, now=(minute + 1) * 60.0)
        return minute

    def backfill(self, minutes: int = BACKFILL_MINUTES, seed: int = DEMO_SEED) -> int:
        """Synthetic history with a few past incidents, ending at the current minute; skipped if data exists."""
        with self.lock:
            if self.monitor.newest_event_minute() is not None:
                return 0
            end = int(self._clock() // 60)
            data = generate(end - minutes + 1, minutes, seed, daily_cycle=False,
                            incidents_per_day=BACKFILL_INCIDENTS_PER_DAY)
            status_by_minute: dict[str, list[dict]] = defaultdict(list)
            auth_by_minute: dict[str, list[dict]] = defaultdict(list)
            for row in data.status_rows:
                status_by_minute[row["timestamp"]].append(row)
            for row in data.auth_rows:
                auth_by_minute[row["timestamp"]].append(row)
            # Minute by minute, as a live feed would have sent them (an outage's minutes are simply absent).
            accepted = 0
            for stamp in sorted(set(status_by_minute) | set(auth_by_minute)):
                n, _ = self.post(status_by_minute[stamp], auth_by_minute[stamp], now=(end + 1) * 60.0)
                accepted += n
        log.info("demo: backfilled %d minutes (%d records, %d incidents)", minutes, accepted, len(data.incidents))
        return accepted


# ------------------------------------------------------------------ replay

def read_export(path: str | Path, key_field: str, allowed: tuple[str, ...]) -> dict[int, list[dict]]:
    """Rows of a users' CSV export grouped by minute, each checked; errors name the file and line."""
    file = Path(path)
    try:
        handle = file.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ReplayError(f"{file}: cannot open ({exc.strerror})") from None
    by_minute: dict[int, list[dict]] = defaultdict(list)
    with handle:
        reader = csv.DictReader(handle)
        expected = ("timestamp", key_field, "count")
        if reader.fieldnames is None or any(col not in reader.fieldnames for col in expected):
            raise ReplayError(f"{file}, line 1: expected the header {','.join(expected)}, got {','.join(reader.fieldnames or [])!r}")
        allowed_set = set(allowed)
        for row in reader:
            line = reader.line_num
            try:
                minute = parse_timestamp(row["timestamp"])
            except ValueError as exc:
                raise ReplayError(f"{file}, line {line}: timestamp {exc}") from None
            key = (row[key_field] or "").strip()
            if key not in allowed_set:
                raise ReplayError(f"{file}, line {line}: unknown {key_field} {key!r}; expected one of {', '.join(allowed)}")
            raw = (row["count"] or "").strip()
            if not raw.isdigit():
                raise ReplayError(f"{file}, line {line}: count must be a non-negative integer, got {raw!r}")
            stamp = minute_to_iso(minute)
            by_minute[minute].append({"timestamp": stamp, key_field: key, "count": int(raw)})
    if not by_minute:
        raise ReplayError(f"{file}: no data rows after the header")
    return by_minute


class ReplaySource:
    """The users' exports in minute order, for ``python app.py --replay transactions.csv [--auth-codes CSV]``."""

    def __init__(self, transactions: str | Path, auth_codes: str | Path | None, statuses: tuple[str, ...], codes: tuple[str, ...]):
        self.status_by_minute = read_export(transactions, "status", statuses)
        self.auth_by_minute = read_export(auth_codes, "auth_code", codes) if auth_codes else {}
        self.minutes = sorted(set(self.status_by_minute) | set(self.auth_by_minute))

    def __iter__(self) -> Iterator[tuple[int, list[dict], list[dict]]]:
        for minute in self.minutes:
            yield minute, self.status_by_minute.get(minute, []), self.auth_by_minute.get(minute, [])


# ------------------------------------------------------------------ the thread

class FeedRunner(BackgroundThread):
    """A daemon thread posting one minute every ``60 / speed`` seconds (speed 0: as fast as possible)."""

    def __init__(self, writer: FeedWriter, speed: float, replay: ReplaySource | None = None):
        super().__init__("monitor-feed")
        self.writer = writer
        self.pause = 0.0 if speed <= 0 else 60.0 / speed
        self.replay = replay

    def run_until_stopped(self) -> None:
        try:
            if self.replay is not None:
                for minute, status_rows, auth_rows in self.replay:
                    self.writer.post(status_rows, auth_rows, now=max(self.writer.wall(), (minute + 1) * 60.0))
                    if self.stopped.wait(self.pause):
                        return
                log.info("replay: all %d minutes posted", len(self.replay.minutes))
                return
            while not self.stopped.wait(self.pause):
                self.writer.stream_next()
        except Exception:  # the feed stops, the monitor keeps serving; the log says why
            log.exception("feed stopped")
