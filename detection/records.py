"""Validation of incoming count records: the one gate every way in (REST, buttons, demo, replay) goes through.

A batch is all-or-nothing: ``validate_records`` either returns every record as a
``CountRecord`` or raises ``RecordValidationError`` listing what is wrong, by
record index and field, so a client can fix its request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from .metrics import AUTH_CODE_FEED, STATUS_FEED, auth_code_metric, minute_to_iso, status_metric
from .slices import LabelPolicy, LabelRefused, slice_feed, slice_metric

# The accepted time domain: from the Unix epoch (no export is older) up to a little after now.
EARLIEST_TIMESTAMP = "1970-01-01T00:00:00Z"
EARLIEST_MINUTE = 0
# A platform's clock may run a little ahead of ours; more than this is a bug upstream.
MAX_FUTURE_SECONDS = 300
MAX_TIMESTAMP_CHARS = 64  # the longest real form, '2025-07-12T13:45:00.123456+02:00', has 32
# Counts add up and cannot be taken back, so one record and one minute are bounded, far below
# 2**53: every count stays exact in JSON clients and in /metrics.
MAX_RECORD_COUNT = 1_000_000
MAX_MINUTE_COUNT = 10_000_000  # per metric and minute, all records together (checked by Monitor.ingest)
MAX_ERRORS_REPORTED = 20
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MINUTE = timedelta(minutes=1)


class CountRecord(NamedTuple):
    """One validated record: ``count`` transactions of ``metric`` in ``minute`` (epoch minutes, UTC)."""

    feed: str
    metric: str
    minute: int
    count: int  # type: ignore[assignment]  # a field named like tuple.count: the domain's word, read as .count


class RecordBatch(list["CountRecord"]):
    """Validated records whose slice records (labels) follow the records as sent, from ``sliced_from`` on."""

    sliced_from: int | None = None


@dataclass(frozen=True, slots=True)
class FieldError:
    index: int | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = []
        if self.index is not None:
            where.append(f"record {self.index}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class RecordValidationError(ValueError):
    """Raised when any record of a batch is invalid; nothing of the batch is ingested."""

    def __init__(self, errors: Sequence[FieldError], total_errors: int | None = None):
        self.errors = list(errors)
        self.total_errors = total_errors if total_errors is not None else len(self.errors)
        first = str(self.errors[0]) if self.errors else "invalid records"
        more = f" (and {self.total_errors - 1} more)" if self.total_errors > 1 else ""
        super().__init__(first + more)


def parse_timestamp(value: Any) -> int:
    """Return the epoch minute of a timestamp; raise ValueError with a readable reason.

    Accepts ``2025-07-12 13:45:00``, ISO 8601 with ``T``, a ``Z`` or a UTC
    offset, and epoch seconds as a number. A naive timestamp is UTC. Refuses
    times before 1970 (``EARLIEST_TIMESTAMP``); the upper bound depends on the
    wall clock and is checked by ``validate_records``.
    """
    minute = timestamp_minute(value)
    if minute < EARLIEST_MINUTE:
        raise ValueError(f"{shown(value)} is before {EARLIEST_TIMESTAMP}; {accepted_range()}")
    return minute


def timestamp_minute(value: Any) -> int:
    """The epoch minute of a timestamp in any accepted form, whatever its year (the CSV reader words the range itself)."""
    if isinstance(value, bool):
        raise ValueError("expected a timestamp such as '2025-07-12 13:45:00', got a boolean")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):  # (an int has no float, past 1e308)
            raise ValueError("expected a finite number of epoch seconds")
        minute = int(value // 60)
    elif not isinstance(value, str):
        raise ValueError(f"expected a timestamp string such as '2025-07-12 13:45:00', got {type(value).__name__}")
    elif len(value) > MAX_TIMESTAMP_CHARS:
        raise ValueError(f"is {len(value)} characters long; a timestamp has at most {MAX_TIMESTAMP_CHARS}")
    elif not value.isprintable():  # a NUL, say: fromisoformat() would ignore it and everything after it
        raise ValueError(f"{shown(value)} contains a control character (or another unprintable one); "
                         "send 'YYYY-MM-DD HH:MM:SS' or ISO 8601")
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"could not parse {value!r}; expected 'YYYY-MM-DD HH:MM:SS' or ISO 8601 such as '2025-07-12T13:45:00Z'"
            ) from None
        if moment.tzinfo is None:
            minute = (moment - _NAIVE_EPOCH) // _MINUTE  # naive means UTC
        else:
            minute = int(moment.timestamp() // 60)
    return minute


def accepted_range(latest_minute: int | None = None) -> str:
    """The accepted time domain in words, for error messages."""
    if latest_minute is None:
        return f"timestamps from {EARLIEST_TIMESTAMP} up to {MAX_FUTURE_SECONDS // 60} minutes after now are accepted"
    latest = minute_to_iso(latest_minute)
    return f"timestamps from {EARLIEST_TIMESTAMP} up to {latest} (now + {MAX_FUTURE_SECONDS // 60} minutes) are accepted"


def shown(value: Any, limit: int = 40) -> str:
    """A short, safe rendering of a client's value for a message: a long string or a container is not echoed whole."""
    if isinstance(value, (list, dict)):
        return f"an {'array' if isinstance(value, list) else 'object'}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"  # str() refuses huge ints
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@lru_cache(maxsize=64)
def _metric_names(feed: str, allowed: frozenset[str]) -> dict[str, str]:
    to_metric = status_metric if feed == STATUS_FEED else auth_code_metric
    return {key: to_metric(key) for key in allowed}


def validate_records(
    payload: Any,
    feed: str,
    allowed_keys: Iterable[str],
    now: float | None = None,
    labels: LabelPolicy | None = None,
) -> list[CountRecord]:
    """Validate one record (a dict) or a list of records of one feed.

    ``feed`` is ``status`` or ``auth_code``; ``allowed_keys`` are the statuses or
    codes the configuration knows. Raises ``RecordValidationError``.

    A record's ``labels`` (checked against ``labels``, the dimensions configured) add one record per slice
    it counts in, named ``<metric>@<slice>`` with the feed ``<feed>@<slice>`` (detection/slices.py), after
    all the records as sent; caps on values are applied later, by the Monitor (``LabelPolicy.fold``).
    """
    if feed not in (STATUS_FEED, AUTH_CODE_FEED):
        raise ValueError(f"unknown feed {feed!r}")
    key_field = "status" if feed == STATUS_FEED else "auth_code"
    allowed = allowed_keys if isinstance(allowed_keys, frozenset) else frozenset(allowed_keys)
    metric_of = _metric_names(feed, allowed)

    if isinstance(payload, dict):
        items: list[Any] = [payload]
        single = True
    elif isinstance(payload, list):
        items = payload
        single = False
    else:
        raise RecordValidationError([FieldError(None, None, "expected a JSON object or an array of objects")])
    if not items:
        raise RecordValidationError([FieldError(None, None, "the array is empty; send at least one record")])

    latest_minute = int(((time.time() if now is None else now) + MAX_FUTURE_SECONDS) // 60)
    minute_cache: dict[Any, int] = {}  # a batch repeats each timestamp once per status
    records: list[CountRecord] = []
    errors: list[FieldError] = []
    error_count = 0

    def fail(index: int, field: str | None, message: str) -> None:
        nonlocal error_count
        error_count += 1
        if len(errors) < MAX_ERRORS_REPORTED:
            errors.append(FieldError(None if single else index, field, message))

    append = records.append
    make = tuple.__new__
    sliced: list[CountRecord] = []
    add_sliced = sliced.append
    # (metric, slice key) -> the slice's feed and metric names: a batch repeats each once per minute.
    named: dict[tuple[str, str], tuple[str, str]] = {}

    def add_slices(index: int, metric: str, minute: int, count: int, given: Any) -> None:
        if given is None:
            return
        if labels is None:
            fail(index, "labels", "this monitor has no dimensions configured; send records without labels")
            return
        try:
            keys = labels.slice_keys(given)
        except LabelRefused as exc:
            fail(index, exc.field, str(exc))
            return
        for key in keys:
            names = named.get((metric, key))
            if names is None:
                names = named[(metric, key)] = (slice_feed(feed, key), slice_metric(metric, key))
            add_sliced(make(CountRecord, (names[0], names[1], minute, count)))

    for index, item in enumerate(items):
        # Fast path for a well-formed record; anything odd falls through to the checks below.
        try:
            raw_ts = item["timestamp"]
            metric = metric_of.get(item[key_field])
            count = item["count"]
            minute = minute_cache.get(raw_ts)
        except (KeyError, TypeError):
            raw_ts = minute = metric = count = None
        if minute is None and type(raw_ts) is str:
            try:
                minute = parse_timestamp(raw_ts)
            except ValueError:
                minute = None
            else:
                if minute <= latest_minute:
                    minute_cache[raw_ts] = minute
                else:
                    minute = None
        if minute is not None and metric is not None and type(count) is int and 0 <= count <= MAX_RECORD_COUNT:
            append(make(CountRecord, (feed, metric, minute, count)))
            if "labels" in item:
                add_slices(index, metric, minute, count, item["labels"])
            continue
        if not isinstance(item, dict):
            fail(index, None, f"expected an object with timestamp, {key_field} and count, got {type(item).__name__}")
            continue
        ok = True
        raw_ts = item.get("timestamp")
        minute = minute_cache.get(raw_ts) if isinstance(raw_ts, str) else None
        if minute is None:
            if raw_ts is None:
                fail(index, "timestamp", "is required")
                ok = False
            else:
                try:
                    minute = parse_timestamp(raw_ts)
                except ValueError as exc:
                    fail(index, "timestamp", str(exc))
                    ok = False
                else:
                    if minute > latest_minute:
                        fail(index, "timestamp", f"{shown(raw_ts)} is more than {MAX_FUTURE_SECONDS // 60} minutes "
                                                 f"in the future; {accepted_range(latest_minute)}")
                        ok = False
                    elif isinstance(raw_ts, str):
                        minute_cache[raw_ts] = minute

        key = item.get(key_field)
        metric = metric_of.get(key) if isinstance(key, str) else None
        if metric is None:
            ok = False
            if key is None:
                fail(index, key_field, "is required")
            elif not isinstance(key, str):
                fail(index, key_field, f"must be a string such as {sorted(allowed)[0]!r}, got {type(key).__name__} {shown(key)}")
            else:
                fail(index, key_field, f"unknown {key_field} {shown(key)}; expected one of {', '.join(sorted(allowed))}")

        count = item.get("count")
        if type(count) is not int:
            ok = False
            if count is None:
                fail(index, "count", "is required")
            else:
                fail(index, "count", f"must be a non-negative integer, got {shown(count)}")
        elif count < 0:
            ok = False
            fail(index, "count", f"must be a non-negative integer, got {shown(count)}")
        elif count > MAX_RECORD_COUNT:
            ok = False
            fail(index, "count", f"must be at most {MAX_RECORD_COUNT:,} in one record, got {shown(count)}")

        if ok:
            append(CountRecord(feed, metric, minute, count))  # type: ignore[arg-type]
            add_slices(index, metric, minute, count, item.get("labels"))  # type: ignore[arg-type]

    if error_count:
        raise RecordValidationError(errors, error_count)
    if sliced:
        batch = RecordBatch(records)
        batch.sliced_from = len(records)  # the Monitor splits global and slice records without a scan
        batch += sliced
        return batch
    return records
