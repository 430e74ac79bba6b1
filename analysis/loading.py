"""Read the users' exports (transactions.csv, transactions_auth_codes.csv) exactly as DATA.md describes.

Accepts both timestamp styles (``2025-07-12 13:45:00`` and ISO 8601 with ``T``, ``Z`` or a UTC
offset), auth codes as strings ("00" stays "00"), zero rows omitted or present, and rows in any
order. Anything else stops with one ``LoadError`` naming the file, the line and what was expected.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from detection.metrics import DEFAULT_AUTH_CODES, DEFAULT_STATUSES, minute_to_iso

EXTRA_FLAG = {"status": "--statuses", "auth_code": "--auth-code-list"}
TIMESTAMP_HINT = "a timestamp such as '2025-07-12 13:45:00' or '2025-07-12T13:45:00Z'"


class LoadError(ValueError):
    """A user's file is not as expected; the message names the file, the line and the problem."""


@dataclass
class Feed:
    """One export as dense arrays: ``counts[key][i]`` is the count at minute ``start + i``."""

    path: str
    key_field: str  # "status" or "auth_code"
    keys: tuple[str, ...]
    start: int
    counts: dict[str, np.ndarray]
    received: np.ndarray  # bool per minute: did the export have any row for it
    rows: int

    @property
    def minutes(self) -> int:
        return len(self.received)


@dataclass
class History:
    """Both exports on one minute axis (``start`` .. ``start + minutes - 1``)."""

    status: Feed
    auth: Feed | None
    start: int
    minutes: int
    sources: list[str] = field(default_factory=list)

    def series(self, metric: str) -> np.ndarray:
        kind, _, key = metric.partition(":")
        feed = self.status if kind == "status" else self.auth
        if feed is None or key not in feed.counts:
            raise KeyError(metric)
        return self._align(feed, feed.counts[key])

    def status_total(self) -> np.ndarray:
        return sum(self.series(f"status:{s}") for s in self.status.keys)  # type: ignore[return-value]

    def received(self, feed_name: str) -> np.ndarray:
        feed = self.status if feed_name == "status" else self.auth
        if feed is None:
            return np.zeros(self.minutes, dtype=bool)
        return self._align(feed, feed.received)

    def _align(self, feed: Feed, values: np.ndarray) -> np.ndarray:
        if feed.start == self.start and feed.minutes == self.minutes:
            return values
        out = np.zeros(self.minutes, dtype=values.dtype)
        offset = feed.start - self.start
        out[offset:offset + feed.minutes] = values
        return out

    def time_range(self) -> tuple[str | None, str | None]:
        return minute_to_iso(self.start), minute_to_iso(self.start + self.minutes - 1)


def parse_minute(text: str) -> int:
    """Epoch minute of a timestamp in either export style; naive means UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 60)


def read_feed(path: str | Path, key_field: str, keys: Sequence[str], until: int | None = None) -> Feed:
    """Read one export. ``until`` (epoch minute) keeps only rows up to and including it."""
    path = Path(path)
    name = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise LoadError(f"{name}: file not found") from None
    except OSError as exc:
        raise LoadError(f"{name}: cannot read ({exc.strerror})") from None
    columns = ("timestamp", key_field, "count")
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise LoadError(f"{name}: the file is empty; expected a header line '{','.join(columns)}' and rows")
            cells = _parse(name, header, ((reader.line_num, row) for row in reader), key_field, keys, until)
        except csv.Error as exc:
            raise LoadError(f"{name}, line {reader.line_num}: not valid CSV ({exc})") from None
        except UnicodeDecodeError:
            raise LoadError(f"{name}: not a UTF-8 text file; expected a CSV export") from None
    return _feed(name, key_field, keys, cells, until)


def feed_from_rows(name: str, rows: Iterable[dict], key_field: str, keys: Sequence[str],
                   until: int | None = None) -> Feed:
    """The same checks for rows already in memory (dicts in the CSV schema), e.g. synthetic data."""
    header = ["timestamp", key_field, "count"]
    numbered = ((index + 2, [str(row["timestamp"]), str(row[key_field]), str(row["count"])])
                for index, row in enumerate(rows))
    return _feed(name, key_field, keys, _parse(name, header, numbered, key_field, keys, until), until)


def _parse(name: str, header: list[str], rows: Iterable[tuple[int, list[str]]], key_field: str,
           keys: Sequence[str], until: int | None) -> dict[tuple[int, str], tuple[int, int]]:
    columns = ("timestamp", key_field, "count")
    allowed = set(keys)
    cells: dict[tuple[int, str], tuple[int, int]] = {}  # (minute, key) -> (count, line)
    minute_of: dict[str, int] = {}
    names = [cell.strip().lower() for cell in header]
    missing = [c for c in columns if c not in names]
    if missing:
        raise LoadError(f"{name}, line 1: missing column(s) {', '.join(missing)}; "
                        f"expected a header with {', '.join(columns)}, got {','.join(header)!r}")
    ts_col, key_col, count_col = (names.index(c) for c in columns)
    width = max(ts_col, key_col, count_col) + 1
    for line, row in rows:
        if not row or not any(cell.strip() for cell in row):
            continue  # blank lines (often a trailing one) carry nothing
        if len(row) < width:
            raise LoadError(f"{name}, line {line}: expected {len(names)} fields "
                            f"({','.join(columns)}), got {len(row)}: {','.join(row)!r}")
        stamp = row[ts_col].strip()
        minute = minute_of.get(stamp)
        if minute is None:
            try:
                minute = parse_minute(stamp)
            except ValueError:
                raise LoadError(f"{name}, line {line}: timestamp: expected {TIMESTAMP_HINT}, "
                                f"got {stamp!r}") from None
            minute_of[stamp] = minute
        key = row[key_col].strip()
        if key not in allowed:
            raise LoadError(f"{name}, line {line}: {key_field}: unknown {key_field} {key!r}; expected one of "
                            f"{', '.join(keys)} (list extra ones with {EXTRA_FLAG[key_field]})")
        text = row[count_col].strip()
        if not text.isdigit():
            what = "a negative number" if text.lstrip("-").isdigit() else repr(text)
            raise LoadError(f"{name}, line {line}: count: expected a non-negative integer, got {what}")
        if until is not None and minute > until:
            continue
        earlier = cells.get((minute, key))
        if earlier is not None:
            raise LoadError(f"{name}, line {line}: duplicate row for {stamp} {key_field} {key!r} "
                            f"(first on line {earlier[1]})")
        cells[(minute, key)] = (int(text), line)
    return cells


def _feed(name: str, key_field: str, keys: Sequence[str], cells: dict[tuple[int, str], tuple[int, int]],
          until: int | None) -> Feed:
    columns = ("timestamp", key_field, "count")
    if not cells:
        raise LoadError(f"{name}: no data rows" + (" up to --until" if until is not None else "")
                        + f"; expected rows of {','.join(columns)}")
    first = min(m for m, _ in cells)
    last = max(m for m, _ in cells)
    span = last - first + 1
    counts = {key: np.zeros(span, dtype=np.int64) for key in keys}
    received = np.zeros(span, dtype=bool)
    for (minute, key), (count, _) in cells.items():
        counts[key][minute - first] = count
        received[minute - first] = True
    return Feed(name, key_field, tuple(keys), first, counts, received, len(cells))


def load_history(transactions: str | Path, auth_codes: str | Path | None = None, *,
                 statuses: Sequence[str] = DEFAULT_STATUSES, codes: Sequence[str] = DEFAULT_AUTH_CODES,
                 until: str | None = None) -> History:
    """Load the exports onto one minute axis. ``until`` is a timestamp string; later rows are ignored."""
    until_minute = None
    if until is not None:
        try:
            until_minute = parse_minute(until)
        except ValueError:
            raise LoadError(f"--until: expected {TIMESTAMP_HINT}, got {until!r}") from None
    status = read_feed(transactions, "status", statuses, until_minute)
    auth = read_feed(auth_codes, "auth_code", codes, until_minute) if auth_codes is not None else None
    return _combine(status, auth)


def history_from_rows(status_rows: Iterable[dict], auth_rows: Iterable[dict] | None, *,
                      statuses: Sequence[str] = DEFAULT_STATUSES, codes: Sequence[str] = DEFAULT_AUTH_CODES,
                      until: int | None = None, name: str = "synthetic") -> History:
    """Like ``load_history`` for rows in memory; ``until`` is an epoch minute."""
    status = feed_from_rows(f"{name} transactions", status_rows, "status", statuses, until)
    auth = feed_from_rows(f"{name} auth codes", auth_rows, "auth_code", codes, until) if auth_rows is not None else None
    return _combine(status, auth)


def _combine(status: Feed, auth: Feed | None) -> History:
    start = status.start if auth is None else min(status.start, auth.start)
    end = status.start + status.minutes if auth is None else max(status.start + status.minutes,
                                                                 auth.start + auth.minutes)
    sources = [status.path] + ([auth.path] if auth else [])
    return History(status, auth, start, end - start, sources)
