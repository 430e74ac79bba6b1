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

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TextIO

from tqdm.contrib.logging import logging_redirect_tqdm

from analysis.loading import parse_minute
from analysis.progress import progress_for
from analysis.synthetic import SyntheticStream, generate
from analysis.synthetic_labels import LabelledData
from detection import Monitor, validate_records
from detection.background import BackgroundThread
from detection.metrics import AUTH_CODE_FEED, STATUS_FEED, minute_to_iso
from feeds.replay import ReplaySource
from feeds.scenarios import SCENARIOS, scenario_minutes

log = logging.getLogger("monitor.feed")

DEMO_SEED = 20250712
BACKFILL_MINUTES = 24 * 60
BACKFILL_INCIDENTS_PER_DAY = 4.0
DEMO_LABELLED_RATE = 125.0  # transactions a minute: the unlabelled stream's volume (DATA.md)
LABELLED_BACKFILL_MINUTES = 120  # with dimensions: the backfill's last two hours are labelled (a labelled
# day would take the demo a minute to ingest at start, and the breakdown panel shows the last hour)
REPLAY_PROGRESS_SECONDS = 300.0  # a line at least every 5 minutes of a long replay, besides every 10%


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
        # With dimensions configured the demo streams labelled minutes (acquirer, merchant, brand, region) at the
        # same volume as the unlabelled stream, so the global series look alike and the breakdown panel has slices.
        self.labelled = LabelledData(0, 1, seed, rate=DEMO_LABELLED_RATE, daily_cycle=False, incidents=[]) \
            if monitor.labels.enabled else None
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
        if not self.monitor.labels.enabled:
            # A labelled export replayed with thresholds that configure no dimensions: its global series are
            # the sums over labels, so the rows count there (the slices need a thresholds file's dimensions).
            statuses, codes = _unlabelled(statuses), _unlabelled(codes)
        with self.lock:
            batches = []
            # Labelled rows (the labelled demo, a labelled CSV replay) are checked as the API checks them.
            labels = self.monitor.labels if self.monitor.labels.enabled else None
            if statuses:
                batches.append(validate_records(statuses, STATUS_FEED, self._statuses, now=now, labels=labels))
            if codes:
                batches.append(validate_records(codes, AUTH_CODE_FEED, self._codes, now=now, labels=labels))
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
            status_rows, auth_rows = self.labelled.stream_minute(minute) if self.labelled is not None \
                else self.stream.minute(minute)
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
            labelled_from = end - LABELLED_BACKFILL_MINUTES + 1
            for stamp in sorted(set(status_by_minute) | set(auth_by_minute)):
                status_rows, auth_rows = status_by_minute[stamp], auth_by_minute[stamp]
                minute = (status_rows or auth_rows)[0]["timestamp"]
                if self.labelled is not None and parse_minute(minute) >= labelled_from:
                    # The last hours labelled, so the breakdown panel has slices from the start.
                    status_rows, auth_rows = self.labelled.stream_minute(parse_minute(minute))
                n, _ = self.post(status_rows, auth_rows, now=(end + 1) * 60.0)
                accepted += n
        log.info("demo: backfilled %d minutes (%d records, %d incidents)", minutes, accepted, len(data.incidents))
        return accepted


def _unlabelled(rows: list[dict]) -> list[dict]:
    if not any("labels" in row for row in rows):
        return rows
    if not _warned:
        _warned.append(True)
        log.warning("the replayed rows carry labels but the thresholds configure no dimensions: the labels are "
                    "left out (add a \"dimensions\" section, e.g. learned by python -m analysis, to see slices)")
    return [{k: v for k, v in row.items() if k != "labels"} for row in rows]


_warned: list[bool] = []  # the warning above, once per process


# ------------------------------------------------------------------ the thread

class FeedRunner(BackgroundThread):
    """A daemon thread posting one minute every ``60 / speed`` seconds (speed 0: as fast as possible).

    A replay reports its progress (a bar on a terminal, a log line every 10% or 5 minutes otherwise):
    ``replay: 1,440 of 4,320 minutes (33%), 60.0 min/min, 48 min left``.
    """

    def __init__(self, writer: FeedWriter, speed: float, replay: ReplaySource | None = None,
                 progress_stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__("monitor-feed")
        self.writer = writer
        self.pause = 0.0 if speed <= 0 else 60.0 / speed
        self.replay = replay
        self._progress_stream = progress_stream  # None: stderr, where the server logs
        self._clock = clock

    def run_until_stopped(self) -> None:
        try:
            if self.replay is not None:
                self._run_replay(self.replay)
                return
            while not self.stopped.wait(self.pause):
                self.writer.stream_next()
        except Exception:  # the feed stops, the monitor keeps serving; the log says why
            log.exception("feed stopped")

    def _run_replay(self, replay: ReplaySource) -> None:
        progress = progress_for("replay", len(replay.minutes), "minutes", log.info, self._progress_stream,
                                short="min", per="min", every_seconds=REPLAY_PROGRESS_SECONDS,
                                every_fraction=0.1, clock=self._clock)
        # On a terminal the bar stays below the server's log lines instead of being torn by them.
        with logging_redirect_tqdm() if progress.has_bar else nullcontext():
            for minute, status_rows, auth_rows in replay:
                self.writer.post(status_rows, auth_rows, now=max(self.writer.wall(), (minute + 1) * 60.0))
                progress.advance(1)
                if self.stopped.wait(self.pause):
                    progress.close()
                    return
            progress.finish()
        log.info("replay: all %s minutes posted", f"{len(replay.minutes):,}")
