"""Admission of counted records into the engine's memory: none older than the window, no minute past the ceiling.

Counts add up and cannot be taken back, so a batch is checked before anything of
it is kept: a record more than the memory window behind the newest event is
refused (every minute that can still change is in memory, where its count is
exact), and so is one that would take a minute's count of a metric past
``MAX_MINUTE_COUNT`` (so every count and every total stays an exact integer in
any JSON client and in ``/metrics``).
"""

from __future__ import annotations

from operator import itemgetter

from .metrics import minute_to_iso
from .records import MAX_ERRORS_REPORTED, MAX_MINUTE_COUNT, CountRecord, FieldError, RecordValidationError
from .series import MinuteSeries

_MINUTE_OF = itemgetter(2)  # of a CountRecord
_COUNT_OF = itemgetter(3)


class Admission:
    """Checks batches against one ``MinuteSeries``; the Monitor calls it under its lock, before it adds them."""

    def __init__(self, series: MinuteSeries, window_minutes: int):
        self._series = series
        self._window = window_minutes
        self._peak = 0  # at least the highest count of any metric in any minute held

    def measure(self) -> None:
        """Take the held peak from the series itself (after it was loaded from the store)."""
        self._peak = max((max(per_minute.values(), default=0) for per_minute in self._series.counts.values()),
                         default=0)

    def check(self, records: list[CountRecord], keep_from: int) -> None:
        """Raise ``RecordValidationError`` (nothing changed) for a record older than ``keep_from``, or one that
        would take a minute's count of a metric past ``MAX_MINUTE_COUNT``.

        The common case is two C-level passes: no record is too old, and the batch's total
        cannot lift even the highest count held past the ceiling. The peak is an upper bound,
        kept by adding each batch's total and measured again only when it comes near the ceiling.
        """
        in_window = min(map(_MINUTE_OF, records)) >= keep_from
        batch_total = sum(map(_COUNT_OF, records))
        if in_window and self._peak + batch_total > MAX_MINUTE_COUNT:
            self.measure()
        if in_window and self._peak + batch_total <= MAX_MINUTE_COUNT:
            self._peak += batch_total
            return
        held = self._series.counts
        window = self._window
        window_text = f"{window // 1440} days" if window % 1440 == 0 else f"{window} minutes"
        totals: dict[tuple[str, int], int] = {}
        errors: list[FieldError] = []
        for index, (_feed, metric, minute, count) in enumerate(records):
            if minute < keep_from:
                errors.append(FieldError(index, "timestamp", (
                    f"{minute_to_iso(minute)} is more than {window_text} older than the newest event "
                    f"({minute_to_iso(keep_from + window - 1)}); minutes from {minute_to_iso(keep_from)} on are accepted "
                    "(MONITOR_WINDOW_DAYS)")))
                continue
            key = (metric, minute)
            total = totals.get(key)
            if total is None:
                per_minute = held.get(metric)
                total = per_minute.get(minute, 0) if per_minute else 0
            total += count
            if total > MAX_MINUTE_COUNT:
                errors.append(FieldError(index, "count", (
                    f"would bring {metric} at {minute_to_iso(minute)} to {total:,}; a minute holds at most "
                    f"{MAX_MINUTE_COUNT:,} per metric")))
                continue
            totals[key] = total
        if errors:
            raise RecordValidationError(errors[:MAX_ERRORS_REPORTED], len(errors))
        self._peak = max(self._peak, *totals.values())
